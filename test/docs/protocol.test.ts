/**
 * docs/protocol.md is the protocol reference the code cites: every section, step, hostile behaviour
 * (H1-H26) and invariant (I1-I12) cited in code, tests, the schema, the README, the scenarios and
 * the other docs is a heading (or a numbered step) there, nothing cites the old out-of-repository
 * document, and the catalogue's entries agree with src/hostile/behaviours.ts.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BEHAVIOURS } from '../../src/hostile/behaviours.js';
import { citations, citationsIn, filesUnder, parseProtocolDoc, resolves, type Citation } from '../support/citations.js';

const root = process.cwd();
const DOC = 'docs/protocol.md';
const doc = parseProtocolDoc(readFileSync(join(root, DOC), 'utf8'));
const cited = (): string[] => [
  ...filesUnder(root, ['src', 'test', 'bench'], ['.ts']),
  'README.md', 'xennet.schema.json',
  ...filesUnder(root, ['scenarios'], ['.yaml', '.yml']),
  ...filesUnder(root, ['docs'], ['.md']).filter((f) => f !== DOC),
];
const refs = (cs: Citation[]) => cs.map((c) => c.ref);

describe('docs/protocol.md', function () {
  // Parses every TypeScript file of the repository (a few seconds on a loaded 2-core machine).
  this.timeout(60_000);

  it('reads citations in the forms the code uses, and not numbers that are not citations', () => {
    const c = (s: string) => refs(citationsIn(s, 'x', 1, true));
    expect(c('// One read of the producer (2.10, XSA-39).')).to.deep.equal(['2.10']);
    expect(c('/** talk_to_netback (2.9 step 3): grant */')).to.deep.equal(['2.9 step 3']);
    expect(c('// 3.5 steal_page: caller must own it')).to.deep.equal(['3.5']);
    expect(c('/* codes (4.3,\n * 4.4), the grant */')).to.deep.equal(['4.3', '4.4']);
    expect(c('/* xenstored (docs/protocol.md 2.8-2.9), as one actor */')).to.deep.equal(['2.8', '2.9']);
    expect(c('// ports, port 0 reserved (4.1, section 0).')).to.deep.equal(['4.1', '0']);
    expect(c('/* (docs/protocol.md\n * 2.8, 2.9; H3, H20; I5, I11) */')).to.deep.equal(['2.8', '2.9', 'H3', 'H20', 'I5', 'I11']);
    expect(c('// Xen 2.0 on a 2.4 GHz Xeon (default 0.2, 0.1), RFC 5681 3.1, I2C, H2O, 1.5x')).to.deep.equal([]);
  });

  it('has the sections, the 26 hostile behaviours and the 12 invariants', () => {
    for (const s of ['0', '1', '2', '3', '4', '5', '5.1', '5.2', '5.3', '5.4']) expect(doc.sections.has(s), `section ${s}`).to.equal(true);
    for (let i = 1; i <= 26; i++) expect(doc.entries.has(`H${i}`), `H${i}`).to.equal(true);
    for (let i = 1; i <= 12; i++) expect(doc.entries.has(`I${i}`), `I${i}`).to.equal(true);
    expect([...doc.entries].filter((e) => !/^(H([1-9]|1\d|2[0-6])|I([1-9]|1[0-2]))$/.test(e))).to.deep.equal([]);
  });

  it('every citation in the repository resolves to a heading or a numbered step', () => {
    const cs = citations(root, cited());
    // The scan found what the code cites today: sections, steps, behaviours and invariants.
    expect(cs.some((c) => /^\d+\.\d+$/.test(c.ref)), 'a section cited').to.equal(true);
    expect(cs.some((c) => / step /.test(c.ref)), 'a step cited').to.equal(true);
    expect(cs.some((c) => /^H\d/.test(c.ref)) && cs.some((c) => /^I\d/.test(c.ref)), 'H and I cited').to.equal(true);
    const broken = cs.filter((c) => !resolves(doc, c.ref)).map((c) => `${c.file}:${c.line} cites ${c.ref}`);
    expect(broken, `not in ${DOC}`).to.deep.equal([]);
  });

  it('nothing cites the old protocol document outside the repository', () => {
    const old = ['xen', 'protocol.md'].join('-');
    const files = [...cited(), ...filesUnder(root, ['bin'], ['.js']), 'package.json', DOC];
    const hits = files.filter((f) => readFileSync(join(root, f), 'utf8').includes(old));
    expect(hits, `files naming ${old}`).to.deep.equal([]);
  });

  it("each behaviour's entry names the invariants and the number of variants src/hostile declares", () => {
    for (const b of BEHAVIOURS) {
      const text = doc.entryText.get(b.id) ?? '';
      const threatens = /\*Threatens:\*\s*([^.]*)\./.exec(text)?.[1].match(/I\d+/g) ?? [];
      expect([...threatens].sort(), `${b.id} invariants`).to.deep.equal(b.invariants.split(/\s+/).sort());
      const variants = /\*xennet:\*\s*(\d+) variants?\b/.exec(text)?.[1];
      expect(Number(variants), `${b.id} variants`).to.equal(b.variants);
    }
  });
});
