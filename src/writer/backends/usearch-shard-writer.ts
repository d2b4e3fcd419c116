/**
 * Builds one shard as a usearch HNSW index plus its row table (layout in
 * `src/common/usearch-layout.ts`). `add()` appends rows (id, payload) to `rows.sqlite`, one
 * transaction per batch, and each exact float32 vector either to the `vectors` table
 * (`storeVectors`, the build's `--store-vectors`) or to a scratch file `vectors.f32.tmp` that
 * `finish()` deletes; `finish()` reads the vectors back in row order, builds the HNSW graph with
 * usearch's multi-threaded `add` (keys = row numbers), saves `index.usearch`, indexes `rows.id`
 * (for get-by-id without ids in memory) and closes the row table. Only one shard's index is in memory at a time per writer, however
 * many shards the assignment pass has open.
 *
 * better-sqlite3 and usearch are synchronous: the build runs these writers in worker threads
 * (`WriterWorkerPool`), so the main thread keeps reading input and uploading finished shards.
 */
import Database from 'better-sqlite3';
import { closeSync, mkdirSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Metric } from '../../common/distance.ts';
import { ConfigValidationError, VectorIndexError, errorMessage } from '../../common/errors.ts';
import { digestFile } from '../../common/file-digest.ts';
import { FilterColumnSchema, filterRowOf, type FilterColumn } from '../../common/filter/filter-expr.ts';
import {
  USEARCH_FILTERS_TABLE,
  USEARCH_FORMAT_VERSION,
  USEARCH_INDEX_FILE,
  USEARCH_LEAN_FORMAT_VERSION,
  USEARCH_ROWS_FILE,
  checkUsearchParams,
  newUsearchIndex,
  usearchFilterSqlColumn,
  type UsearchIndexParams,
} from '../../common/usearch-layout.ts';
import { checkShardRows, type BuiltShard, type ShardIndexWriter, type ShardRows } from './shard-index-writer.ts';

/** Options of {@link UsearchShardWriter}. Plain data, so they can be posted to a worker. */
export interface UsearchShardWriterOptions {
  /** Local folder of the shard (created if missing). */
  dir: string;
  /** The shard id (db id), for error messages. */
  dbId: number;
  /** Vector dimension (>= 1). */
  dim: number;
  metric: Metric;
  params: UsearchIndexParams;
  /** Threads of usearch's parallel `add` in `finish()` (>= 1). */
  threads: number;
  /**
   * Filter columns (issue 15, the manifest's `index.filter_columns`): each row's values are
   * stored in the `filters` table. Absent or empty: no table (the pre-filter layout).
   */
  filterColumns?: FilterColumn[];
  /**
   * Keep each row's exact float32 vector in `rows.sqlite`'s `vectors` table (dim * 4 bytes a row;
   * the build's `--store-vectors`). Default true here (the layout before issue 22); the build
   * passes false for vector-only runs unless `--store-vectors` is given, and then nodes answer
   * include_vector and the filtered exact scan from the index's own vectors.
   */
  storeVectors?: boolean;
}

/** Scratch file of the float32 vectors of a shard built without `storeVectors` (deleted by finish / abort). */
export const USEARCH_SCRATCH_VECTORS_FILE = 'vectors.f32.tmp';
/** Name of the index on `rows(id)` written by builds since issue 22 (older shards have none). */
export const USEARCH_ID_INDEX = 'rows_id';

/** Prepared inserts of an open row table. */
interface Inserts {
  row: Database.Statement;
  /** Absent without `storeVectors` (the vectors go to the scratch file). */
  vector?: Database.Statement;
  /** Filter values of a row (key, then one value per filter column); absent without filter columns. */
  filters?: Database.Statement;
}

/** Rows read back per `Index.add` call in `finish()`. */
const ADD_CHUNK_ROWS = 8_192;

/**
 * Checks writer options without touching the disk.
 * @throws ConfigValidationError naming the shard or the flag.
 */
