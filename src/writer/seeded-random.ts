/**
 * A small seeded pseudo-random generator, so that the same input and seed always give the same
 * training sample and the same centroids, on every machine and Node version.
 *
 * Algorithm: SplitMix32-style mixing of a Weyl sequence ("mulberry32", Tommy Ettinger, public
 * domain). Period 2^32: ample for sampling and k-means++ seeding; not for cryptography.
 */
export class SeededRandom {
  private state: number;
  /** @param seed any integer; only its low 32 bits are used. */
  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A uniform float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A uniform integer in [0, n). */
  nextInt(n: number): number {
    return Math.floor(this.next() * n);
  }

  /**
   * A standard normal deviate N(0, 1) by Box–Muller (Box & Muller, "A note on the generation of
   * random normal deviates", Ann. Math. Statist. 1958), its cosine value only: two uniforms per
   * deviate, the first floored at 1e-12 so its log is finite.
   */
  nextGaussian(): number {
    const u = Math.max(this.next(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
}
