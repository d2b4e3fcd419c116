/**
 * The benchmark data: Fashion-MNIST train (base set) and t10k (queries) from
 * ../shared/datasets/fashion-mnist when present, else the bundled t10k split (first rows as base,
 * the last rows as queries). The fallback is a smaller, different problem, so the suite says so
 * loudly: in its first stderr line ({@link dataSourceBanner}) and in the report title.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readIdxImages } from '../../src/writer/input/idx-source.ts';

export const ROOT = join(import.meta.dirname, '..', '..');
const SHARED = join(ROOT, '..', 'shared', 'datasets', 'fashion-mnist');
const BUNDLED = join(ROOT, 'examples', 'data', 'fashion-mnist');
/** Rows of the bundled t10k split used as the fallback base set (the rest are queries). */
const BUNDLED_BASE = 9_000;

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
  /** True when ../shared/datasets/fashion-mnist was missing and the bundled t10k split is used. */
  fallback: boolean;
}

/** Which data {@link loadDataset} will read: the shared Fashion-MNIST train/t10k, or the bundled fallback. */
export function sharedDatasetPresent(): boolean {
  return existsSync(join(SHARED, 'train-images-idx3-ubyte.gz')) && existsSync(join(SHARED, 't10k-images-idx3-ubyte.gz'));
}

/**
 * The line the suite prints first on stderr, before any data is read: which data this run uses,
 * and, for the bundled fallback, a warning that its figures are not comparable with a full run.
 * @param maxBase the plan's cap on base vectors (undefined = all).
 */
export function dataSourceBanner(maxBase: number | undefined, maxQueries: number): string {
  if (sharedDatasetPresent()) {
    const base = Math.min(maxBase ?? 60_000, 60_000);
    return `data: Fashion-MNIST from ../shared/datasets/fashion-mnist, ${base.toLocaleString('en')} train vectors as base, ${Math.min(maxQueries, 10_000)} t10k queries`;
  }
  const base = Math.min(maxBase ?? BUNDLED_BASE, BUNDLED_BASE);
  return (
    `WARNING: FALLBACK DATA: ../shared/datasets/fashion-mnist not found, so this run uses the bundled examples/data/fashion-mnist t10k split ` +
    `(${base.toLocaleString('en')} base vectors, ${Math.min(maxQueries, 1_000)} queries), not the 60,000-vector Fashion-MNIST train set; its figures are not comparable with a full run`
  );
}

/**
 * Loads the dataset.
 * @param maxBase cap on base vectors (undefined = all).
 * @param maxQueries cap on query vectors.
 */
export async function loadDataset(maxBase: number | undefined, maxQueries: number): Promise<Dataset> {
  const sharedTrain = join(SHARED, 'train-images-idx3-ubyte.gz');
  const sharedTest = join(SHARED, 't10k-images-idx3-ubyte.gz');
  if (sharedDatasetPresent()) {
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
      fallback: false,
    };
  }
  const bundled = join(BUNDLED, 't10k-images-idx3-ubyte.gz');
  const baseCount = Math.min(maxBase ?? BUNDLED_BASE, BUNDLED_BASE);
  const base = await readIdxImages(bundled, { limit: baseCount });
  const queries = await readIdxImages(bundled, { start: BUNDLED_BASE, limit: Math.min(maxQueries, 1_000) });
  return {
    source: `FALLBACK: bundled examples/data/fashion-mnist t10k (rows 0..${baseCount - 1} as base, rows 9000.. as ${queries.count} queries; ../shared/datasets/fashion-mnist was not found; smaller scale)`,
    basePath: bundled,
    baseCount,
    base: base.vectors,
    queries: queries.vectors,
    queryCount: queries.count,
    dim: base.dim,
    key: `bundled-t10k${baseCount}-q${queries.count}`,
    fallback: true,
  };
}