export function checkUsearchWriterOptions(o: UsearchShardWriterOptions): void {
  if (!Number.isSafeInteger(o.dbId) || o.dbId < 0) throw new ConfigValidationError(`usearch shard db id must be a non-negative integer, got ${o.dbId}`);
  if (!Number.isSafeInteger(o.dim) || o.dim < 1) throw new ConfigValidationError(`shard ${o.dbId}: usearch writer needs dim >= 1, got ${o.dim}`);
  if (!Number.isSafeInteger(o.threads) || o.threads < 1) throw new ConfigValidationError(`shard ${o.dbId}: usearch build threads must be an integer >= 1, got ${o.threads}`);
  checkUsearchParams(o.metric, o.params);
  const names = new Set<string>();
  for (const c of o.filterColumns ?? []) {
    if (!FilterColumnSchema.safeParse(c).success) throw new ConfigValidationError(`shard ${o.dbId}: invalid filter column ${JSON.stringify(c)}`);
    if (names.has(c.name)) throw new ConfigValidationError(`shard ${o.dbId}: filter column ${c.name} is declared twice`);
    names.add(c.name);
  }
}

/** Removes both files of the usearch shard in folder `dir` and SQLite's side files. Never throws. */
export function removeUsearchShardFiles(dir: string): void {
  for (const f of [USEARCH_INDEX_FILE, USEARCH_ROWS_FILE, `${USEARCH_ROWS_FILE}-journal`, `${USEARCH_ROWS_FILE}-wal`, USEARCH_SCRATCH_VECTORS_FILE]) rmSync(join(dir, f), { force: true });
}

/** Writes one usearch shard. Not thread-safe; calls are awaited one at a time. */
export class UsearchShardWriter implements ShardIndexWriter {
  readonly dbId: number;
  private readonly o: UsearchShardWriterOptions;
  private db: Database.Database | undefined;
  private insert: Inserts | undefined;
  private rows = 0;
  /** The scratch vector file's descriptor (shards built without `storeVectors`). */
  private scratch: number | undefined;
  private state: 'open' | 'finished' | 'aborted' = 'open';

  /**
   * Validates the options; the files are created by the first `add()` (existing ones are replaced).
   * @throws ConfigValidationError for invalid options.
   */
  constructor(options: UsearchShardWriterOptions) {
    checkUsearchWriterOptions(options);
    this.o = options;
    this.dbId = options.dbId;
  }

  private where(): string {
    return `shard ${this.dbId} (${this.o.dir})`;
  }

