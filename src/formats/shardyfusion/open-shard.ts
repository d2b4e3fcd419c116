/**
 * Opens one downloaded shard of a shardyfusion snapshot on a shard node, behind shardfleet's
 * {@link ShardIndexReader}: the sqlite-vec `shard.db` of vector-only and unified KV+vector
 * snapshots (`sqlite-vec-shard-reader.ts`), plus, for unified snapshots, its `kv` table read by
 * shardfleet's `SqliteKvReader` (the table layout is the same: `kv(k BLOB PRIMARY KEY, v BLOB NOT
 * NULL) WITHOUT ROWID`, shardyfusion/sqlite_vec_adapter.py:275-278) behind the key-encoding step
 * (`key-encoding.ts`). Before opening, `shard.db` is checked against the MD5 ETag its
 * `shard.sidecar` binds, when it has one (`sidecar-check.ts`).
 *
 * LanceDB shards (vector-only `vector_index.lance`) and composite KV+vector shards (LanceDB +
 * SlateDB) are read by other modules; this one throws for them.
 */
import type { Metric } from '../../common/distance.ts';
import { VectorIndexError, errorMessage } from '../../common/errors.ts';
import type { Backend, KvSpec, Manifest, ShardEntry } from '../../common/manifest.ts';
import { KvShardReader } from '../../shard-node/kv-shard-reader.ts';
import type { ShardIndexReader } from '../../shard-node/shard-index-reader.ts';
import { SqliteKvReader } from '../../shard-node/sqlite-kv-reader.ts';
import { EncodedKeyKvReader, type KvKeyType, type ShardyfusionKeyEncoding } from './key-encoding.ts';
import { verifyShardDbAgainstSidecar, type SidecarCheck } from './sidecar-check.ts';
import { SHARDYFUSION_SHARD_DB, ShardyfusionSqliteVecReader } from './sqlite-vec-shard-reader.ts';
import { openShardyfusionLanceShard } from './lancedb-shard-reader.ts';

/** The key encodings shardyfusion writes (shardyfusion/sharding_types.py:67-73). */
const KEY_ENCODINGS: readonly ShardyfusionKeyEncoding[] = ['u64be', 'u32be', 'utf8', 'raw'];

/** Everything {@link openShardyfusionShardWith} needs, taken from the translated manifest. */
export interface ShardyfusionShardSpec {
  /** The index backend inferred from the shard files (`index.backend`). */
  backend: Backend;
  /** `index.dim` (shardyfusion's `custom.vector.dim`). */
  dim: number;
  /** `index.metric` (`custom.vector.metric`). */
  metric: Metric;
  /** The shard's row count (shardyfusion's `shards.row_count`); undefined skips the check. */
  rowCount?: number;
  /**
   * Unified KV+vector snapshots: the key type (`kv.key_type`) and shardyfusion's `key_encoding`
   * (`build_meta.key_encoding`); absent for vector-only snapshots.
   */
  kv?: { backend: KvSpec['backend']; keyType: KvKeyType; keyEncoding: ShardyfusionKeyEncoding };
  /**
   * The shard's folder relative to the snapshot prefix (`ShardEntry.url`, e.g.
   * `shards/run_id=<id>/db=00002/attempt=00/`): names the store object in messages.
   */
  shardUrl?: string;
  /** Check `shard.db` against `shard.sidecar`'s MD5 ETag before opening (default true). */
  verifySidecar?: boolean;
}

/** A manifest's kv section, with the `key_encoding` the shardyfusion translation adds. */
type ShardyfusionKvSpec = KvSpec;

/**
 * The {@link ShardyfusionShardSpec} of shard `entry` of a translated shardyfusion manifest.
 * @throws VectorIndexError naming the shard when the manifest has a kv section that is not the
 *   unified (`sqlite`) one, or no valid `kv.key_encoding`.
 */
