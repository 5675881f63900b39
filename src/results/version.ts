/**
 * `xennet --version`: the package version, and the git commit of the checkout
 * it runs from when there is one (results in a lab notebook then name the
 * exact code). No git, or a package that is not its own checkout: the version alone.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (dist/src/results/ is three levels below it). */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function gitCommit(): string | null {
  const git = (...args: string[]) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 });
  const top = git('rev-parse', '--show-toplevel');
  // Installed inside some other repository: that repository's commit says nothing about xennet.
  if (top.status !== 0 || realpathSync(top.stdout.trim()) !== realpathSync(ROOT)) return null;
  const head = git('rev-parse', '--short=12', 'HEAD');
  if (head.status !== 0) return null;
  const dirty = git('diff', '--quiet', 'HEAD', '--').status === 1;
  return head.stdout.trim() + (dirty ? '-dirty' : '');
}

/** The package version and the checkout's git commit (null outside a checkout of xennet). */
export function versionInfo(): { version: string; commit: string | null } {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  return { version, commit: gitCommit() };
}

export function versionString(): string {
  const { version, commit } = versionInfo();
  return commit ? `xennet ${version} (commit ${commit})` : `xennet ${version}`;
}
