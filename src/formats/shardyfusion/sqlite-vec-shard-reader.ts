/**
 * Reads the vector side of a shardyfusion sqlite-vec shard, `<shard dir>/shard.db`, as written
 * by shardyfusion's `SqliteVecAdapter` (vector-only snapshots and unified KV+vector snapshots
 * alike; shardyfusion/sqlite_vec_adapter.py at b5ad9a1):
 *
 * - `vec_index USING vec0(embedding float[dim] distance_metric=l2|cosine)` (:283-286), rowids
 *   0..n-1 in insertion order (:354-372),
 * - `vec_payloads(rowid INTEGER PRIMARY KEY, payload TEXT NOT NULL)`: `json.dumps(payload)`, no
 *   row when the vector had no payload (:290-293, :367-368),
 * - `vec_id_map(internal_id INTEGER PRIMARY KEY, original_id TEXT NOT NULL)`: the caller's id as
 *   `{"v": id, "t": "int"|"str"}` (:296-299, :363-366; decoding in `vector-id.ts`),
 * - `kv(k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID` (:275-278): not read here (see
 *   `open-shard.ts`, which wraps the shard with a KV reader for unified snapshots).
 *
 * Search is shardyfusion's per-shard search (`_run_vec_search`, :823-880): `SELECT rowid,
 * distance FROM vec_index WHERE embedding MATCH ? AND k = ?`, hits in vec0's order, never
 * re-sorted, because that is the per-shard order shardyfusion returns. Among EQUAL distances that
 * order is vec0's own, neither by rowid nor by id (measured with sqlite-vec 0.1.9: 3,000 rows at
 * one distance, k=5 gave rowids 1022, 1015, 1008, 1001, 994: the first 1024-row chunk's ties,
 * from its end). Ids are decoded from `vec_id_map`, payload = the stored JSON text. Scores follow
 * shardfleet's Hit contract: l2 = vec0's Euclidean distance SQUARED, cosine = 1 - cos unchanged
 * (`sqliteVecDistanceToScore`). Across shards shardyfusion merges stably (equal scores: the
 * earlier-queried shard first, vector/_merge.py:18-35) while shardfleet's `mergeTopK` breaks
 * ties by id, so the two can differ only in the order of exactly equal scores.
 *
 * A cosine query of all zeros (or a stored zero vector) gets a NaN distance from vec0; such a
 * hit scores 1 (cos taken as 0, as shardfleet's own readers do) where shardyfusion returns NaN,
 * and vec0's order among them is kept (measured: rowid order).
 *
 * The file is opened READ-ONLY with sqlite-vec loaded (`openSqliteVecReadOnly`, shared with
 * shardfleet's own sqlite-vec reader). better-sqlite3 is synchronous: open, search and fetch
 * block the calling thread while SQLite works (vec0 scans every allocated 1024-row chunk:
 * measured on 2 busy cores, about 2-2.5 ms per k=10 query per sample shard of 323..579 rows,
 * of which the id / payload lookups of the 10 hits take about 0.2 ms).
 */
import type Database from 'better-sqlite3';
import { join } from 'node:path';
import type { Metric } from '../../common/distance.ts';
import { InvalidQueryError, VectorIndexError, errorMessage } from '../../common/errors.ts';
import { blobToFloats, openSqliteVecReadOnly } from '../../common/sqlite-vec-file.ts';
import { IdHashTable } from '../../common/id-hash-table.ts';
import { SQLITE_VEC_MAX_K, sqliteVecDistanceToScore, type SqliteVecMetric } from '../../common/sqlite-vec-layout.ts';
import { rowsInRequestOrder, type FetchedRow, type ShardHit, type ShardIndexReader, type ShardQueryOptions } from '../../shard-node/shard-index-reader.ts';
import { decodeIdMapValue, unmappedRowId } from './vector-id.ts';

/** File name of a shardyfusion shard database inside its folder (sqlite_vec_adapter.py:57). */
export const SHARDYFUSION_SHARD_DB = 'shard.db';

