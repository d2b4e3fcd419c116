/**
 * Builds one shard's LanceDB table: rows are appended in batches (so the writer streams), then the
 * table is compacted, indexed and old versions are removed, leaving a minimal set of files to
 * upload.
 *
 * Index choice (`index_type`):
 * - `auto`: an exact IVF-flat index with one partition (every query scans the whole shard, so
 *   results are exact) while the shard has fewer than `hnsw_min_rows` rows; HNSW-SQ beyond.
 * - `ivf_flat`: IVF-flat with `num_partitions` partitions (default 1 = exact).
 * - `hnsw_sq`: HNSW over scalar-quantised vectors (params `m`, `ef_construction`).
 * A shard with fewer than 2 rows gets no index (a flat scan, exact).
 */
import { LANCE_COLUMNS, LANCE_TABLE_NAME } from '../../common/lancedb-layout.ts';
import * as lancedb from '@lancedb/lancedb';
import { Field, FixedSizeList, Float32, Schema, Table as ArrowTable, Utf8, makeData, RecordBatch, Struct, vectorFromArray } from 'apache-arrow';
import { VectorIndexError, errorMessage } from '../../common/errors.ts';
import type { Metric } from '../../common/distance.ts';

/** Index request for a shard. */
export interface LanceIndexPlan {
  indexType: 'auto' | 'ivf_flat' | 'hnsw_sq';
  /** `auto` switches to HNSW-SQ at this many rows (default 100,000). */
  hnswMinRows: number;
  /** IVF partitions for `ivf_flat` (default 1). */
  numPartitions: number;
  /** HNSW graph degree (default 20). */
  m: number;
  /** HNSW build beam width (default 300). */
  efConstruction: number;
}

/** Default index plan. */
export const DEFAULT_LANCE_INDEX_PLAN: LanceIndexPlan = {
  indexType: 'auto',
  hnswMinRows: 100_000,
  numPartitions: 1,
  m: 20,
  efConstruction: 300,
};

/** A batch of rows for one shard. */
export interface ShardRows {
  ids: string[];
  /** `Float32Array` of length ids.length * dim, row-major. */
  vectors: Float32Array;
  /** JSON text per row, or null. */
  payloads: (string | null)[];
}

/** What a finished shard looks like. */
export interface BuiltShard {
  vectorCount: number;
  /** `ivf_flat`, `hnsw_sq` or `none`. */
  indexType: string;
  /** LanceDB table version. */
  checkpointId: string;
}

/** Writes one shard's table into a local LanceDB folder. */
export class LanceShardWriter {
  private table: lancedb.Table | undefined;
  private rows = 0;
  private readonly schema: Schema;

  /**
   * @param dir local folder of the shard's LanceDB database (created if missing).
   * @param dbId the shard id (for error messages).
   * @param dim vector dimension.
   * @param metric distance metric the index is trained for.
   */
  constructor(
    private readonly dir: string,
    readonly dbId: number,
    private readonly dim: number,
    private readonly metric: Metric,
  ) {
    this.schema = new Schema([
      new Field(LANCE_COLUMNS.id, new Utf8(), false),
      new Field(LANCE_COLUMNS.vector, new FixedSizeList(dim, new Field('item', new Float32(), true)), false),
      new Field(LANCE_COLUMNS.payload, new Utf8(), true),
    ]);
  }

  /** Appends rows. @throws VectorIndexError naming the shard when LanceDB fails. */
  async add(rows: ShardRows): Promise<void> {
    const n = rows.ids.length;
    if (n === 0) return;
    const vectorType = this.schema.fields[1].type as FixedSizeList<Float32>;
    const vectorData = makeData({
      type: vectorType,
      length: n,
      nullCount: 0,
      child: makeData({ type: new Float32(), length: n * this.dim, data: rows.vectors }),
    });
    const idVector = vectorFromArray(rows.ids, new Utf8());
    const payloadVector = vectorFromArray(rows.payloads, new Utf8());
    const structData = makeData({
      type: new Struct(this.schema.fields),
      length: n,
      nullCount: 0,
      children: [idVector.data[0], vectorData, payloadVector.data[0]],
    });
    const batch = new ArrowTable(this.schema, [new RecordBatch(this.schema, structData)]);
    try {
      if (this.table === undefined) {
        const db = await lancedb.connect(this.dir);
        this.table = await db.createTable(LANCE_TABLE_NAME, batch, { mode: 'overwrite' });
      } else {
        await this.table.add(batch);
      }
    } catch (err) {
      throw new VectorIndexError(`shard ${this.dbId}: writing ${n} rows to LanceDB failed: ${errorMessage(err)}`, { cause: err });
    }
    this.rows += n;
  }

  /**
   * Compacts the table, builds its index and deletes superseded versions.
   * @throws VectorIndexError naming the shard when the index cannot be built (e.g. an empty shard).
   */
  async finish(plan: LanceIndexPlan): Promise<BuiltShard> {
    const table = this.table;
    if (table === undefined || this.rows === 0) {
      throw new VectorIndexError(`shard ${this.dbId} received no vectors; use fewer shards or other centroids`);
    }
    let indexType = 'none';
    try {
      await table.optimize({ cleanupOlderThan: new Date(), deleteUnverified: true });
      if (this.rows >= 2) {
        const useHnsw = plan.indexType === 'hnsw_sq' || (plan.indexType === 'auto' && this.rows >= plan.hnswMinRows);
        if (useHnsw) {
          await table.createIndex(LANCE_COLUMNS.vector, {
            config: lancedb.Index.hnswSq({ distanceType: this.metric, m: plan.m, efConstruction: plan.efConstruction, numPartitions: 1 }),
          });
          indexType = 'hnsw_sq';
        } else {
          const partitions = plan.indexType === 'ivf_flat' ? plan.numPartitions : 1;
          await table.createIndex(LANCE_COLUMNS.vector, {
            config: lancedb.Index.ivfFlat({ distanceType: this.metric, numPartitions: Math.min(partitions, this.rows) }),
          });
          indexType = 'ivf_flat';
        }
      }
      await table.optimize({ cleanupOlderThan: new Date(), deleteUnverified: true });
      const version = await table.version();
      return { vectorCount: this.rows, indexType, checkpointId: String(version) };
    } catch (err) {
      throw new VectorIndexError(
        `shard ${this.dbId}: building the ${indexType === 'none' ? plan.indexType : indexType} index over ${this.rows} vectors failed: ${errorMessage(err)}`,
        { cause: err },
      );
    } finally {
      table.close();
    }
  }
}
