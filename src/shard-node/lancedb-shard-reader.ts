/**
 * Opens a downloaded LanceDB shard and searches it.
 */
import { LANCE_COLUMNS, LANCE_TABLE_NAME, lanceDistanceToScore } from '../common/lancedb-layout.ts';
import * as lancedb from '@lancedb/lancedb';
import { VectorIndexError, errorMessage } from '../common/errors.ts';
import type { Metric } from '../common/distance.ts';
import type { ScoredHit } from '../common/topk-merge.ts';

/** One open shard table. */
export class LanceShardReader {
  private constructor(
    readonly dbId: number,
    private readonly table: lancedb.Table,
    private readonly metric: Metric,
  ) {}

  /**
   * Opens the shard's table in `dir` (a LanceDB database folder).
   * @throws VectorIndexError naming the shard when the folder is not a readable LanceDB table.
   */
  static async open(dir: string, dbId: number, metric: Metric): Promise<LanceShardReader> {
    try {
      const db = await lancedb.connect(dir);
      const table = await db.openTable(LANCE_TABLE_NAME);
      return new LanceShardReader(dbId, table, metric);
    } catch (err) {
      throw new VectorIndexError(`shard ${dbId}: cannot open LanceDB table in ${dir}: ${errorMessage(err)}`, { cause: err });
    }
  }

  /**
   * The `topK` nearest rows to `query` (Float32Array of length dim), best first.
   * @throws VectorIndexError naming the shard when LanceDB fails.
   */
  async search(query: Float32Array, topK: number, includePayload: boolean): Promise<ScoredHit[]> {
    const columns: string[] = includePayload ? [LANCE_COLUMNS.id, LANCE_COLUMNS.payload, '_distance'] : [LANCE_COLUMNS.id, '_distance'];
    try {
      const result = await this.table
        .vectorSearch(query)
        .distanceType(this.metric)
        .limit(topK)
        .select(columns)
        .toArrow();
      const ids = result.getChild(LANCE_COLUMNS.id);
      const distances = result.getChild('_distance');
      const payloads = includePayload ? result.getChild(LANCE_COLUMNS.payload) : null;
      if (ids === null || distances === null) throw new Error('result lacks id or _distance');
      const hits: ScoredHit[] = [];
      for (let i = 0; i < result.numRows; i++) {
        hits.push({
          id: String(ids.get(i)),
          score: lanceDistanceToScore(this.metric, Number(distances.get(i))),
          payload_json: payloads ? ((payloads.get(i) as string | null) ?? '') : '',
        });
      }
      return hits;
    } catch (err) {
      throw new VectorIndexError(`shard ${this.dbId}: search failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Closes the table. */
  close(): void {
    this.table.close();
  }
}