/** Tables of a shardyfusion sqlite-vec shard the vector reader needs. */
const TABLES = ['vec_index', 'vec_payloads', 'vec_id_map'] as const;

/** What the manifest says about a shard, checked against the file at open. */
export interface ShardyfusionSqliteVecSpec {
  /** Vector dimension (`custom.vector.dim`); must equal vec0's `float[dim]`. */
  dim: number;
  /** Metric (`custom.vector.metric`): `l2` or `cosine`; must equal vec0's `distance_metric`. */
  metric: Metric;
  /**
   * The manifest's `shards.row_count` for this shard, or undefined to skip the check: must equal
   * the number of `vec_id_map` rows (one per vector written, sqlite_vec_adapter.py:363-366).
   */
  rowCount?: number;
}

/** The vec0 declaration of `vec_index`, read from `sqlite_master`. */
export interface Vec0Declaration {
  /** Element type of column `embedding` (`float`, `int8`, `bit`, ...). */
  type: string;
  dim: number;
  /** `distance_metric` (vec0's default: `l2`). */
  metric: string;
}

/**
 * Parses a `CREATE VIRTUAL TABLE vec_index USING vec0(embedding float[784] distance_metric=l2)`
 * statement.
 * @returns the `embedding` column's type, dimension and metric, or undefined when the statement
 *   is not a vec0 table with an `embedding` vector column.
 */
export function parseVec0Declaration(sql: string): Vec0Declaration | undefined {
  const body = /\busing\s+vec0\s*\(([\s\S]*)\)\s*;?\s*$/i.exec(sql)?.[1];
  if (body === undefined) return undefined;
  for (const column of body.split(',')) {
    const m = /^\s*embedding\s+([a-z0-9_]+)\s*\[\s*(\d+)\s*\]([\s\S]*)$/i.exec(column);
    if (!m) continue;
    const metric = /\bdistance_metric\s*=\s*([a-z0-9_]+)/i.exec(m[3]!)?.[1]?.toLowerCase() ?? 'l2';
    return { type: m[1]!.toLowerCase(), dim: Number(m[2]), metric };
  }
  return undefined;
}

/** A row of the KNN statement. */
interface KnnRow {
  rowid: number;
  distance: number | null;
  embedding?: Buffer | null;
}

/** A row's id map and payload, read by rowid. */
interface RowInfo {
  original_id: string | null;
  payload: string | null;
}

/** One open, read-only shardyfusion sqlite-vec shard. */
export class ShardyfusionSqliteVecReader implements ShardIndexReader {
  /**
   * Hash of each decoded Hit id -> vec0 rowid of every `vec_id_map` row (8 bytes a row,
   * {@link IdHashTable}), built by the first {@link fetchByIds} in one scan
   * (`vec_id_map.original_id` has no index, and the JSON text of an id is Python's `json.dumps`,
   * which this reader does not rely on reproducing); each candidate's stored id is read back and
   * decoded to confirm it. Dropped by close(). Before issue 22 this was a `Map` of every id
   * (measured on 2 busy cores at 1,000,000 rows: 55-60 MB of heap). The index-free alternative,
   * `WHERE original_id IN (<int form>, <str form>)` per call, took about 100 ms per lookup at
   * 1,000,000 rows.
   */
  private idTable: IdHashTable | undefined;
  /** Prepared read of one row's stored id by rowid (confirms hash table candidates). */
  private idStatement: Database.Statement<[number], string> | undefined;
  /** Prepared `WHERE rowid = ?` vector reads of {@link fetchByIds}, prepared on first use. */
  private vectorStatement: Database.Statement<[number], { embedding: Buffer | null }> | undefined;

  private constructor(
    readonly dbId: number,
    /** Path of `shard.db`. */
    readonly file: string,
    private readonly db: Database.Database,
    /** vec0's metric. */
    private readonly metric: SqliteVecMetric,
    /** Vector dimension (the file's, equal to the manifest's). */
    readonly dim: number,
    /** Rows of `vec_id_map`. */
    readonly rowCount: number,
    /** KNN statements without / with the stored vector. */
    private readonly knn: readonly [Database.Statement<[Buffer, number], KnnRow>, Database.Statement<[Buffer, number], KnnRow>],
    /** A row's `original_id` and `payload` by rowid. */
    private readonly rowInfo: Database.Statement<[number, number], RowInfo>,
  ) {}

