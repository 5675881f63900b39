/**
 * The per-file mutation table of a Stryker run (`npm run mutate:table`): reads Stryker's JSON
 * report (reports/mutation/mutation.json, mutation-testing-report-schema) and prints, per
 * directory and per file, the score over all valid mutants, the score over covered ones, and the
 * counts, as a Markdown table to compare one change's run with the next. Then whether the run meets
 * docs/mutation.md's target (total >= 90 %, every file with more than 20 mutants >= 85 %).
 * Ignored (static) mutants and compile or runtime errors are not valid mutants and are left out,
 * as Stryker does.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';

interface Row { killed: number; timeout: number; survived: number; noCoverage: number }
interface Mutant { status: string; mutatorName?: string; replacement?: string; location?: { start: { line: number; column: number } } }
interface Report { files: Record<string, { mutants: Mutant[] }> }

const TARGET_TOTAL = 90;
const TARGET_FILE = 85;
const FILE_MIN_MUTANTS = 20;

const empty = (): Row => ({ killed: 0, timeout: 0, survived: 0, noCoverage: 0 });
const valid = (r: Row) => r.killed + r.timeout + r.survived + r.noCoverage;
const detected = (r: Row) => r.killed + r.timeout;
const pct = (n: number, d: number) => (d === 0 ? 'n/a' : `${((100 * n) / d).toFixed(2)} %`);
const add = (a: Row, b: Row) => { a.killed += b.killed; a.timeout += b.timeout; a.survived += b.survived; a.noCoverage += b.noCoverage; };

/** Counts per file, by Stryker's statuses. */
export function countFiles(report: Report): Map<string, Row> {
  const out = new Map<string, Row>();
  for (const [file, { mutants }] of Object.entries(report.files)) {
    const r = empty();
    for (const m of mutants) {
      if (m.status === 'Killed') r.killed++;
      else if (m.status === 'Timeout') r.timeout++;
      else if (m.status === 'Survived') r.survived++;
      else if (m.status === 'NoCoverage') r.noCoverage++;
    }
    out.set(file, r);
  }
  return out;
}

/** The Markdown table (all, each directory, each file under it) and the target's verdict. */
export function table(files: Map<string, Row>): string {
  const all = empty();
  const dirs = new Map<string, Row>();
  for (const [file, r] of files) {
    add(all, r);
    const dir = file.slice(0, file.lastIndexOf('/') + 1);
    if (!dirs.has(dir)) dirs.set(dir, empty());
    add(dirs.get(dir)!, r);
  }
  const line = (name: string, r: Row) =>
    `| ${name} | ${pct(detected(r), valid(r))} | ${pct(detected(r), valid(r) - r.noCoverage)} | ${r.killed} | ${r.timeout} | ${r.survived} | ${r.noCoverage} | ${valid(r)} |`;
  const lines = [
    '| file | score (total) | covered | killed | timeout | survived | no coverage | mutants |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    line('**all**', all),
  ];
  for (const dir of [...dirs.keys()].sort()) {
    lines.push(line(`**${dir}**`, dirs.get(dir)!));
    for (const file of [...files.keys()].filter((f) => f.slice(0, f.lastIndexOf('/') + 1) === dir).sort()) {
      lines.push(line(`... ${file.slice(dir.length)}`, files.get(file)!));
    }
  }
  const below = [...files].filter(([, r]) => valid(r) > FILE_MIN_MUTANTS && 100 * detected(r) < TARGET_FILE * valid(r)).map(([f]) => f);
  const totalOk = 100 * detected(all) >= TARGET_TOTAL * valid(all);
  lines.push('');
  lines.push(`Target (total >= ${TARGET_TOTAL} %, every file with more than ${FILE_MIN_MUTANTS} mutants >= ${TARGET_FILE} %): `
    + (totalOk && !below.length ? 'met' : `not met${totalOk ? '' : ` (total ${pct(detected(all), valid(all))})`}${below.length ? `; below ${TARGET_FILE} %: ${below.join(', ')}` : ''}`));
  return lines.join('\n');
}

/** One line per mutant that survived or that no test reached: file:line:column, mutator, replacement. */
export function survivors(report: Report): string {
  const lines: string[] = [];
  for (const file of Object.keys(report.files).sort()) {
    const ms = report.files[file].mutants.filter((m) => m.status === 'Survived' || m.status === 'NoCoverage');
    ms.sort((a, b) => (a.location?.start.line ?? 0) - (b.location?.start.line ?? 0) || (a.location?.start.column ?? 0) - (b.location?.start.column ?? 0));
    for (const m of ms) {
      const at = m.location ? `${m.location.start.line}:${m.location.start.column}` : '?';
      const repl = (m.replacement ?? '').replace(/\s+/g, ' ').slice(0, 80);
      lines.push(`| ${file}:${at} | ${m.mutatorName ?? '?'} \`${repl.replace(/`/g, "'").replace(/\|/g, '\\|')}\`${m.status === 'NoCoverage' ? ' (no coverage)' : ''} |`);
    }
  }
  return ['| where | mutant |', '|---|---|', ...lines].join('\n');
}

const isMain = process.argv[1]?.endsWith('mutation-table.js');
if (isMain) {
  const cmd = new Command('mutation-table')
    .description('print the per-file table of a Stryker run')
    .argument('[report]', 'Stryker JSON report', 'reports/mutation/mutation.json')
    .option('--survivors', 'also list every mutant that survived or that no test reached')
    .action((file: string, opts: { survivors?: boolean }) => {
      let report: Report;
      try {
        report = JSON.parse(readFileSync(file, 'utf8')) as Report;
        if (!report.files || typeof report.files !== 'object') throw new Error('no "files" object');
      } catch (e) {
        process.stderr.write(`mutation-table: report ${file}: ${(e as Error).message.split('\n')[0]} (run \`npm run mutate\` first)\n`);
        process.exit(2);
      }
      process.stdout.write(`${table(countFiles(report))}\n`);
      if (opts.survivors) process.stdout.write(`\n${survivors(report)}\n`);
    });
  cmd.parse();
}
