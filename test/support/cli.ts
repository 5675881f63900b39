/** Run the `xennet` command line as a user would: a child node process on bin/xennet.js. */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** bin/xennet.js, found from this file (dist/test/support/cli.js), so it does not depend on the working directory. */
export const BIN = fileURLToPath(new URL('../../../bin/xennet.js', import.meta.url));

export interface CliOptions {
  /** Kill the process after this many ms (spawnSync's timeout); none by default. */
  timeout?: number;
  /** The child's whole environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Options for node itself, before the script (e.g. --max-old-space-size=96). */
  nodeArgs?: string[];
}

/** `xennet ...args`: the exit status, stdout and stderr as text. */
export function xennet(args: string[], o: CliOptions = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [...(o.nodeArgs ?? []), BIN, ...args], {
    encoding: 'utf8', timeout: o.timeout, env: o.env, cwd: o.cwd, maxBuffer: 1 << 28,
  });
}