  /** `shard <id> (<file>)`, for messages. */
  private get where(): string {
    return `shard ${this.dbId} (${this.file})`;
  }

  /**
   * Opens `<dir>/shard.db` read-only (synchronously) and checks it against the manifest.
   * @param dir the shard's local folder (a copy of shardyfusion's `db=<05d>/attempt=<nn>/`).
   * @param dbId the shard id, for messages.
   * @param spec the manifest's dim, metric and (optional) row count.
   * @throws VectorIndexError naming the shard and file when the file is missing or not SQLite,
   *   one of `vec_index` / `vec_payloads` / `vec_id_map` is missing, `vec_index` is not a vec0
   *   `embedding float[dim]` table, its dimension or metric differs from the manifest's, or
   *   `vec_id_map` holds another number of rows than `spec.rowCount`; also for the metric `dot`
   *   (sqlite-vec has none, so shardyfusion cannot have written it).
   */
  static open(dir: string, dbId: number, spec: ShardyfusionSqliteVecSpec): ShardyfusionSqliteVecReader {
    const file = join(dir, SHARDYFUSION_SHARD_DB);
    const where = `shard ${dbId} (${file})`;
    let db: Database.Database | undefined;
    try {
      if (spec.metric !== 'l2' && spec.metric !== 'cosine') throw new Error(`the manifest's metric is ${spec.metric}; shardyfusion's sqlite-vec shards are l2 or cosine`);
      db = openSqliteVecReadOnly(file);
      const schema = new Map(
        db
          .prepare<[], { name: string; sql: string | null }>(`SELECT name, sql FROM sqlite_master WHERE type = 'table'`)
          .all()
          .map((r) => [r.name, r.sql ?? '']),
      );
      const missing = TABLES.filter((t) => !schema.has(t));
      if (missing.length > 0) throw new Error(`the file has no ${missing.join(', ')} table (is it a shardyfusion sqlite-vec shard?)`);
      const vec0 = parseVec0Declaration(schema.get('vec_index')!);
      if (vec0 === undefined) throw new Error(`vec_index is not a vec0 table with an embedding column: ${schema.get('vec_index')}`);
      if (vec0.type !== 'float' && vec0.type !== 'f32') throw new Error(`vec_index.embedding is ${vec0.type}[${vec0.dim}]; shardyfusion writes float[dim]`);
      if (vec0.dim !== spec.dim) throw new Error(`vec_index holds ${vec0.dim}-dimensional vectors, the manifest says dim ${spec.dim}`);
      if (vec0.metric !== spec.metric) throw new Error(`vec_index uses distance_metric=${vec0.metric}, the manifest says metric ${spec.metric}`);
      const rows = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM vec_id_map').get()!.n;
      if (spec.rowCount !== undefined && rows !== spec.rowCount) {
        throw new Error(`vec_id_map holds ${rows} rows, the manifest's row_count is ${spec.rowCount}`);
      }
      const knn = [
        db.prepare<[Buffer, number], KnnRow>('SELECT rowid, distance FROM vec_index WHERE embedding MATCH ? AND k = ?'),
        db.prepare<[Buffer, number], KnnRow>('SELECT rowid, distance, embedding FROM vec_index WHERE embedding MATCH ? AND k = ?'),
      ] as const;
      const rowInfo = db.prepare<[number, number], RowInfo>(
        'SELECT (SELECT original_id FROM vec_id_map WHERE internal_id = ?) AS original_id, (SELECT payload FROM vec_payloads WHERE rowid = ?) AS payload',
      );
      return new ShardyfusionSqliteVecReader(dbId, file, db, spec.metric, vec0.dim, rows, knn, rowInfo);
    } catch (err) {
      try {
        db?.close();
      } catch {
        // the error below is the one that matters
      }
      throw new VectorIndexError(`${where}: cannot open the shardyfusion sqlite-vec shard: ${errorMessage(err)}`, { cause: err });
    }
  }

