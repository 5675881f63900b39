/**
 * The JSON Schema of scenario files: the committed copy is what `xennet schema` prints, every
 * field is described, and every bundled scenario names the schema and passes both it and zod.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { scenarioJsonSchema, scenarioJsonSchemaText } from '../../src/scenario/json-schema.js';
import { loadScenario } from '../../src/scenario/schema.js';
import { jsonSchemaErrors } from '../support/json-schema-check.js';
import { bundledScenarios } from '../support/scenarios.js';
import { xennet } from '../support/cli.js';

const root = process.cwd();
const committed = join(root, 'xennet.schema.json');

describe('scenario JSON Schema', function () {
  this.timeout(30_000);

  it('the committed xennet.schema.json is what `xennet schema` prints', () => {
    const r = xennet(['schema']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(scenarioJsonSchemaText());
    expect(readFileSync(committed, 'utf8'), 'xennet.schema.json is stale: run `node bin/xennet.js schema > xennet.schema.json`').to.equal(r.stdout);
  });

  it('is draft 2020-12 with an id and title, and describes every field', () => {
    const s = scenarioJsonSchema();
    expect(s.$schema).to.equal('https://json-schema.org/draft/2020-12/schema');
    expect(s.$id).to.be.a('string');
    expect(s.title).to.be.a('string');
    const bare: string[] = [];
    const walk = (n: Record<string, unknown>, at: string): void => {
      for (const [k, v] of Object.entries((n.properties ?? {}) as Record<string, Record<string, unknown>>)) {
        if (typeof v.description !== 'string' || v.description.length < 10) bare.push(at + k);
        walk(v, `${at}${k}.`);
      }
      if (n.items) walk(n.items as Record<string, unknown>, `${at}[].`);
    };
    walk(s, '');
    expect(bare).to.deep.equal([]);
  });

  it('keeps defaulted fields optional (input side): only name and topology are required', () => {
    // `direction` is required by the stream workload and refused by TCP_RR/UDP_RR: a cross-field check of xennet's own (test/scenario/latency.test.ts).
    expect(scenarioJsonSchema().required).to.have.members(['name', 'topology']);
  });

  const files = bundledScenarios();
  it('finds the bundled scenarios', () => expect(files.length).to.be.at.least(6));
  for (const f of files) {
    const name = relative(root, f);
    it(`${name} names the schema, and passes zod and the JSON Schema`, () => {
      const text = readFileSync(f, 'utf8');
      const first = text.split('\n')[0];
      const m = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);
      expect(m, `${name} must start with the yaml-language-server line`).to.not.equal(null);
      expect(resolve(dirname(f), m![1])).to.equal(committed);
      expect(() => loadScenario(f)).to.not.throw();
      expect(jsonSchemaErrors(scenarioJsonSchema(), parseYaml(text))).to.deep.equal([]);
    });
  }

  it('the JSON Schema rejects what zod rejects in structure: unknown keys, wrong types, out of range', () => {
    const bad = { name: 'x', topology: 'guest', direction: 'sideways', machine: { nicz: 4, nic: { mbps: 'fast' } }, tcp: { mss: 100 }, costs: { warpDrive: 1 } };
    const errs = jsonSchemaErrors(scenarioJsonSchema(), bad);
    for (const want of [/\$\.direction: not one of/, /\$\.machine: unknown nicz/, /\$\.machine\.nic\.mbps: not number/, /\$\.tcp\.mss: below 536/, /\$\.costs\.warpDrive \(name\)/]) {
      expect(errs.some((e) => want.test(e)), `${want} in ${errs.join('; ')}`).to.equal(true);
    }
  });
});