export function shardyfusionShardSpec(manifest: Manifest, entry: ShardEntry): ShardyfusionShardSpec {
  const spec: ShardyfusionShardSpec = { backend: manifest.index.backend, dim: manifest.index.dim, metric: manifest.index.metric, rowCount: entry.vector_count, shardUrl: entry.url };
  const kv = manifest.kv as ShardyfusionKvSpec | undefined;
  if (kv !== undefined) {
    const encoding = kv.key_encoding;
    if (typeof encoding !== 'string' || !(KEY_ENCODINGS as readonly string[]).includes(encoding)) {
      throw new VectorIndexError(`shard ${entry.db_id}: the manifest's kv.key_encoding is ${JSON.stringify(encoding)}, expected one of ${KEY_ENCODINGS.join(', ')}`);
    }
    spec.kv = { backend: kv.backend, keyType: kv.key_type, keyEncoding: encoding as ShardyfusionKeyEncoding };
  }
  return spec;
}

/**
 * Opens shard `entry` of a translated shardyfusion manifest from its local folder `dir` (a copy
 * of the shard's `db=<05d>/attempt=<nn>/` folder holding `shard.db` and `shard.sidecar`).
 * @returns the shard's reader; a {@link KvShardReader} whose `kv` takes canonical keys for a
 *   unified snapshot.
 * @throws VectorIndexError naming the shard (and file) when the backend is not sqlite-vec (LanceDB
 *   is read elsewhere), the file fails the sidecar check, or the shard cannot be opened (see
 *   {@link ShardyfusionSqliteVecReader.open}, `SqliteKvReader.open`).
 */
export async function openShardyfusionShard(manifest: Manifest, entry: ShardEntry, dir: string): Promise<ShardIndexReader> {
  return openShardyfusionShardWith(shardyfusionShardSpec(manifest, entry), entry.db_id, dir);
}

/**
 * {@link openShardyfusionShard} from an explicit spec (for callers that hold the fields
 * elsewhere than in the Manifest type).
 * @param onSidecarCheck receives what the sidecar check established (e.g. to log it).
 * @throws as {@link openShardyfusionShard}.
 */
export async function openShardyfusionShardWith(
  spec: ShardyfusionShardSpec,
  dbId: number,
  dir: string,
  onSidecarCheck?: (check: SidecarCheck) => void,
): Promise<ShardIndexReader> {
  if (spec.backend === 'lancedb') {
    const kv = spec.kv;
    if (kv !== undefined && kv.backend !== 'slatedb') throw new VectorIndexError(`shard ${dbId} (${dir}): shardyfusion LanceDB shards pair with a SlateDB KV store, not ${kv.backend}`);
    return openShardyfusionLanceShard({
      dir,
      dbId,
      dim: spec.dim,
      metric: spec.metric,
      composite: kv !== undefined,
      rowCount: spec.rowCount ?? 0,
      wrapKv: kv && ((store) => new EncodedKeyKvReader(store, kv.keyType, kv.keyEncoding, `shard ${dbId} SlateDB (${dir})`)),
    });
  }
  if (spec.kv !== undefined && spec.kv.backend !== 'sqlite') {
    throw new VectorIndexError(`shard ${dbId} (${dir}): a shardyfusion sqlite-vec shard holds its keys in its own kv table, not in ${spec.kv.backend}`);
  }
  if (spec.backend !== 'sqlite-vec') throw new VectorIndexError(`shard ${dbId} (${dir}): shardyfusion writes no ${spec.backend} shards`);
  if (spec.verifySidecar !== false) {
    const check = await verifyShardDbAgainstSidecar(dir, dbId, SHARDYFUSION_SHARD_DB, spec.shardUrl === undefined ? undefined : spec.shardUrl + SHARDYFUSION_SHARD_DB);
    onSidecarCheck?.(check);
  }
  const index = ShardyfusionSqliteVecReader.open(dir, dbId, { dim: spec.dim, metric: spec.metric, rowCount: spec.rowCount });
  if (spec.kv === undefined) return index;
  try {
    const table = SqliteKvReader.open(dir, SHARDYFUSION_SHARD_DB, dbId);
    return new KvShardReader(index, new EncodedKeyKvReader(table, spec.kv.keyType, spec.kv.keyEncoding, `shard ${dbId} kv table (${index.file})`));
  } catch (err) {
    index.close();
    throw err instanceof VectorIndexError ? err : new VectorIndexError(`shard ${dbId} (${index.file}): cannot open the kv table: ${errorMessage(err)}`, { cause: err });
  }
}