  /**
   * The `topK` nearest rows to `query`, in vec0's order (by distance; equal distances in vec0's
   * own order, as shardyfusion returns them, sqlite_vec_adapter.py:834-878).
   * @param query `Float32Array` of length dim, finite values.
   * @param topK hits wanted, at most 4096 (vec0's limit); <= 0 gives [].
   * @param includePayload when false, `payload_json` is ""; when true the stored JSON text
   *   (`json.dumps(payload)`, e.g. `{"label": 9}`), "" for a row without a payload.
   * @param options `includeVector`: each hit gets `vector`, a copy of the stored float32 vector.
   *   `filter`: refused (InvalidQueryError): shardyfusion declares no filter columns.
   *   `nprobes`, `ef`, `refineFactor`: ignored (vec0 is an exact scan).
   * @returns hits with id = the decoded vector id (an int id in decimal, a str id as is) and
   *   score = squared Euclidean distance (l2) or 1 - cos (cosine; a NaN distance, which vec0
   *   gives for a zero vector, scores 1 as cos is taken as 0).
   * @throws InvalidQueryError for a query of the wrong length, non-finite values, or a filter;
   *   VectorIndexError naming the shard and file when SQLite fails or an id cannot be decoded.
   */
  async search(query: Float32Array, topK: number, includePayload: boolean, options: ShardQueryOptions = {}): Promise<ShardHit[]> {
    return this.searchSync(query, topK, includePayload, options);
  }

