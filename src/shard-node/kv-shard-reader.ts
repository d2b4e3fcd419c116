/**
 * A shard of a KV + vector snapshot (issue 14): its vector index reader and its KV store, opened
 * together and closed together, behind the {@link ShardIndexReader} interface (searches go to the
 * index, `kv` answers point lookups).
 */
import type { KvStoreReader } from './kv-store-reader.ts';
import type { FetchedRow, ShardHit, ShardIndexReader, ShardQueryOptions } from './shard-index-reader.ts';

/** An index reader plus the shard's KV store. */
export class KvShardReader implements ShardIndexReader {
  readonly searchBatch?: ShardIndexReader['searchBatch'];

  /** Takes ownership of both readers: {@link close} closes them. */
  constructor(
    private readonly index: ShardIndexReader,
    readonly kv: KvStoreReader,
  ) {
    const batch = index.searchBatch;
    if (batch) this.searchBatch = (queries, topK, includePayload, options) => batch.call(index, queries, topK, includePayload, options);
  }

  get dbId(): number {
    return this.index.dbId;
  }

  search(query: Float32Array, topK: number, includePayload: boolean, options: ShardQueryOptions): Promise<ShardHit[]> {
    return this.index.search(query, topK, includePayload, options);
  }

  fetchByIds(ids: readonly string[], includePayload: boolean, includeVector: boolean): Promise<Array<FetchedRow | undefined>> {
    return this.index.fetchByIds(ids, includePayload, includeVector);
  }

  /** Closes the index now and the KV store in the background (its close never throws). */
  close(): void {
    this.index.close();
    void this.kv.close();
  }
}
