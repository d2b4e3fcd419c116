/**
 * Seeded clustered synthetic vectors for recall measurements (issue 22): a mixture of `clusters`
 * anisotropic Gaussians (centre coordinates ~ N(0, spread^2); each cluster's own per-axis standard
 * deviation exp(N(0, 0.5^2))), equal weights. Streams of the same mixture with different
 * `streamSeed`s give data and held-out queries from one distribution that share no vector.
 */
import type { VectorSource } from '../writer/input/vector-record.ts';
import { SeededRandom } from '../writer/seeded-random.ts';

/** The mixture (centres and per-axis scales), fixed by its seed. */
export interface GaussianMixture {
  dim: number;
  clusters: number;
  /** clusters x dim, row-major. */
  centres: Float32Array;
  /** clusters x dim per-axis standard deviations. */
  scales: Float32Array;
}

/** Standard normal deviate (Box–Muller). */
function gaussian(rng: SeededRandom): number {
  const u = Math.max(rng.next(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

/** A mixture of `clusters` anisotropic Gaussians in `dim` dimensions (centre spread default 4). */
export function gaussianMixture(dim: number, clusters: number, seed: number, spread = 4): GaussianMixture {
  const rng = new SeededRandom(seed);
  const centres = Float32Array.from({ length: clusters * dim }, () => gaussian(rng) * spread);
  const scales = Float32Array.from({ length: clusters * dim }, () => Math.exp(gaussian(rng) * 0.5));
  return { dim, clusters, centres, scales };
}

/** `n` vectors of the mixture (row-major), from the stream `streamSeed`. */
export function sampleMixture(m: GaussianMixture, n: number, streamSeed: number): Float32Array {
  const rng = new SeededRandom(streamSeed);
  const out = new Float32Array(n * m.dim);
  for (let r = 0; r < n; r++) {
    const c = rng.nextInt(m.clusters);
    for (let d = 0; d < m.dim; d++) out[r * m.dim + d] = m.centres[c * m.dim + d] + m.scales[c * m.dim + d] * gaussian(rng);
  }
  return out;
}

/** An in-memory {@link VectorSource} over row-major vectors; ids are `v<row>`. */
export function arraySource(vectors: Float32Array, dim: number, description = 'gaussian clusters'): VectorSource {
  const count = vectors.length / dim;
  return {
    description,
    dim,
    count,
    async *records() {
      for (let r = 0; r < count; r++) yield { id: `v${r}`, vector: vectors.slice(r * dim, (r + 1) * dim), location: `${description} row ${r}` };
    },
  };
}
