/**
 * The cluster's shard searches executed in this process without gRPC: the same routing function,
 * the same shard readers (opened straight from the file:// store) and the same top-k merge as the
 * router and nodes. The difference to the cluster is the router + RPC overhead.
 */
import { join } from 'node:path';
import type { Manifest } from '../../src/common/manifest.ts';
import { loadShardRouting } from '../../src/common/routing/load-routing.ts';
import type { ShardRouting } from '../../src/common/routing/shard-routing.ts';
import type { FileObjectStore } from '../../src/common/storage/file-object-store.ts';
import { mergeTopK } from '../../src/common/topk-merge.ts';
import { openShardReader } from '../../src/shard-node/open-shard-reader.ts';
import type { ShardIndexReader, ShardQueryOptions } from '../../src/shard-node/shard-index-reader.ts';

/** Open shards of one run plus its routing. */
export interface InProcessShards {
  routing: ShardRouting;
  readers: Map<number, ShardIndexReader>;
  /** Top-`topK` scores of `query` probing `numProbes` shards with the per-shard options. */
  search(query: Float32Array, topK: number, numProbes: number, options: ShardQueryOptions): Promise<number[]>;
  close(): void;
}

/** Opens every non-empty shard of `manifest` from the file store `store`. */
export async function openInProcessShards(store: FileObjectStore, manifest: Manifest): Promise<InProcessShards> {
  const routing = await loadShardRouting(store, manifest);
  const readers = new Map<number, ShardIndexReader>();
  for (const entry of manifest.shards) {
    if (entry.vector_count === 0) continue;
    readers.set(entry.db_id, await openShardReader(manifest, entry, join(store.root, entry.url)));
  }
  return {
    routing,
    readers,
    async search(query, topK, numProbes, options) {
      const shards = routing.route({ vector: query, numProbes, shardIds: [] });
      const lists = await Promise.all(shards.map((id) => readers.get(id)?.search(query, topK, false, options) ?? Promise.resolve([])));
      return mergeTopK(lists, topK).map((h) => h.score);
    },
    close() {
      for (const r of readers.values()) r.close();
    },
  };
}
