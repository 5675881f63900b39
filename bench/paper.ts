/** Wall time of the whole paper reproduction, as a user runs it: `xennet paper --json --workers 2`. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// dist/bench/paper.js -> repository root
const root = fileURLToPath(new URL('../../', import.meta.url));

export function paperPart(workers = 2) {
  const args = ['bin/xennet.js', 'paper', '--json', '--workers', String(workers)];
  const t0 = performance.now();
  const p = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', maxBuffer: 256 << 20 });
  const wallS = +((performance.now() - t0) / 1000).toFixed(2);
  const command = `node ${args.join(' ')}`;
  if (p.status !== 0) return { command, wallS, error: `exit ${p.status ?? p.signal}: ${(p.stderr ?? '').slice(-500)}` };
  const out = JSON.parse(p.stdout) as { configurations: unknown[] };
  return { command, workers, wallS, configurations: out.configurations.length };
}