  /** Synchronous body of {@link search} (same contract). */
  searchSync(query: Float32Array, topK: number, includePayload: boolean, options: ShardQueryOptions = {}): ShardHit[] {
    this.checkQuery(query, options);
    const k = Math.min(Math.floor(topK), SQLITE_VEC_MAX_K);
    if (!(k > 0)) return [];
    const includeVector = options.includeVector === true;
    try {
      const rows = this.knn[includeVector ? 1 : 0].all(Buffer.from(query.buffer, query.byteOffset, query.byteLength), k);
      return rows.map((r) => {
        const info = this.rowInfo.get(r.rowid, r.rowid);
        const id = info?.original_id == null ? unmappedRowId(r.rowid) : this.decodeId(info.original_id, r.rowid);
        const distance = r.distance ?? Number.NaN;
        const score = Number.isNaN(distance) && this.metric === 'cosine' ? 1 : sqliteVecDistanceToScore(this.metric, distance);
        const hit: ShardHit = { id, score, payload_json: includePayload ? (info?.payload ?? '') : '' };
        if (includeVector) {
          if (r.embedding == null) throw new Error(`rowid ${r.rowid} has no stored vector`);
          hit.vector = blobToFloats(r.embedding, this.dim, `rowid ${r.rowid}`).slice();
        }
        return hit;
      });
    } catch (err) {
      throw new VectorIndexError(`${this.where}: search failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  /**
   * Point lookup by Hit id: one slot per id of `ids`, in order (repeats allowed), the row whose
   * decoded vector id has that text (`"1030"` finds the int id 1030, and the str id "1030" when
   * that is what is stored; when both are stored, the one with the lower rowid), or `undefined`.
   * The first call scans `vec_id_map` once into a compact id hash table (8 bytes a row, see
   * {@link idTable}); each call then confirms candidates and reads the found rows by rowid.
   * @param includePayload when false, `payload_json` is ""; else the stored JSON text ("" when none).
   * @param includeVector when true, `vector` is a copy of the stored float32 vector (length dim).
   * @throws VectorIndexError naming the shard and file when the shard is closed, SQLite fails or
   *   an id cannot be decoded.
   */
  async fetchByIds(ids: readonly string[], includePayload: boolean, includeVector: boolean): Promise<Array<FetchedRow | undefined>> {
    return this.fetchByIdsSync(ids, includePayload, includeVector);
  }

  /** Synchronous body of {@link fetchByIds} (same contract). */
  fetchByIdsSync(ids: readonly string[], includePayload: boolean, includeVector: boolean): Array<FetchedRow | undefined> {
    if (!this.db.open) throw new VectorIndexError(`${this.where}: fetch by id after the shard was closed`);
    try {
      const order = this.rowidsOf(ids);
      const found = new Map<string, FetchedRow>();
      for (const [id, rowid] of order) {
        const row: FetchedRow = { payload_json: includePayload ? (this.rowInfo.get(rowid, rowid)?.payload ?? '') : '' };
        if (includeVector) {
          const blob = this.vectorRead().get(rowid)?.embedding;
          if (blob == null) throw new Error(`id ${JSON.stringify(id)} (rowid ${rowid}) has no vector in vec_index`);
          row.vector = blobToFloats(blob, this.dim, `id ${JSON.stringify(id)}`).slice();
        }
        found.set(id, row);
      }
      return rowsInRequestOrder(ids, found);
    } catch (err) {
      throw new VectorIndexError(`${this.where}: fetch by id failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Closes the file. Idempotent. */
  close(): void {
    this.idTable = undefined;
    this.idStatement = undefined;
    this.vectorStatement = undefined;
    if (this.db.open) this.db.close();
  }

  /** @throws InvalidQueryError for a query {@link search} refuses. */
  private checkQuery(query: Float32Array, options: ShardQueryOptions): void {
    if (options.filter !== undefined) {
      throw new InvalidQueryError(
        `shard ${this.dbId}: filters are not supported on shardyfusion snapshots: shardyfusion declares no filter columns (its shard.db keeps payloads as JSON text only)`,
      );
    }
    if (query.length !== this.dim) throw new InvalidQueryError(`shard ${this.dbId}: query has ${query.length} values, the shard's vectors have ${this.dim}`);
    for (let i = 0; i < query.length; i++) {
      if (!Number.isFinite(query[i])) throw new InvalidQueryError(`shard ${this.dbId}: query value ${i} is ${query[i]}; vectors must be finite`);
    }
  }

  /** Decodes a stored `original_id`; names the row when it cannot. */
  private decodeId(raw: string, rowid: number): string {
    try {
      return decodeIdMapValue(raw);
    } catch (err) {
      throw new Error(`vec_id_map row ${rowid}: ${errorMessage(err)}`, { cause: err });
    }
  }

  /**
   * The distinct ids of `ids` the shard has, each with its lowest rowid, in ascending rowid order
   * (vec0 point lookups into chunk BLOBs stay local). Builds {@link idTable} on first use.
   */
  private rowidsOf(ids: readonly string[]): Array<[id: string, rowid: number]> {
    if (this.idTable === undefined) {
      const rows = this.db.prepare<[], number>('SELECT count(*) FROM vec_id_map').pluck(true).get() ?? 0;
      const scan = this.db.prepare<[], [number, string]>('SELECT internal_id, original_id FROM vec_id_map').raw(true);
      const decoded = function* (this: ShardyfusionSqliteVecReader): Generator<[number, string]> {
        for (const [rowid, raw] of scan.iterate()) yield [rowid, this.decodeId(raw, rowid)];
      };
      this.idTable = IdHashTable.build(decoded.call(this), rows);
    }
    this.idStatement ??= this.db.prepare<[number], string>('SELECT original_id FROM vec_id_map WHERE internal_id = ?').pluck(true);
    const out: Array<[string, number]> = [];
    for (const id of new Set(ids)) {
      // Candidates come in ascending rowid order: the first whose decoded id matches wins.
      for (const rowid of this.idTable.candidates(id)) {
        const raw = this.idStatement.get(rowid);
        if (raw !== undefined && this.decodeId(raw, rowid) === id) {
          out.push([id, rowid]);
          break;
        }
      }
    }
    return out.sort((a, b) => a[1] - b[1]);
  }

  /** The prepared read of one stored vector by rowid. */
  private vectorRead(): Database.Statement<[number], { embedding: Buffer | null }> {
    this.vectorStatement ??= this.db.prepare<[number], { embedding: Buffer | null }>('SELECT embedding FROM vec_index WHERE rowid = ?');
    return this.vectorStatement;
  }
}
