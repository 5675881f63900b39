/** The bundled scenario files, for the tests that check each of them. */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every scenario file under scenarios/, sorted (sweep files have their own format). */
export function bundledScenarios(dir = join(process.cwd(), 'scenarios')): string[] {
  return readdirSync(dir).sort().flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return n === 'sweeps' ? [] : bundledScenarios(p);
    return n.endsWith('.yaml') ? [p] : [];
  });
}
