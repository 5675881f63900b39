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
  /** Uniform integer in [lo, hi]: pure-rand's unsafeUniformIntDistribution, draw for draw. */
  int(lo: number, hi: number): number {
    const size = hi - lo + 1;
    if (size > 0 && size <= 0x4000_0000 && (size | 0) === size && (size & (size - 1)) === 0) return lo + this.low(size);
    return prand.unsafeUniformIntDistribution(lo, hi, this.gen);
  }
  /** Uniform float in [0, 1): int(0, 2^30 - 1) / 2^30. */
  float(): number { return this.low(0x4000_0000) / 0x4000_0000; }
  /**
   * pure-rand's draw over a power-of-two range of `size` <= 2^30 values: it maps the generator's next
   * (signed 32-bit) output to [0, 2^32) by adding 2^31, rejects nothing (2^32 is a multiple of size) and
   * keeps the rest modulo size, i.e. the output's low bits. Taken here without the floating-point
   * modulo (test/actors/rng.test.ts compares both on random ranges and seeds).
   */
  private low(size: number): number { return this.gen.unsafeNext() & (size - 1); }
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
