/**
 * When pre-copy stops (xc_domain_save.c, Xen 3.x/4.0, the loop's end): after each round the toolstack
 * starts the last one (suspends the guest and sends what is still dirty) when
 * - it has done max_iters rounds (DEF_MAX_ITERS 29, so at most 30 with the last), or
 * - the round sent fewer than 50 pages (the dirty set is small enough: short downtime), or
 * - it has sent more than max_factor (DEF_MAX_FACTOR 3) times the guest's memory in all, or
 * - the round sent more than the one before (the guest dirties faster than the stream sends: no progress;
 *   Xen tests this only once its rate limit is at its maximum: always without a limit, and under the
 *   adaptive limit (rate-limit.ts) only at the maximum).
 * Under the adaptive limit pre-copy also ends when the next round's limit would exceed the maximum
 * ('rate-max', Clark et al. section 5.1).
 */
export interface PrecopyPolicy { maxIters: number; targetPages: number; maxFactor: number }
export const XC_SAVE_POLICY: Readonly<PrecopyPolicy> = Object.freeze({ maxIters: 29, targetPages: 50, maxFactor: 3 });

export type StopReason = 'max-iters' | 'dirty-small' | 'max-factor' | 'no-progress' | 'rate-max';

/**
 * After a live round: null to go on with another, or why the next round is the last (stop-and-copy).
 * `sent`: the pages each round sent so far, this round last; `memoryPages`: the guest's memory;
 * `rateIsMax`: the stream's limit is at its maximum (no limit: always).
 */
export function precopyStop(p: PrecopyPolicy, sent: readonly number[], memoryPages: number, rateIsMax = true): StopReason | null {
  const iter = sent.length, now = sent[iter - 1], total = sent.reduce((a, b) => a + b, 0);
  if (iter >= p.maxIters) return 'max-iters';
  if (now < p.targetPages) return 'dirty-small';
  if (total > memoryPages * p.maxFactor) return 'max-factor';
  if (rateIsMax && iter > 1 && now > sent[iter - 2]) return 'no-progress';
  return null;
}
