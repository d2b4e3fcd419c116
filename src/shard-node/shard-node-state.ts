/**
 * A single run with a fixed set of shards, loaded and searched without a server: the shard node's
 * building blocks (NodeRun over an unbounded ShardLeaseCache) behind a small API, for tools and
 * tests that open a snapshot's shards directly.
 */
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { ReaderStateError } from '../common/errors.ts';
import type { Manifest } from '../common/manifest.ts';
import type { ObjectStore } from '../common/storage/object-store.ts';
import { createNodeMetrics, type NodeMetrics } from './node-metrics.ts';
import { NodeRun } from './node-run.ts';
import { searchRun } from './run-search.ts';
import type { ShardHit, ShardQueryOptions } from './shard-index-reader.ts';
import { ShardLeaseCache } from './shard-lease-cache.ts';

/** Outcome of searching one shard. */
export type ShardSearchOutcome = { dbId: number; hits: ShardHit[]; error?: undefined } | { dbId: number; hits?: undefined; error: string };

/** One run's shards `assigned`, loaded from a store into a cache folder. */
export class LoadedRun {
  private state: { run: NodeRun; cache: ShardLeaseCache; metrics: NodeMetrics } | undefined;

  /**
   * @param manifest the run's manifest.
   * @param assigned db ids to load (ascending).
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
   * fails is reported by {@link search} with the reason (and logged); the others still load.
   */
  async load(store: ObjectStore, cacheDir: string, log: Logger, concurrency = 2): Promise<void> {
    const cache = new ShardLeaseCache({ maxBytes: 0, log });
    const metrics = createNodeMetrics(new Registry());
    const run = new NodeRun(this.manifest, { store, cacheDir, log, metrics, cache, loadConcurrency: concurrency, retryBaseMs: 0 });
    run.setAssignment(this.assigned, 0);
    run.setPinning(true);
    this.state = { run, cache, metrics };
    await run.preload();
  }

  /**
   * Searches the given shards with the per-query index `options`; a shard that cannot be loaded or
   * searched yields an outcome whose `error` names the shard and the reason. Shards outside
   * `assigned` are loaded on demand.
   * @throws ReaderStateError before {@link load}.
   */
  async search(
    query: Float32Array,
    topK: number,
    dbIds: readonly number[],
    includePayload: boolean,
    options: ShardQueryOptions = {},
  ): Promise<ShardSearchOutcome[]> {
    if (this.state === undefined) throw new ReaderStateError(`run ${this.runId} is not loaded yet`);
    const outcomes = await searchRun(this.state.run, [{ vector: query, topK, shardIds: dbIds, includePayload, options }], this.state.metrics);
    return outcomes.map((o) => (o.error === '' ? { dbId: o.dbId, hits: o.hits } : { dbId: o.dbId, error: o.error }));
  }

  /** Closes every open shard (keeping the cached files). */
  close(): void {
    void this.state?.cache.closeAll(false);
  }
}
