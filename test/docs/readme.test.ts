/**
 * README doctest: every `npx xennet` command of README.md runs (as `node bin/xennet.js`) and exits
 * 0, and an output block shown right after a command matches what it prints (numbers may differ,
 * the shape may not), so the page cannot go stale. The quick start's `npm ci && npm test` is this
 * suite itself; its `npm start` is checked to be the `npx xennet all` the page runs.
 * Every link of the page points at a file of the repository.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = process.cwd();
const bin = join(root, 'bin', 'xennet.js');

interface Example { command: string; shown: string[] }

/** The commands of the ```sh blocks, each with the ```text block that follows its block (if any). */
function examples(md: string): Example[] {
  const out: Example[] = [];
  const lines = md.split('\n');
  let lastBlock: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(\w*)$/.exec(lines[i]);
    if (!fence) { if (lines[i].trim() !== '') lastBlock = []; continue; }
    const body: string[] = [];
    for (i++; i < lines.length && lines[i] !== '```'; i++) body.push(lines[i]);
    if (fence[1] === 'sh') {
      lastBlock = body.filter((l) => l.trim() !== '' && !l.startsWith('#')).map((command) => ({ command: command.trim(), shown: [] }));
      out.push(...lastBlock);
    } else if (fence[1] === 'text' && lastBlock.length) {
      lastBlock[lastBlock.length - 1].shown = body;
      lastBlock = [];
    } else lastBlock = [];
  }
  return out;
}

/** A shown line as a pattern: numbers stand for any number, runs of spaces for any spacing. */
function shape(line: string): RegExp {
  const parts = line.trim().split(/([-+]?\d+(?:\.\d+)?)/);
  const re = parts.map((p, k) => (k % 2 ? '[-+]?\\d+(?:\\.\\d+)?' : p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\s+/g, '\\s+'))).join('');
  return new RegExp(`^\\s*${re}\\s*$`);
}

describe('README doctest', function () {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const all = examples(readme);
  const setup = all.filter((e) => e.command.startsWith('npm '));
  const runs = all.filter((e) => !e.command.startsWith('npm '));

  it('opens with the two quick-start commands, and npm start is the `xennet all` it shows', () => {
    expect(runs.length).to.be.at.least(6);
    expect(setup.map((e) => e.command.replace(/\s+#.*$/, ''))).to.deep.equal(['npm ci && npm start', 'npm ci && npm test']);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).to.equal('node bin/xennet.js all');
    expect(runs.map((e) => e.command)).to.include('npx xennet all');
    for (const e of runs) {
      expect(e.command, 'an xennet command with plain arguments (no shell syntax)').to.match(/^npx xennet [\w ./,:-]+$/);
    }
  });

  for (const e of runs) {
    it(e.command, function () {
      this.timeout(300_000);
      const args = e.command.replace(/^npx xennet /, '').split(/\s+/);
      const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', timeout: 280_000 });
      expect(r.error, 'ended by itself').to.equal(undefined);
      expect(r.status, r.stderr).to.equal(0);
      const printed = r.stdout.split('\n');
      for (const line of e.shown) {
        const want = shape(line);
        expect(printed.some((p) => want.test(p)), `shown line ${JSON.stringify(line)} in the output:\n${r.stdout}`).to.equal(true);
      }
    });
  }

  it('every link points at a file of the repository', () => {
    const links = [...readme.matchAll(/\]\(([^)]+)\)/g)].map((m) => m[1]);
    expect(links.length).to.be.at.least(10);
    for (const l of links) {
      expect(l, 'relative, inside the repository').to.not.match(/^(\/|\.\.|[a-z]+:)/);
      expect(existsSync(join(root, l.split('#')[0])), l).to.equal(true);
    }
  });
});
