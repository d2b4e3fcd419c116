/**
 * Opens a cached shard with the backend its manifest names (usearch index, LanceDB table or
 * sqlite-vec file), plus its KV store when the manifest has a `kv` section (SlateDB under
 * `<shard>/kv/`, or the `kv` table of the sqlite-vec file). A shardyfusion snapshot's shards are
 * opened by its format's reader (src/formats/shardyfusion/open-shard.ts).
 */
import { VectorIndexError, errorMessage } from '../common/errors.ts';
import type { Manifest, ShardEntry } from '../common/manifest.ts';
import { LanceShardReader } from './lancedb-shard-reader.ts';
import type { ShardIndexReader } from './shard-index-reader.ts';
import { SqliteVecShardReader } from './sqlite-vec-shard-reader.ts';
import { usearchParamsFromIndexParams } from '../common/usearch-layout.ts';
import { UsearchShardReader } from './usearch-shard-reader.ts';
import { SQLITE_VEC_FILE_NAME } from '../common/sqlite-vec-layout.ts';
import { KvShardReader } from './kv-shard-reader.ts';
import { SlateDbKvReader } from './slatedb-kv-reader.ts';
import { SqliteKvReader } from './sqlite-kv-reader.ts';
import { openShardyfusionShard } from '../formats/shardyfusion/open-shard.ts';

/**
 * Opens shard `entry` of `manifest` from its local folder `dir`.
 * @throws VectorIndexError naming the shard and file when the backend cannot open it.
 */
export async function openShardReader(manifest: Manifest, entry: ShardEntry, dir: string): Promise<ShardIndexReader> {
  if (manifest.format === 'shardyfusion') return openShardyfusionShard(manifest, entry, dir);
  const index = await openIndexReader(manifest, entry, dir);
  if (manifest.kv === undefined) return index;
  try {
    const kv = manifest.kv.backend === 'slatedb' ? await SlateDbKvReader.open(dir, entry.db_id) : SqliteKvReader.open(dir, SQLITE_VEC_FILE_NAME, entry.db_id);
    return new KvShardReader(index, kv);
  } catch (err) {
    index.close();
    throw err;
  }
}

/** Opens the vector index of shard `entry`. @throws as {@link openShardReader}. */
async function openIndexReader(manifest: Manifest, entry: ShardEntry, dir: string): Promise<ShardIndexReader> {
  const { backend, metric, dim, index_params: params } = manifest.index;
  if (backend === 'usearch') {
    let spec;
    try {
      spec = { dim, metric, params: usearchParamsFromIndexParams(params, metric), vectorCount: entry.vector_count, filterColumns: manifest.index.filter_columns };
    } catch (err) {
      throw new VectorIndexError(`shard ${entry.db_id}: the manifest's usearch index_params are invalid: ${errorMessage(err)}`, { cause: err });
    }
    return UsearchShardReader.open(dir, entry.db_id, spec);
  }
  if (backend === 'sqlite-vec') {
    return SqliteVecShardReader.open(dir, entry.db_id, metric, {
      quantization: params.quantization === 'int8' ? 'int8' : 'none',
      int8Scale: typeof params.int8_scale === 'number' ? params.int8_scale : undefined,
      filterColumns: manifest.index.filter_columns,
    });
  }
  return LanceShardReader.open(dir, entry.db_id, metric, entry.index_type, manifest.index.filter_columns);
}
