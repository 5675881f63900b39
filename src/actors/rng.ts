/**
 * Seeded random streams keyed by actor name (pure-rand xoroshiro128+), so one
 * actor's draws never shift another's: adding an actor does not perturb the rest.
 */
import prand from 'pure-rand';

function nameHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193); }
  return h | 0;
}

export class Rng {
  // pure-rand's unsafe* API advances the generator in place: no allocation per draw.
  private readonly gen: prand.RandomGenerator;
  constructor(seed: number) { this.gen = prand.xoroshiro128plus(seed | 0); }
  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return prand.unsafeUniformIntDistribution(lo, hi, this.gen);
  }
  /** Uniform float in [0, 1). */
  float(): number { return this.int(0, 0x3fffffff) / 0x40000000; }
}

export class RngStreams {
  private streams = new Map<string, Rng>();
  constructor(readonly seed: number) {}
  for(name: string): Rng {
    let r = this.streams.get(name);
    if (!r) { r = new Rng(this.seed ^ nameHash(name)); this.streams.set(name, r); }
    return r;
  }
}
