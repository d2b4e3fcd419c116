/**
 * Opens one downloaded shard of a shardyfusion LanceDB snapshot (shardyfusion b5ad9a1):
 *
 * - vector-only (`shardyfusion.vector.write_sharded` + `LanceDbWriterFactory`): the LanceDB table
 *   `vector_index` at `<dir>/vector_index.lance` (`vector/adapters/lancedb_adapter.py:89,221-233`);
 * - composite KV + vector (`CompositeFactory(SlateDbFactory, LanceDbWriterFactory)`): the same
 *   table at `<dir>/vector/vector_index.lance` (`composite_adapter.py:108-116`, reader :282-289) and a SlateDB
 *   database whose root is the shard folder itself (`DbBuilder("", ObjectStore.resolve(db_url))`,
 *   `slatedb_adapter.py:203-205`; read with `DbReaderBuilder("", store)` and its default WAL
 *   replay, `reader/_types.py:256-258`).
 *
 * Table columns (`lancedb_adapter.py:77-81`): `id` utf8 (`str(id)`: an int id is its decimal text,
 * a str id itself, :103), `vector` fixed_size_list<float32>[dim], `payload` utf8
 * (`json.dumps(payload)`, e.g. `{"label": 9}`, or null). These are shardfleet's own LanceDB
 * columns, so the shard is read by shardfleet's `LanceShardReader` with the table name changed.
 *
 * Search: shardyfusion issues `table.search(q).limit(top_k)` (`lancedb_adapter.py:389-392`): no
 * distance type (LanceDB then uses the index's metric, which is the snapshot's), no nprobes, ef or
 * refine factor. `LanceShardReader` with no options issues the same query with the snapshot's metric
 * named, which LanceDB treats as the default when the index has that metric (the tests compare
 * the two on every query), so the hits (ids, order within a shard) are shardyfusion's. Exception:
 * a shard whose index build failed (shardyfusion logs and goes on, :186-190; e.g. PQ training
 * needs 256 rows) has no index, and shardyfusion's query then scans it with LanceDB's default l2
 * whatever the snapshot's metric; this reader scans it with the snapshot's metric.
 * The index shardyfusion builds (`lancedb_adapter.py:134-190`, on seal and again on close) is
 * IVF_HNSW_PQ with ONE PQ sub-vector (`min(dim // 16, 1)`, :176), so that search is approximate (measured on the
 * committed from-source fixtures: recall@10 0.572 for l2 at num_probes 2, 0.416 for cosine over
 * all shards; 35 and 36 of the 50 queries have ties at k, and every query has tied scores in its
 * top 10: shardyfusion breaks them by shard order, then LanceDB's row order) and its distances are
 * PQ estimates; `refineFactor` re-ranks with exact distances (refineFactor 20: recall@10 0.992
 * and 0.972; even a large factor is not exhaustive, as the graph does not reach every row).
 *
 * Scores: LanceDB's `_distance`, unchanged, which is also what shardyfusion's LanceDB reader returns
 * (`lancedb_adapter.py:404`): l2 = squared Euclidean distance (the Hit contract; shardyfusion's
 * sqlite-vec reader reports the unsquared one); cosine = 1 - cos when the distance is exact (flat
 * scan, or a refined search). An UNREFINED search through the PQ index returns PQ estimates: for
 * cosine, LanceDB 0.37.1 compares the normalised query with the row's PQ code word (the L2^2 between
 * unit vectors, 2 * (1 - cos), when the code word is the row itself); measured on a build of the
 * composite fixture, the estimate / (1 - cos) ratio spanned 0.2 .. 2.5 (median 1.42). The ids and order are still
 * shardyfusion's, since it ranks by the same estimates.
 */
import { join } from 'node:path';
import { VectorIndexError, errorMessage } from '../../common/errors.ts';
import type { Metric } from '../../common/distance.ts';
import type { LanceTableLayout } from '../../common/lancedb-layout.ts';
import type { SlateDbKvLayout } from '../../common/kv-layout.ts';
import { LanceShardReader } from '../../shard-node/lancedb-shard-reader.ts';
import { SlateDbKvReader } from '../../shard-node/slatedb-kv-reader.ts';
import type { KvStoreReader } from '../../shard-node/kv-store-reader.ts';
import { KvShardReader } from '../../shard-node/kv-shard-reader.ts';
import type { ShardIndexReader } from '../../shard-node/shard-index-reader.ts';

