/**
 * The benchmark data: Fashion-MNIST train (base set) and t10k (queries) from
 * ../shared/datasets/fashion-mnist when present, else the bundled t10k split (first rows as base,
 * the last rows as queries).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readIdxImages } from '../../src/writer/input/idx-source.ts';

export const ROOT = join(import.meta.dirname, '..', '..');
const SHARED = join(ROOT, '..', 'shared', 'datasets', 'fashion-mnist');
const BUNDLED = join(ROOT, 'examples', 'data', 'fashion-mnist');

/** Base and query vectors in memory. */
export interface Dataset {
  /** Human-readable origin, e.g. `../shared/datasets/fashion-mnist (train 60,000 / t10k)`. */
  source: string;
  /** IDX file of the base vectors and how many leading rows are used. */
  basePath: string;
  baseCount: number;
  /** Row-major base vectors, baseCount * dim. */
  base: Float32Array;
  /** Row-major query vectors, queryCount * dim. */
  queries: Float32Array;
  queryCount: number;
  dim: number;
  /** Cache key of the ground truth (changes with the input). */
  key: string;
}

/**
 * Loads the dataset.
 * @param maxBase cap on base vectors (undefined = all).
 * @param maxQueries cap on query vectors.
 */
export async function loadDataset(maxBase: number | undefined, maxQueries: number): Promise<Dataset> {
  const sharedTrain = join(SHARED, 'train-images-idx3-ubyte.gz');
  const sharedTest = join(SHARED, 't10k-images-idx3-ubyte.gz');
  if (existsSync(sharedTrain) && existsSync(sharedTest)) {
    const baseCount = Math.min(maxBase ?? 60_000, 60_000);
    const base = await readIdxImages(sharedTrain, { limit: baseCount });
    const queries = await readIdxImages(sharedTest, { limit: Math.min(maxQueries, 10_000) });
    return {
      source: `../shared/datasets/fashion-mnist (train rows 0..${baseCount - 1} as base, t10k rows 0..${queries.count - 1} as queries)`,
      basePath: sharedTrain,
      baseCount,
      base: base.vectors,
      queries: queries.vectors,
      queryCount: queries.count,
      dim: base.dim,
      key: `shared-train${baseCount}-t10k${queries.count}`,
    };
  }
  const bundled = join(BUNDLED, 't10k-images-idx3-ubyte.gz');
  const baseCount = Math.min(maxBase ?? 9_000, 9_000);
  const base = await readIdxImages(bundled, { limit: baseCount });
  const queries = await readIdxImages(bundled, { start: 9_000, limit: Math.min(maxQueries, 1_000) });
  return {
    source: `bundled examples/data/fashion-mnist t10k (rows 0..${baseCount - 1} as base, rows 9000.. as ${queries.count} queries; smaller scale)`,
    basePath: bundled,
    baseCount,
    base: base.vectors,
    queries: queries.vectors,
    queryCount: queries.count,
    dim: base.dim,
    key: `bundled-t10k${baseCount}-q${queries.count}`,
  };
}
