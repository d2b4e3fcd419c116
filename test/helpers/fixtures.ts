/**
 * Shared test fixtures: paths of the bundled real data, a quiet logger, and small snapshot builds.
 */
import { fileURLToPath } from 'node:url';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { Logger } from 'pino';
import type { ObjectStore } from '../../src/common/storage/object-store.ts';
import { buildSnapshot, type BuildResult } from '../../src/writer/build-snapshot.ts';
import { openIdxSource } from '../../src/writer/input/idx-source.ts';
import { describeLoad, type LoadResult } from '../../src/eval/load-generator.ts';

const DATA = fileURLToPath(new URL('../../examples/data/', import.meta.url));
/** Bundled Fashion-MNIST t10k images (10,000 x 784). */
export const FASHION_IMAGES = join(DATA, 'fashion-mnist', 't10k-images-idx3-ubyte.gz');
/** Bundled Fashion-MNIST t10k labels. */
export const FASHION_LABELS = join(DATA, 'fashion-mnist', 't10k-labels-idx1-ubyte.gz');
/** Bundled tiny JSONL example (40 x 8). */
export const TINY_JSONL = join(DATA, 'tiny.jsonl');

/** A logger that drops everything below error. */
export function quietLogger(): Logger {
  return pino({ level: process.env.SHARDFLEET_TEST_LOG_LEVEL ?? 'silent' });
}

/** A fresh temp folder; remove it with the returned function. */
export async function tempDir(prefix: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `shardfleet-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/**
 * Builds a snapshot of `limit` Fashion-MNIST t10k images (with labels) from image `start`
 * (default 0) into `store`: CLUSTER sharding, l2.
 */
export async function buildFashionSnapshot(
  store: ObjectStore,
  options: { start?: number; limit: number; numDbs: number; numProbes?: number; seed?: number },
): Promise<BuildResult> {
  const source = await openIdxSource({ imagesPath: FASHION_IMAGES, labelsPath: FASHION_LABELS, start: options.start, limit: options.limit });
  return buildSnapshot({
    store,
    source,
    sharding: { strategy: 'cluster', numDbs: options.numDbs, numProbes: options.numProbes ?? 2 },
    metric: 'l2',
    seed: options.seed ?? 7,
    progress: false,
    log: quietLogger(),
  });
}

/** Prints a load run's figures (and its errors) as a test diagnostic line. */
export function reportLoad(name: string, r: LoadResult): void {
  console.log(`# ${name}: ${describeLoad(r)}${r.errorCount ? ` errors: ${JSON.stringify([...r.errors])}` : ''}`);
}