  private open(): { db: Database.Database; insert: Inserts } {
    if (this.db !== undefined && this.insert !== undefined) return { db: this.db, insert: this.insert };
    mkdirSync(this.o.dir, { recursive: true });
    removeUsearchShardFiles(this.o.dir);
    const db = new Database(join(this.o.dir, USEARCH_ROWS_FILE));
    const store = this.o.storeVectors ?? true;
    try {
      // A crash mid-build loses the shard, which is rebuilt anyway: no journal file, no fsyncs.
      db.pragma('journal_mode = MEMORY');
      db.pragma('synchronous = OFF');
      db.exec(`
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE rows (key INTEGER PRIMARY KEY, id TEXT NOT NULL, payload TEXT);
      `);
      if (store) db.exec('CREATE TABLE vectors (key INTEGER PRIMARY KEY, vector BLOB NOT NULL)');
      else this.scratch = openSync(join(this.o.dir, USEARCH_SCRATCH_VECTORS_FILE), 'w+');
      const row = db.prepare('INSERT INTO rows(key, id, payload) VALUES (?, ?, ?)');
      const vector = store ? db.prepare('INSERT INTO vectors(key, vector) VALUES (?, ?)') : undefined;
      const columns = this.o.filterColumns ?? [];
      let filters: Database.Statement | undefined;
      if (columns.length > 0) {
        const sqlType = { string: 'TEXT', int: 'INTEGER', float: 'REAL', bool: 'INTEGER' } as const;
        db.exec(`CREATE TABLE ${USEARCH_FILTERS_TABLE} (key INTEGER PRIMARY KEY, ${columns.map((c) => `${usearchFilterSqlColumn(c.name)} ${sqlType[c.type]}`).join(', ')})`);
        filters = db.prepare(`INSERT INTO ${USEARCH_FILTERS_TABLE}(key, ${columns.map((c) => usearchFilterSqlColumn(c.name)).join(', ')}) VALUES (?${', ?'.repeat(columns.length)})`);
      }
      this.insert = { row, vector, filters };
      this.db = db;
      return { db, insert: this.insert };
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** See {@link addSync}. */
  async add(rows: ShardRows): Promise<void> {
    this.addSync(rows);
  }

  /**
   * Appends rows in one transaction (all or none of the batch).
   * @param rows `ids` (n strings), `vectors` (`Float32Array` of length n * dim, finite values),
   *   `payloads` (n JSON texts or null).
   * @throws VectorIndexError naming the shard for mismatched lengths, a non-finite value (naming
   *   the id), a writer already finished or aborted, or a SQLite failure.
   */
  addSync(rows: ShardRows): void {
    if (this.state !== 'open') throw new VectorIndexError(`${this.where()}: add() after the writer was ${this.state}`);
    const n = rows.ids.length;
    const dim = this.o.dim;
    checkShardRows(rows, dim, this.where());
    if (n === 0) return;
    const v = rows.vectors;
    try {
      const { db, insert } = this.open();
      const first = this.rows;
      db.transaction(() => {
        for (let r = 0; r < n; r++) {
          insert.row.run(first + r, rows.ids[r], rows.payloads[r]);
          insert.vector?.run(first + r, Buffer.from(v.buffer, v.byteOffset + r * dim * 4, dim * 4));
          if (insert.filters !== undefined) insert.filters.run(first + r, ...this.filterValues(rows.ids[r], rows.payloads[r]));
        }
      })();
      if (this.scratch !== undefined) {
        const bytes = new Uint8Array(v.buffer, v.byteOffset, n * dim * 4);
        for (let done = 0; done < bytes.byteLength; ) done += writeSync(this.scratch, bytes, done, bytes.byteLength - done, first * dim * 4 + done);
      }
      this.rows += n;
    } catch (err) {
      throw new VectorIndexError(`${this.where()}: writing ${n} rows failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  /**
   * The filter column values of one row for the `filters` table (bool as 0 / 1, NULL as null).
   * @throws Error naming the id and column when the payload is not a JSON object or a value has
   *   another type (the build's first pass checks this already).
   */
  private filterValues(id: string, payload: string | null): (string | number | null)[] {
    const columns = this.o.filterColumns ?? [];
    let parsed: unknown = undefined;
    if (payload !== null) {
      try {
        parsed = JSON.parse(payload);
      } catch (err) {
        throw new Error(`payload of id ${JSON.stringify(id)} is not JSON: ${errorMessage(err)}`);
      }
      if (parsed !== null && (typeof parsed !== 'object' || Array.isArray(parsed))) parsed = undefined;
    }
    let row;
    try {
      row = filterRowOf((parsed ?? undefined) as Record<string, unknown> | undefined, columns);
    } catch (err) {
      throw new Error(`id ${JSON.stringify(id)}: ${errorMessage(err)}`);
    }
    return columns.map((c) => {
      const value = row[c.name];
      return typeof value === 'boolean' ? (value ? 1 : 0) : (value ?? null);
    });
  }

  /**
   * Builds the HNSW index over every added row, saves `index.usearch`, writes the metadata and
   * closes `rows.sqlite`, leaving only those two files in the folder.
   * @returns vectorCount, indexType `hnsw`, checkpointId = the first 16 hex digits of the index
   *   file's sha256.
   * @throws VectorIndexError naming the shard when no rows were added (no file is left), or
   *   usearch or SQLite fails (the files are removed).
   */
  async finish(): Promise<BuiltShard> {
    if (this.state !== 'open') throw new VectorIndexError(`${this.where()}: finish() after the writer was ${this.state}`);
    this.state = 'finished';
    const db = this.db;
    if (db === undefined || this.rows === 0) {
      this.closeQuietly();
      removeUsearchShardFiles(this.o.dir);
      throw new VectorIndexError(`${this.where()}: shard ${this.dbId} received no vectors; use fewer shards or other centroids`);
    }
    const { dim, metric, params } = this.o;
    const indexFile = join(this.o.dir, USEARCH_INDEX_FILE);
    try {
      const index = newUsearchIndex(dim, metric, params, params.efSearch);
      const read = this.scratch === undefined ? db.prepare<[number, number], { key: number; vector: Buffer }>('SELECT key, vector FROM vectors WHERE key >= ? AND key < ? ORDER BY key') : undefined;
      const chunk = new Float32Array(ADD_CHUNK_ROWS * dim);
      const chunkBytes = new Uint8Array(chunk.buffer);
      for (let start = 0; start < this.rows; start += ADD_CHUNK_ROWS) {
        const end = Math.min(this.rows, start + ADD_CHUNK_ROWS);
        if (read === undefined) {
          const want = (end - start) * dim * 4;
          for (let done = 0; done < want; ) {
            const got = readSync(this.scratch!, chunkBytes, done, want - done, start * dim * 4 + done);
            if (got === 0) throw new Error(`${USEARCH_SCRATCH_VECTORS_FILE} ends before row ${start + Math.floor(done / (dim * 4))}`);
            done += got;
          }
        } else {
          let r = 0;
          for (const row of read.iterate(start, end)) {
            if (row.key !== start + r) throw new Error(`row ${start + r} is missing from ${USEARCH_ROWS_FILE}`);
            chunkBytes.set(row.vector, r * dim * 4);
            r++;
          }
        }
        const keys = new BigUint64Array(end - start);
        for (let i = 0; i < keys.length; i++) keys[i] = BigInt(start + i);
        index.add(keys, chunk.subarray(0, (end - start) * dim), this.o.threads);
      }
      if (index.size() !== this.rows) throw new Error(`the index holds ${index.size()} vectors, expected ${this.rows}`);
      index.save(indexFile);
      const insertMeta = db.prepare('INSERT INTO meta(key, value) VALUES (?, ?)');
      const meta: [string, string][] = [
        ['format_version', this.scratch === undefined ? USEARCH_FORMAT_VERSION : USEARCH_LEAN_FORMAT_VERSION],
        ['dim', String(dim)],
        ['metric', metric],
        ['quantization', params.quantization],
        ['m', String(params.m)],
        ['ef_construction', String(params.efConstruction)],
        ['ef_search', String(params.efSearch)],
        ['vector_count', String(this.rows)],
        ['stored_vectors', this.scratch === undefined ? 'float32' : 'none'],
      ];
      if ((this.o.filterColumns ?? []).length > 0) meta.push(['filter_columns', JSON.stringify(this.o.filterColumns)]);
      db.transaction(() => {
        for (const [k, value] of meta) insertMeta.run(k, value);
      })();
      db.exec(`CREATE INDEX ${USEARCH_ID_INDEX} ON rows(id)`);
      db.pragma('journal_mode = DELETE');
      db.close();
      this.db = undefined;
      this.closeScratch();
      const { sha256 } = await digestFile(indexFile);
      return { vectorCount: this.rows, indexType: 'hnsw', checkpointId: sha256.slice(0, 16) };
    } catch (err) {
      this.closeQuietly();
      removeUsearchShardFiles(this.o.dir);
      throw new VectorIndexError(`${this.where()}: building the usearch index (${this.rows} vectors) failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Closes the row table and deletes the shard's files (a partial shard must not be uploaded). Never throws. */
  async abort(): Promise<void> {
    if (this.state === 'open') this.state = 'aborted';
    this.closeQuietly();
    try {
      if (this.state === 'aborted') removeUsearchShardFiles(this.o.dir);
    } catch {
      // abort never throws
    }
  }

  private closeQuietly(): void {
    try {
      this.db?.close();
    } catch {
      // already closed or unusable
    }
    this.db = undefined;
    this.insert = undefined;
    this.closeScratch();
  }

  /** Closes and deletes the scratch vector file, if any. Never throws. */
  private closeScratch(): void {
    if (this.scratch === undefined) return;
    try {
      closeSync(this.scratch);
    } catch {
      // already closed
    }
    this.scratch = undefined;
    rmSync(join(this.o.dir, USEARCH_SCRATCH_VECTORS_FILE), { force: true });
  }
}
