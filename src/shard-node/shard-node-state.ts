/**
 * What a shard node serves: one run's manifest, its assigned shards (by placement), the shards it
 * has opened and those that failed with the reason.
 */
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import { ReaderStateError, errorMessage } from '../common/errors.ts';
import type { Manifest } from '../common/manifest.ts';
import type { ObjectStore } from '../common/storage/object-store.ts';
import type { ScoredHit } from '../common/topk-merge.ts';
import { EmptyShardReader } from './empty-shard-reader.ts';
import { openShardReader } from './open-shard-reader.ts';
import type { ShardIndexReader, ShardQueryOptions } from './shard-index-reader.ts';
import { ensureShardCached } from './shard-cache.ts';

/** Outcome of searching one shard. */
export type ShardSearchOutcome = { dbId: number; hits: ScoredHit[]; error?: undefined } | { dbId: number; hits?: undefined; error: string };

/** One loaded run on a shard node. */
export class LoadedRun {
  /** Open shards by db id. */
  readonly shards = new Map<number, ShardIndexReader>();
  /** Shards that could not be loaded, with the reason. */
  readonly failures = new Map<number, string>();

  /**
   * @param manifest the run's manifest.
   * @param assigned db ids this node owns (ascending).
   */
  constructor(
    readonly manifest: Manifest,
    readonly assigned: readonly number[],
  ) {}

  get runId(): string {
    return this.manifest.run_id;
  }

  /**
   * Downloads, verifies and opens every assigned shard, `concurrency` at a time. A shard that
   * fails is recorded in `failures` (and logged); the others still load.
   */
  async load(store: ObjectStore, cacheDir: string, log: Logger, concurrency = 2): Promise<void> {
    const limit = pLimit(concurrency);
    await Promise.all(
      this.assigned.map((dbId) =>
        limit(async () => {
          const entry = this.manifest.shards[dbId];
          const started = performance.now();
          try {
            if (entry.vector_count === 0 && entry.files.length === 0) {
              this.shards.set(dbId, new EmptyShardReader(dbId));
              return;
            }
            const cached = await ensureShardCached(store, cacheDir, this.runId, entry);
            const reader = await openShardReader(this.manifest, entry, cached.dir);
            this.shards.set(dbId, reader);
            log.info(
              { run_id: this.runId, db_id: dbId, bytes: cached.bytes, downloaded: cached.downloaded, ms: Math.round(performance.now() - started) },
              'shard loaded',
            );
          } catch (err) {
            this.failures.set(dbId, errorMessage(err));
            log.error({ run_id: this.runId, db_id: dbId, err: errorMessage(err) }, 'shard failed to load');
          }
        }),
      ),
    );
  }

  /**
   * Searches the given shards concurrently with the per-query index `options`. A shard that is not loaded here, or whose search
   * fails, yields an outcome with `error` naming the shard and the reason.
   */
  async search(
    query: Float32Array,
    topK: number,
    dbIds: readonly number[],
    includePayload: boolean,
    options: ShardQueryOptions = {},
  ): Promise<ShardSearchOutcome[]> {
    return Promise.all(
      dbIds.map(async (dbId): Promise<ShardSearchOutcome> => {
        const reader = this.shards.get(dbId);
        if (!reader) {
          const why = this.failures.get(dbId);
          return {
            dbId,
            error: why ?? `shard ${dbId} of run ${this.runId} is not held by this node (assigned: ${this.assigned.join(', ') || 'none'})`,
          };
        }
        try {
          return { dbId, hits: await reader.search(query, topK, includePayload, options) };
        } catch (err) {
          return { dbId, error: errorMessage(err) };
        }
      }),
    );
  }

  /** Closes every open shard. */
  close(): void {
    for (const reader of this.shards.values()) reader.close();
    this.shards.clear();
  }
}

/** Throws ReaderStateError unless `run` is loaded and is `runId`. */
export function requireRun(run: LoadedRun | undefined, runId: string): LoadedRun {
  if (!run) throw new ReaderStateError('this shard node has not loaded a snapshot yet');
  if (runId !== '' && run.runId !== runId) {
    throw new ReaderStateError(`run ${runId} is not loaded on this shard node (it serves ${run.runId})`);
  }
  return run;
}
