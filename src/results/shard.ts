/**
 * Sharding a campaign over machines: shard i of N (i = 1..N) takes the contiguous block of runs
 * [floor((i-1)·T/N), floor(i·T/N)) of a campaign of T runs (sweep points, paper configurations,
 * stress case indices, in their campaign order). Blocks keep the stress summary's index-ordered
 * hash mergeable and make a shard's runs easy to name.
 *
 * Without --shard, an array job's task index is read from the environment:
 *   Slurm:      SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT (and SLURM_ARRAY_TASK_MIN,
 *               SLURM_ARRAY_TASK_STEP, so --array=0-3, 1-4 and 0-15:4 all number tasks 1..N);
 *   Kubernetes: JOB_COMPLETION_INDEX (0-based) of an Indexed Job, with JOB_COMPLETIONS set by the
 *               manifest to the Job's spec.completions (Kubernetes does not expose the count).
 */
import { ScenarioError } from '../scenario/schema.js';

/** A shard: index 1..count, and its block of runs [from, to). */
export interface Shard { index: number; count: number; from: number; to: number }
export interface ShardSpec { index: number; count: number; /** Where it came from, for messages. */ source: string }

export const SHARD_HELP = 'run only shard i of N (i = 1..N): the i-th contiguous block of the runs, written to DIR/shard-i-of-N/ (needs --out; '
  + 'without --shard: SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT or JOB_COMPLETION_INDEX/JOB_COMPLETIONS when set)';

const int = (s: string | undefined) => (s !== undefined && /^\s*\d+\s*$/.test(s) ? Number(s) : NaN);

/** --shard i/N, else the array job's environment, else null (the whole campaign). */
export function parseShard(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): ShardSpec | null {
  if (flag !== undefined) {
    const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(flag);
    const [i, n] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
    if (!m || n < 1 || i < 1 || i > n || !Number.isSafeInteger(n)) {
      throw new ScenarioError(`--shard ${flag}: expected i/N with 1 <= i <= N, e.g. --shard 1/4 (shards are numbered from 1)`);
    }
    return { index: i, count: n, source: `--shard ${i}/${n}` };
  }
  if (env.SLURM_ARRAY_TASK_ID !== undefined) {
    const id = int(env.SLURM_ARRAY_TASK_ID), n = int(env.SLURM_ARRAY_TASK_COUNT);
    const min = env.SLURM_ARRAY_TASK_MIN === undefined ? 0 : int(env.SLURM_ARRAY_TASK_MIN);
    const step = env.SLURM_ARRAY_TASK_STEP === undefined ? 1 : int(env.SLURM_ARRAY_TASK_STEP);
    const where = `SLURM_ARRAY_TASK_ID=${env.SLURM_ARRAY_TASK_ID}, SLURM_ARRAY_TASK_MIN=${env.SLURM_ARRAY_TASK_MIN ?? '(unset)'}, SLURM_ARRAY_TASK_STEP=${env.SLURM_ARRAY_TASK_STEP ?? '(unset)'}, SLURM_ARRAY_TASK_COUNT=${env.SLURM_ARRAY_TASK_COUNT ?? '(unset)'}`;
    if ([id, n, min, step].some(Number.isNaN) || n < 1 || step < 1) throw new ScenarioError(`Slurm array environment: ${where}: expected non-negative integers and a task count`);
    const k = (id - min) / step;
    if (!Number.isInteger(k) || k < 0 || k >= n) throw new ScenarioError(`Slurm array environment: ${where}: not task 0..${n - 1} of the array (an array of --array=A-B[:S] with no gaps is expected)`);
    return { index: k + 1, count: n, source: `Slurm array task ${id} (shard ${k + 1}/${n})` };
  }
  if (env.JOB_COMPLETION_INDEX !== undefined) {
    const k = int(env.JOB_COMPLETION_INDEX), n = int(env.JOB_COMPLETIONS);
    const where = `JOB_COMPLETION_INDEX=${env.JOB_COMPLETION_INDEX}, JOB_COMPLETIONS=${env.JOB_COMPLETIONS ?? '(unset)'}`;
    if (Number.isNaN(n) || n < 1) throw new ScenarioError(`Kubernetes Indexed Job environment: ${where}: set JOB_COMPLETIONS to the Job's spec.completions`);
    if (Number.isNaN(k) || k >= n) throw new ScenarioError(`Kubernetes Indexed Job environment: ${where}: expected 0 <= JOB_COMPLETION_INDEX < JOB_COMPLETIONS`);
    return { index: k + 1, count: n, source: `Kubernetes completion index ${k} (shard ${k + 1}/${n})` };
  }
  return null;
}

/** The block of a campaign of `total` runs that shard `s` runs. */
export function shardBlock(s: { index: number; count: number }, total: number): Shard {
  return { index: s.index, count: s.count, from: Math.floor(((s.index - 1) * total) / s.count), to: Math.floor((s.index * total) / s.count) };
}
