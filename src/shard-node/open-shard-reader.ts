/**
 * Opens a cached shard with the backend its manifest names (LanceDB table or sqlite-vec file).
 */
import type { Manifest, ShardEntry } from '../common/manifest.ts';
import { LanceShardReader } from './lancedb-shard-reader.ts';
import type { ShardIndexReader } from './shard-index-reader.ts';
import { SqliteVecShardReader } from './sqlite-vec-shard-reader.ts';

/**
 * Opens shard `entry` of `manifest` from its local folder `dir`.
 * @throws VectorIndexError naming the shard and file when the backend cannot open it.
 */
export async function openShardReader(manifest: Manifest, entry: ShardEntry, dir: string): Promise<ShardIndexReader> {
  const { backend, metric, index_params: params } = manifest.index;
  if (backend === 'sqlite-vec') {
    return SqliteVecShardReader.open(dir, entry.db_id, metric, {
      quantization: params.quantization === 'int8' ? 'int8' : 'none',
      int8Scale: typeof params.int8_scale === 'number' ? params.int8_scale : undefined,
    });
  }
  return LanceShardReader.open(dir, entry.db_id, metric, entry.index_type);
}
