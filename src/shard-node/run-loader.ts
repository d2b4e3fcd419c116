/**
 * Loading one shard of a run: make its files available in the local cache (download + sha256
 * verification, or re-verification of a cached copy) and open it with its backend. Records the
 * load metrics and logs the outcome; the caller (NodeRun, through the lease cache) decides when.
 */
import { rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import { errorMessage } from '../common/errors.ts';
import type { Manifest, ShardEntry } from '../common/manifest.ts';
import type { ObjectStore } from '../common/storage/object-store.ts';
import { EmptyShardReader } from './empty-shard-reader.ts';
import type { NodeMetrics } from './node-metrics.ts';
import { openShardReader } from './open-shard-reader.ts';
import { ensureShardCached } from './shard-cache.ts';
import type { LoadedShard } from './shard-lease-cache.ts';

/** Where shards come from and go to. */
export interface ShardLoaderDeps {
  store: ObjectStore;
  /** Local cache root folder. */
  cacheDir: string;
  log: Logger;
  metrics: NodeMetrics;
}

/**
 * Downloads (or re-verifies) and opens shard `entry` of `manifest`. An empty shard (no files,
 * no vectors) opens as an {@link EmptyShardReader} of 0 bytes.
 * @param lazy true when the load serves a search for a shard this node is not assigned.
 * @throws ShardIntegrityError naming the shard and file on a size or sha256 mismatch;
 *   StorageError naming the object when a download fails; VectorIndexError naming the shard
 *   when the backend cannot open it.
 */
export async function loadShard(deps: ShardLoaderDeps, manifest: Manifest, entry: ShardEntry, lazy: boolean): Promise<LoadedShard> {
  const runId = manifest.run_id;
  const dbId = entry.db_id;
  if (entry.vector_count === 0 && entry.files.length === 0) return { reader: new EmptyShardReader(dbId), bytes: 0 };
  const started = performance.now();
  if (lazy) deps.metrics.lazyLoads.inc();
  try {
    const cached = await ensureShardCached(deps.store, deps.cacheDir, runId, entry);
    let reader;
    try {
      reader = await openShardReader(manifest, entry, cached.dir);
    } catch (err) {
      // The folder is not tracked by the cache unless the shard opens: remove it, so the files on
      // disk and the cache-bytes gauge agree.
      await rm(cached.dir, { recursive: true, force: true });
      throw err;
    }
    const seconds = (performance.now() - started) / 1000;
    deps.metrics.shardLoadSeconds.observe({ source: cached.downloaded ? 'store' : 'cache' }, seconds);
    if (cached.downloaded) deps.metrics.shardLoadBytes.inc(cached.bytes);
    deps.log.info(
      { run_id: runId, db_id: dbId, bytes: cached.bytes, downloaded: cached.downloaded, lazy, ms: Math.round(seconds * 1000) },
      'shard loaded',
    );
    return { reader, bytes: cached.bytes, dir: cached.dir };
  } catch (err) {
    deps.metrics.shardLoadFailures.inc();
    deps.log.error({ run_id: runId, db_id: dbId, lazy, err: errorMessage(err) }, 'shard failed to load');
    throw err;
  }
}
