/**
 * Seeded clustered synthetic vectors (issue 22): the one generator of the scale bench's data
 * (bench/lib/clustered-data.ts writes it as `.fvecs`), the end-to-end recall bench and the tests.
 *
 * A mixture of `clusters` anisotropic Gaussian clusters of uneven sizes. Each cluster c has a centre
 * mu_c ~ N(0, centerStd^2 I), a per-axis standard deviation sigma_c,d = s_c * exp(0.5 * N(0, 1))
 * with s_c log-uniform in [spreadMin, spreadMax] (so every cluster is stretched differently along
 * every axis), and an orientation given by two Householder reflections H(u) = I - 2 u u^T with
 * random unit u_c1, u_c2 (a random orthogonal map costing O(dim) per vector instead of O(dim^2) for
 * a full rotation matrix). A vector of cluster c is mu_c + H(u_c2) H(u_c1) (sigma_c * z),
 * z ~ N(0, I). Cluster weights are log-normal, w_c = exp(N(0, 1)), normalised. Streams of the same
 * mixture with different stream seeds give data and held-out queries from one distribution that
 * share no vector.
 */
import type { VectorSource } from '../writer/input/vector-record.ts';
import { SeededRandom } from '../writer/seeded-random.ts';

/** Parameters of the mixture; the same spec always gives the same model. */
export interface MixtureSpec {
  dim: number;
  clusters: number;
  /** Seed of the model (centres, spreads, orientations, weights). */
  seed: number;
  /** Standard deviation of the cluster centres per axis. */
  centerStd: number;
  /** Range of each cluster's overall spread s_c (log-uniform). */
  spreadMin: number;
  spreadMax: number;
}

/** The data: 1,000 clusters, 128-d (bench:scale's default; its data stream is seed + 1, its queries seed + 2). */
export const DEFAULT_MIXTURE_SPEC: MixtureSpec = { dim: 128, clusters: 1000, seed: 22, centerStd: 1, spreadMin: 0.2, spreadMax: 0.6 };

/** Standard normal deviates by Box–Muller, both values of each pair used. */
export class GaussianStream {
  private spare = NaN;
  constructor(private readonly rng: SeededRandom) {}

  /** One N(0, 1) deviate. */
  next(): number {
    if (!Number.isNaN(this.spare)) {
      const v = this.spare;
      this.spare = NaN;
      return v;
    }
    const u = Math.max(this.rng.next(), 1e-300);
    const r = Math.sqrt(-2 * Math.log(u));
    const t = 2 * Math.PI * this.rng.next();
    this.spare = r * Math.sin(t);
    return r * Math.cos(t);
  }
}

/** The per-cluster parameters drawn from the seed (small: clusters x dim x 4 floats). */
export interface ClusterModel {
  dim: number;
  clusters: number;
  /** clusters x dim. */
  centers: Float32Array;
  /** clusters x dim, per-axis standard deviations. */
  sigmas: Float32Array;
  /** clusters x dim, unit Householder vectors (two per cluster). */
  house1: Float32Array;
  house2: Float32Array;
  /** Cumulative cluster weights, last = 1. */
  cdf: Float64Array;
}

function unitVector(g: GaussianStream, out: Float32Array, offset: number, dim: number): void {
  let norm = 0;
  for (let d = 0; d < dim; d++) {
    const v = g.next();
    out[offset + d] = v;
    norm += v * v;
  }
  const inv = 1 / Math.sqrt(norm);
  for (let d = 0; d < dim; d++) out[offset + d] *= inv;
}

/** Draws the mixture's parameters from `spec.seed`. */
export function clusterModel(spec: MixtureSpec): ClusterModel {
  const rng = new SeededRandom(spec.seed);
  const g = new GaussianStream(rng);
  const { dim, clusters } = spec;
  const centers = new Float32Array(clusters * dim);
  const sigmas = new Float32Array(clusters * dim);
  const house1 = new Float32Array(clusters * dim);
  const house2 = new Float32Array(clusters * dim);
  const weights = new Float64Array(clusters);
  const logMin = Math.log(spec.spreadMin);
  const logMax = Math.log(spec.spreadMax);
  for (let c = 0; c < clusters; c++) {
    for (let d = 0; d < dim; d++) centers[c * dim + d] = g.next() * spec.centerStd;
    const s = Math.exp(logMin + (logMax - logMin) * rng.next());
    for (let d = 0; d < dim; d++) sigmas[c * dim + d] = s * Math.exp(0.5 * g.next());
    unitVector(g, house1, c * dim, dim);
    unitVector(g, house2, c * dim, dim);
    weights[c] = Math.exp(g.next());
  }
  const total = weights.reduce((a, b) => a + b, 0);
  const cdf = new Float64Array(clusters);
  let acc = 0;
  for (let c = 0; c < clusters; c++) cdf[c] = acc += weights[c] / total;
  cdf[clusters - 1] = 1;
  return { dim, clusters, centers, sigmas, house1, house2, cdf };
}

function pickCluster(cdf: Float64Array, u: number): number {
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cdf[mid] > u) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function reflect(v: Float32Array, vo: number, u: Float32Array, uo: number, dim: number): void {
  let dot = 0;
  for (let d = 0; d < dim; d++) dot += v[vo + d] * u[uo + d];
  const k = 2 * dot;
  for (let d = 0; d < dim; d++) v[vo + d] -= k * u[uo + d];
}

/**
 * Fills `out` (rows x dim, row-major) with the next `rows` vectors of the stream `rng` / `g` (one
 * stream read in several calls gives the same vectors as one call for all of them).
 * @returns nothing; `out` is overwritten.
 */
export function sampleRows(model: ClusterModel, rng: SeededRandom, g: GaussianStream, out: Float32Array, rows: number): void {
  const { dim } = model;
  for (let r = 0; r < rows; r++) {
    const c = pickCluster(model.cdf, rng.next());
    const o = r * dim;
    const co = c * dim;
    for (let d = 0; d < dim; d++) out[o + d] = model.sigmas[co + d] * g.next();
    reflect(out, o, model.house1, co, dim);
    reflect(out, o, model.house2, co, dim);
    for (let d = 0; d < dim; d++) out[o + d] += model.centers[co + d];
  }
}

/**
 * The first `n` vectors (n x dim, row-major) of the stream `streamSeed` of the mixture: with
 * `spec.seed + 1` the rows of bench:scale's base.fvecs, with `spec.seed + 2` its queries.
 */
export function sampleMixture(model: ClusterModel, n: number, streamSeed: number): Float32Array {
  const rng = new SeededRandom(streamSeed);
  const out = new Float32Array(n * model.dim);
  sampleRows(model, rng, new GaussianStream(rng), out, n);
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
