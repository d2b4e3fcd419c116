/**
 * Clustered synthetic benchmark data for the scale bench (issue 22): the mixture of
 * src/eval/gaussian-clusters.ts (anisotropic Gaussian clusters of uneven sizes), written as
 * `.fvecs` in chunks (memory stays at one chunk whatever n is) and reused from the cache folder
 * when present. Base vectors are the mixture's stream `seed + 1`, queries its stream `seed + 2`, so
 * queries are never copies of base vectors.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { clusterModel, DEFAULT_MIXTURE_SPEC, GaussianStream, sampleRows, type ClusterModel, type MixtureSpec } from '../../src/eval/gaussian-clusters.ts';
import { SeededRandom } from '../../src/writer/seeded-random.ts';

/** A data set: the mixture, and how many base vectors and held-out queries to draw from it. */
export interface ClusteredSpec extends MixtureSpec {
  /** Number of base vectors. */
  n: number;
  /** Number of held-out queries. */
  queries: number;
}

/** The data: 1,000 clusters, 128-d, 1,000 queries. */
// queries first: spec.json (the cache's completeness marker) compares JSON text, keys in this order.
export const DEFAULT_CLUSTERED_SPEC: Omit<ClusteredSpec, 'n'> = { queries: 1000, ...DEFAULT_MIXTURE_SPEC };

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

/**
 * The first `rows` records of the `.fvecs` file at `path` as one row-major Float32Array
 * (rows x dim; for files small enough to hold whole, e.g. the queries).
 * @throws Error naming the file when it cannot be opened or is shorter than asked.
 */
export function readFvecsFile(path: string, rows: number, dim: number): Float32Array {
  const out = new Float32Array(rows * dim);
  const fd = openSync(path, 'r');
  try {
    readFvecsRows(fd, path, dim, 0, rows, out, new ArrayBuffer(rows * (dim + 1) * 4));
  } finally {
    closeSync(fd);
  }
  return out;
}
