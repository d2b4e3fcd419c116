/**
 * Clustered synthetic benchmark data for the scale bench (issue 22): a seeded mixture of
 * anisotropic Gaussian clusters of uneven sizes, written as `.fvecs` in chunks (memory stays at
 * one chunk whatever n is) and reused from the cache folder when present.
 *
 * Each cluster c has a centre mu_c ~ N(0, centerStd^2 I), a per-axis standard deviation
 * sigma_c,d = s_c * exp(0.5 * N(0, 1)) with s_c log-uniform in [spreadMin, spreadMax] (so every
 * cluster is stretched differently along every axis), and an orientation given by two Householder
 * reflections H(u) = I - 2 u u^T with random unit u_c1, u_c2 (a random orthogonal map costing O(dim)
 * per vector instead of O(dim^2) for a full rotation matrix). A vector of cluster c is
 * mu_c + H(u_c2) H(u_c1) (sigma_c * z), z ~ N(0, I). Cluster sizes are uneven: cluster weights are
 * log-normal, w_c = exp(N(0, 1)), normalised. Queries are drawn from the same mixture with a
 * different random stream, so they are never copies of base vectors.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SeededRandom } from '../../src/writer/seeded-random.ts';

/** Parameters of the mixture. */
export interface ClusteredSpec {
  /** Number of base vectors. */
  n: number;
  /** Number of held-out queries. */
  queries: number;
  dim: number;
  clusters: number;
  seed: number;
  /** Standard deviation of the cluster centres per axis. */
  centerStd: number;
  /** Range of each cluster's overall spread s_c (log-uniform). */
  spreadMin: number;
  spreadMax: number;
}

/** The data: 1,000 clusters, 128-d, 1,000 queries. */
export const DEFAULT_CLUSTERED_SPEC: Omit<ClusteredSpec, 'n'> = { queries: 1000, dim: 128, clusters: 1000, seed: 22, centerStd: 1, spreadMin: 0.2, spreadMax: 0.6 };

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
export function clusterModel(spec: Omit<ClusteredSpec, 'n' | 'queries'>): ClusterModel {
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
 * Fills `out` (rows x dim, row-major) with vectors of the mixture drawn from `g` / `rng`.
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

/** Rows per generation / read chunk (32,768 x 128 x 4 B = 16 MiB). */
export const CHUNK_ROWS = 32_768;

/** Writes `rows` vectors as `.fvecs` to `path` (via a temp file renamed at the end), chunk by chunk. */
function writeFvecs(path: string, model: ClusterModel, seed: number, rows: number, onProgress?: (done: number) => void): void {
  const { dim } = model;
  const rng = new SeededRandom(seed);
  const g = new GaussianStream(rng);
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w');
  const record = 4 + 4 * dim;
  const chunk = new Float32Array(CHUNK_ROWS * dim);
  const buf = new ArrayBuffer(CHUNK_ROWS * record);
  const asI32 = new Int32Array(buf);
  const asF32 = new Float32Array(buf);
  const bytes = new Uint8Array(buf);
  try {
    for (let start = 0; start < rows; start += CHUNK_ROWS) {
      const n = Math.min(CHUNK_ROWS, rows - start);
      sampleRows(model, rng, g, chunk, n);
      for (let r = 0; r < n; r++) {
        asI32[r * (dim + 1)] = dim;
        asF32.set(chunk.subarray(r * dim, (r + 1) * dim), r * (dim + 1) + 1);
      }
      writeSync(fd, bytes, 0, n * record);
      onProgress?.(start + n);
    }
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** Files of one generated data set. */
export interface ClusteredFiles {
  basePath: string;
  queriesPath: string;
  /** Cache key (changes with every parameter). */
  key: string;
  /** Seconds spent generating (0 when reused). */
  seconds: number;
  reused: boolean;
}

/** The cache key of a spec: every parameter, so a change never reuses stale files. */
export function specKey(spec: ClusteredSpec): string {
  return `clustered-n${spec.n}-q${spec.queries}-d${spec.dim}-c${spec.clusters}-s${spec.seed}-cs${spec.centerStd}-sp${spec.spreadMin}-${spec.spreadMax}`;
}

/**
 * Writes (or reuses) `<dir>/<key>/base.fvecs` (spec.n vectors) and `queries.fvecs`
 * (spec.queries vectors), little-endian `[int32 dim][dim x float32]` records. A `spec.json`
 * written last marks a complete set.
 */
export function ensureClusteredData(dir: string, spec: ClusteredSpec, log: (line: string) => void = () => {}): ClusteredFiles {
  const key = specKey(spec);
  const folder = join(dir, key);
  const basePath = join(folder, 'base.fvecs');
  const queriesPath = join(folder, 'queries.fvecs');
  const marker = join(folder, 'spec.json');
  const record = 4 + 4 * spec.dim;
  const complete =
    existsSync(marker) &&
    readFileSync(marker, 'utf8') === JSON.stringify(spec) &&
    existsSync(basePath) &&
    statSync(basePath).size === spec.n * record &&
    existsSync(queriesPath) &&
    statSync(queriesPath).size === spec.queries * record;
  if (complete) return { basePath, queriesPath, key, seconds: 0, reused: true };
  mkdirSync(dirname(marker), { recursive: true });
  const started = performance.now();
  const model = clusterModel(spec);
  let next = 0;
  writeFvecs(basePath, model, spec.seed + 1, spec.n, (done) => {
    if (done >= next) {
      log(`data: ${done.toLocaleString('en')} / ${spec.n.toLocaleString('en')} vectors`);
      next = done + Math.max(CHUNK_ROWS, Math.floor(spec.n / 10));
    }
  });
  writeFvecs(queriesPath, model, spec.seed + 2, spec.queries);
  writeFileSync(marker, JSON.stringify(spec));
  return { basePath, queriesPath, key, seconds: (performance.now() - started) / 1000, reused: false };
}

/**
 * Reads records [start, start + rows) of an `.fvecs` file into `out` (rows x dim float32,
 * headers dropped), reading through `scratch` (at least rows x (dim + 1) x 4 bytes).
 * @throws Error naming the file when it is shorter than asked.
 */
export function readFvecsRows(fd: number, path: string, dim: number, start: number, rows: number, out: Float32Array, scratch: ArrayBuffer): void {
  const record = 4 + 4 * dim;
  const bytes = new Uint8Array(scratch, 0, rows * record);
  let got = 0;
  while (got < bytes.length) {
    const n = readSync(fd, bytes, got, bytes.length - got, start * record + got);
    if (n === 0) throw new Error(`${path}: ends before record ${start + rows}`);
    got += n;
  }
  const f32 = new Float32Array(scratch, 0, rows * (dim + 1));
  for (let r = 0; r < rows; r++) out.set(f32.subarray(r * (dim + 1) + 1, (r + 1) * (dim + 1)), r * dim);
}