/** shardyfusion's table name (`lancedb_adapter.py:89`). */
export const SHARDYFUSION_LANCE_LAYOUT: LanceTableLayout = { tableName: 'vector_index' };

/**
 * shardyfusion's composite SlateDB database: at the shard folder's root (`''`), with its data in
 * the WAL (the writer only flushes the WAL, `slatedb_adapter.py:274-279`, so a reader replays it).
 */
export const SHARDYFUSION_SLATEDB_LAYOUT: SlateDbKvLayout = { path: '', replayWal: true };

/**
 * The LanceDB database folder of a shard, relative to the shard folder: `''` (vector-only; the
 * table is `vector_index.lance`) or `vector` (composite; `vector/vector_index.lance`).
 */
export function shardyfusionLanceDbPath(composite: boolean): string {
  return composite ? 'vector' : '';
}

/** Options of {@link openShardyfusionLanceShard}. */
export interface ShardyfusionLanceShardOptions {
  /** The shard's local folder (a copy of the shard's `db_url`). */
  dir: string;
  /** The shard id (shardyfusion `db_id`), for errors. */
  dbId: number;
  /** Vector dimension (manifest `custom.vector.dim`). */
  dim: number;
  /** The snapshot's metric (manifest `custom.vector.metric`; `dot_product` maps to `dot`). */
  metric: Metric;
  /** Composite KV + vector shard (`custom.vector.unified` with `backend: "lancedb"`). */
  composite: boolean;
  /** The manifest's `row_count` for this shard: the table must hold exactly that many rows. */
  rowCount: number;
  /**
   * Composite: wraps the SlateDB reader (which looks up STORED key bytes), e.g. with the key
   * encoding step (key-encoding.ts EncodedKeyKvReader); default: none.
   */
  wrapKv?: (kv: KvStoreReader) => KvStoreReader;
}

/**
 * Opens a shardyfusion LanceDB shard (see the module docstring) as a {@link ShardIndexReader}:
 * searches, `fetchByIds` (ids as text: an int id is its decimal text) and, for a composite shard,
 * `kv`, a KvStoreReader over the shard's SlateDB that looks up the STORED key bytes it is given
 * (the caller applies shardyfusion's key encoding).
 * @throws VectorIndexError naming the shard and folder when the table cannot be opened, its vector
 *   column is not float32[dim], it holds another number of rows than `rowCount`, or (composite) the
 *   SlateDB database cannot be opened.
 */
export async function openShardyfusionLanceShard(opts: ShardyfusionLanceShardOptions): Promise<ShardIndexReader> {
  const lanceDir = join(opts.dir, shardyfusionLanceDbPath(opts.composite));
  const where = `shard ${opts.dbId}: shardyfusion LanceDB table ${join(lanceDir, `${SHARDYFUSION_LANCE_LAYOUT.tableName}.lance`)}`;
  const index = await LanceShardReader.open(lanceDir, opts.dbId, opts.metric, undefined, [], SHARDYFUSION_LANCE_LAYOUT);
  try {
    const { dim, rows } = await index.describe();
    if (dim !== opts.dim) throw new VectorIndexError(`${where}: vector column has dim ${dim}, the manifest says ${opts.dim}`);
    if (rows !== opts.rowCount) throw new VectorIndexError(`${where}: holds ${rows} rows, the manifest's row_count is ${opts.rowCount}`);
  } catch (err) {
    index.close();
    if (err instanceof VectorIndexError) throw err;
    throw new VectorIndexError(`${where}: cannot read its schema: ${errorMessage(err)}`, { cause: err });
  }
  if (!opts.composite) return index;
  let kv: SlateDbKvReader;
  try {
    kv = await SlateDbKvReader.open(opts.dir, opts.dbId, SHARDYFUSION_SLATEDB_LAYOUT);
  } catch (err) {
    index.close();
    throw err;
  }
  return new KvShardReader(index, opts.wrapKv ? opts.wrapKv(kv) : kv);
}
