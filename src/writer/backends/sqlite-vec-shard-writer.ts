/**
 * Builds one shard as a single sqlite-vec file (`<dir>/shard.sqlite`, layout in
 * `src/common/sqlite-vec-layout.ts`): rows are appended in one transaction per batch with
 * prepared statements, then `finish()` writes the metadata, VACUUMs and closes the file.
 *
 * better-sqlite3 is synchronous: every method blocks the calling thread while SQLite works. The
 * build runs writers in worker threads through `WriterWorkerPool` (writer-worker-pool.ts);
 * the class is usable directly too (tests, small builds).
 */
import Database from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Metric } from '../../common/distance.ts';
import { ConfigValidationError, VectorIndexError, errorMessage } from '../../common/errors.ts';
import { digestFile } from '../../common/file-digest.ts';
import {
  SQLITE_VEC_COLUMNS as C,
  SQLITE_VEC_FILE_NAME,
  SQLITE_VEC_FORMAT_VERSION,
  SQLITE_VEC_ID_INDEX,
  SQLITE_VEC_TABLES as T,
  SQLITE_VEC_MAX_FILTER_COLUMNS,
  checkSqliteVecConfig,
  filterColumnSqlTypes,
  quantizeInt8,
  vec0NullFlagColumn,
  vec0ColumnSql,
  type SqliteVecMetric,
  type SqliteVecQuantization,
} from '../../common/sqlite-vec-layout.ts';
import { checkShardRows, type BuiltShard, type ShardIndexWriter, type ShardRows } from './shard-index-writer.ts';
import { SqliteKvWriter } from './sqlite-kv-writer.ts';
import { filterRowOf, type FilterColumn, type FilterValue } from '../../common/filter/filter-expr.ts';
import { filterColumnStorageName } from '../../common/filter/filter-sql.ts';

export { checkSqliteVecConfig };

/** Options of {@link SqliteVecShardWriter}. Plain data, so they can be posted to a worker. */
export interface SqliteVecShardWriterOptions {
  /** Local folder of the shard (created if missing); the file is `<dir>/shard.sqlite`. */
  dir: string;
  /** The shard id (db id), for error messages. */
  dbId: number;
  /** Vector dimension, 1..8192. */
  dim: number;
  /** `l2` or `cosine` (`dot` is rejected). */
  metric: Metric;
  /** `none`: float32 vectors, exact scan. `int8`: int8 coarse scan + float32 re-rank. */
  quantization: SqliteVecQuantization;
  /** Required for `int8`: a finite float > 0, q = clamp(round(x / int8Scale), -127, 127). */
  int8Scale?: number;
  /**
   * Unified KV + vector builds (`--kv sqlite`): also write the rows' keys and values into a
   * `kv` table of the same file (through {@link SqliteKvWriter}), before the file is finalized.
   */
  kv?: boolean;
  /**
   * The run's filter columns (manifest `index.filter_columns`), read from each row's payload into
   * `items.f_<name>` and (the first 8) vec0 metadata columns; see sqlite-vec-layout.ts. Default none.
   */
  filterColumns?: FilterColumn[];
}

/** The path of the shard file inside a shard folder. */
export function sqliteVecShardFile(dir: string): string {
  return join(dir, SQLITE_VEC_FILE_NAME);
}

/**
 * Checks writer options without touching the disk.
 * @throws ConfigValidationError for `dot`, an unknown quantization, a bad dimension, or int8
 *   quantization without a valid `int8Scale`.
 */
export function checkSqliteVecWriterOptions(options: SqliteVecShardWriterOptions): SqliteVecMetric {
  const metric = checkSqliteVecConfig(options.metric, options);
  // checkSqliteVecConfig accepts a missing scale (the build computes it later); a writer needs it.
  if (options.quantization === 'int8' && options.int8Scale === undefined) {
    throw new ConfigValidationError(`shard ${options.dbId}: sqlite-vec int8 quantization needs int8Scale (a finite number > 0)`);
  }
  if (!Number.isSafeInteger(options.dbId) || options.dbId < 0) {
    throw new ConfigValidationError(`sqlite-vec shard db id must be a non-negative integer, got ${options.dbId}`);
  }
  if (options.dim === undefined) throw new ConfigValidationError(`shard ${options.dbId}: sqlite-vec writer needs dim`);
  return metric;
}

/** Removes the shard file and the side files SQLite may leave next to it. Never throws. */
function removeShardFiles(file: string): void {
  for (const suffix of ['', '-journal', '-wal', '-shm']) rmSync(file + suffix, { force: true });
}

/** Removes the sqlite-vec shard file in shard folder `dir` and SQLite's side files. Never throws. */
export function removeSqliteVecShardFiles(dir: string): void {
  removeShardFiles(sqliteVecShardFile(dir));
}

/** Prepared statements of an open shard file. */
interface Statements {
  insertIndex: Database.Statement;
  insertItem: Database.Statement;
}

/** Writes one shard's sqlite-vec file. Not thread-safe; calls are awaited one at a time. */
export class SqliteVecShardWriter implements ShardIndexWriter {
  readonly dbId: number;
  /** Absolute or relative path of the shard file (`<dir>/shard.sqlite`). */
  readonly file: string;
  private readonly dim: number;
  private readonly metric: SqliteVecMetric;
  private readonly quantization: SqliteVecQuantization;
  private readonly int8Scale: number;
  private db: Database.Database | undefined;
  private statements: Statements | undefined;
  private rows = 0;
  private state: 'open' | 'finished' | 'aborted' = 'open';
  private readonly int8Buffer: Int8Array;
  /** Unified KV builds: the `kv` table writer on the same file (its own connection). */
  private readonly kv: SqliteKvWriter | undefined;
  private readonly filterColumns: readonly FilterColumn[];
  /** The filter columns that are also vec0 metadata columns. */
  private readonly vec0FilterColumns: readonly FilterColumn[];

  /**
   * Validates the options; the file is created by the first `add()` (an existing file is replaced).
   * @throws ConfigValidationError for invalid options (see {@link checkSqliteVecWriterOptions}).
   */
  constructor(options: SqliteVecShardWriterOptions) {
    this.metric = checkSqliteVecWriterOptions(options);
    this.dbId = options.dbId;
    this.dim = options.dim;
    this.quantization = options.quantization;
    this.int8Scale = options.int8Scale ?? 1;
    this.file = sqliteVecShardFile(options.dir);
    this.int8Buffer = new Int8Array(this.dim);
    this.filterColumns = options.filterColumns ?? [];
    this.vec0FilterColumns = this.filterColumns.slice(0, SQLITE_VEC_MAX_FILTER_COLUMNS);
    this.kv = options.kv === true ? new SqliteKvWriter({ dir: options.dir, fileName: SQLITE_VEC_FILE_NAME, dbId: options.dbId }) : undefined;
  }

  private where(): string {
    return `shard ${this.dbId} (${this.file})`;
  }

  private open(): { db: Database.Database; statements: Statements } {
    if (this.db !== undefined && this.statements !== undefined) return { db: this.db, statements: this.statements };
    mkdirSync(join(this.file, '..'), { recursive: true });
    removeShardFiles(this.file);
    const db = new Database(this.file);
    try {
      sqliteVec.load(db);
      // The journal lives in memory (no -journal file, ROLLBACK still works); a crash mid-build
      // loses the shard, which is rebuilt anyway, so skip fsyncs too.
      db.pragma('journal_mode = MEMORY');
      db.pragma('synchronous = OFF');
      db.exec(`
        CREATE TABLE ${T.meta} (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE ${T.items} (
          rowid INTEGER PRIMARY KEY,
          ${C.id} TEXT NOT NULL,
          ${C.payload} TEXT,
          ${C.vector} BLOB,
          ${C.indexed} INTEGER NOT NULL${this.filterColumns.map((c) => `,\n          ${filterColumnStorageName(c.name)} ${filterColumnSqlTypes(c.type).items}`).join('')}
        );
        CREATE INDEX ${T.items}_unindexed ON ${T.items}(${C.indexed}) WHERE ${C.indexed} = 0;
        CREATE VIRTUAL TABLE ${T.index} USING vec0(${[
          vec0ColumnSql(this.dim, this.metric, this.quantization),
          ...this.vec0FilterColumns.flatMap((c) => [`${filterColumnStorageName(c.name)} ${filterColumnSqlTypes(c.type).vec0}`, `${vec0NullFlagColumn(c.name)} boolean`]),
        ].join(', ')});
      `);
      const value = this.quantization === 'int8' ? 'vec_int8(?)' : '?';
      const vec0Extra = this.vec0FilterColumns.flatMap((c) => [filterColumnStorageName(c.name), vec0NullFlagColumn(c.name)]);
      const itemsExtra = this.filterColumns.map((c) => filterColumnStorageName(c.name));
      const marks = (n: number) => ', ?'.repeat(n);
      const statements: Statements = {
        insertIndex: db.prepare(`INSERT INTO ${T.index}(rowid, ${[C.embedding, ...vec0Extra].join(', ')}) VALUES (?, ${value}${marks(vec0Extra.length)})`),
        insertItem: db.prepare(
          `INSERT INTO ${T.items}(rowid, ${[C.id, C.payload, C.vector, C.indexed, ...itemsExtra].join(', ')}) VALUES (?, ?, ?, ?, ?${marks(itemsExtra.length)})`,
        ),
      };
      if (this.filterColumns.length > 0) {
        const insertMeta = db.prepare(`INSERT INTO ${T.meta}(key, value) VALUES (?, ?)`);
        insertMeta.run('filter_columns', JSON.stringify(this.filterColumns.map((c) => ({ name: c.name, type: c.type }))));
        insertMeta.run('vec0_filter_columns', JSON.stringify(this.vec0FilterColumns.map((c) => c.name)));
      }
      this.db = db;
      this.statements = statements;
      return { db, statements };
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /**
   * Appends rows in one transaction (all or none of the batch is written).
   * @param rows `ids` (n strings), `vectors` (`Float32Array` of length n * dim, finite values),
   *   `payloads` (n JSON texts or null).
   * @throws VectorIndexError naming the shard and file for mismatched lengths, non-finite values,
   *   a writer already finished or aborted, or a SQLite failure. With `kv`: `add` also puts
   *   `keys[i] -> values[i]` into the kv table (InputRecordError naming a duplicate key);
   *   `addSync` writes the vectors only.
   */
  async add(rows: ShardRows): Promise<void> {
    this.addSync(rows);
    if (this.kv === undefined) return;
    const { keys, values } = rows;
    if (keys === undefined || values === undefined) {
      throw new VectorIndexError(`${this.where()}: a batch without keys for a shard with a kv table`);
    }
    // After addSync: the file exists (open() replaces any old file, so the kv writer must not open first).
    for (let i = 0; i < keys.length; i++) await this.kv.put(keys[i], values[i]);
  }

  /** Synchronous body of {@link add} (same contract). */
  addSync(rows: ShardRows): void {
    if (this.state !== 'open') throw new VectorIndexError(`${this.where()}: add() after the writer was ${this.state}`);
    const n = rows.ids.length;
    const dim = this.dim;
    checkShardRows(rows, dim, this.where());
    if (n === 0) return;
    const v = rows.vectors;
    try {
      const { db, statements } = this.open();
      const int8 = this.quantization === 'int8';
      const q = this.int8Buffer;
      const qBytes = Buffer.from(q.buffer, q.byteOffset, q.byteLength);
      const first = this.rows;
      db.transaction(() => {
        for (let r = 0; r < n; r++) {
          const rowid = BigInt(first + r + 1);
          const floatBytes = Buffer.from(v.buffer, v.byteOffset + r * dim * 4, dim * 4);
          let indexed: boolean;
          if (int8) {
            indexed = quantizeInt8(v, r * dim, dim, this.int8Scale, q) || this.metric !== 'cosine';
          } else {
            indexed = this.metric !== 'cosine' || !isZero(v, r * dim, dim);
          }
          const filterRow = this.filterColumns.length === 0 ? undefined : this.filterRow(rows, r);
          const vec0Values: unknown[] = [];
          const itemValues: unknown[] = [];
          if (filterRow !== undefined) {
            for (const c of this.filterColumns) itemValues.push(sqliteValue(c, filterRow[c.name]));
            for (const c of this.vec0FilterColumns) {
              const v = filterRow[c.name];
              vec0Values.push(v === null ? vec0Placeholder(c) : sqliteValue(c, v), v === null ? 1n : 0n);
            }
          }
          if (indexed) statements.insertIndex.run(rowid, int8 ? qBytes : floatBytes, ...vec0Values);
          statements.insertItem.run(rowid, rows.ids[r], rows.payloads[r], int8 || !indexed ? floatBytes : null, indexed ? 1 : 0, ...itemValues);
        }
      })();
      this.rows += n;
    } catch (err) {
      throw new VectorIndexError(`${this.where()}: writing ${n} rows failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  /**
   * The filter values of row `r` of a batch (from its payload).
   * @throws Error naming the record for a payload that is not JSON or holds a value of another type.
   */
  private filterRow(rows: ShardRows, r: number): Record<string, FilterValue | null> {
    try {
      const text = rows.payloads[r];
      return filterRowOf(text === null ? undefined : (JSON.parse(text) as Record<string, unknown>), this.filterColumns);
    } catch (err) {
      throw new Error(`record ${JSON.stringify(rows.ids[r])}: ${errorMessage(err)}`, { cause: err });
    }
  }

  /**
   * Writes the metadata, VACUUMs and closes the file, leaving only `shard.sqlite` in the folder.
   * @returns vectorCount (rows written), indexType `flat` (float32) or `flat_int8`, and
   *   checkpointId = the first 16 hex digits of the file's sha256.
   * @throws VectorIndexError naming the shard and file when no rows were added (no file is left)
   *   or SQLite fails.
   */
  async finish(): Promise<BuiltShard> {
    if (this.state !== 'open') throw new VectorIndexError(`${this.where()}: finish() after the writer was ${this.state}`);
    this.state = 'finished';
    const db = this.db;
    if (db === undefined || this.rows === 0) {
      await this.kv?.abort();
      this.closeQuietly();
      removeShardFiles(this.file);
      throw new VectorIndexError(`${this.where()}: shard ${this.dbId} received no vectors; use fewer shards or other centroids`);
    }
    let kvEntries: number | undefined;
    try {
      // The kv table is complete and its connection closed before the metadata and the VACUUM.
      if (this.kv !== undefined) kvEntries = (await this.kv.finish()).entries;
      const insertMeta = db.prepare(`INSERT INTO ${T.meta}(key, value) VALUES (?, ?)`);
      const meta: [string, string][] = [
        ['format_version', SQLITE_VEC_FORMAT_VERSION],
        ['dim', String(this.dim)],
        ['metric', this.metric],
        ['quantization', this.quantization],
        ['int8_scale', this.quantization === 'int8' ? String(this.int8Scale) : ''],
        ['vector_count', String(this.rows)],
      ];
      db.transaction(() => {
        for (const [k, value] of meta) insertMeta.run(k, value);
      })();
      // Get by id on the node: an index on items(id), built once here (cheaper than keeping it
      // up to date row by row), so the reader needs no per-row id table in memory.
      db.exec(`CREATE INDEX ${SQLITE_VEC_ID_INDEX} ON ${T.items}(${C.id})`);
      db.exec('VACUUM');
      db.pragma('journal_mode = DELETE');
      db.close();
      this.db = undefined;
      for (const suffix of ['-journal', '-wal', '-shm']) rmSync(this.file + suffix, { force: true });
      const { sha256 } = await digestFile(this.file);
      return {
        vectorCount: this.rows,
        indexType: this.quantization === 'int8' ? 'flat_int8' : 'flat',
        checkpointId: sha256.slice(0, 16),
        ...(kvEntries === undefined ? {} : { kvEntries }),
      };
    } catch (err) {
      await this.kv?.abort();
      this.closeQuietly();
      removeShardFiles(this.file);
      throw new VectorIndexError(`${this.where()}: finishing the sqlite-vec file (${this.rows} vectors) failed: ${errorMessage(err)}`, {
        cause: err,
      });
    }
  }

  /** Closes the file and deletes it (a partial shard must not be uploaded). Never throws. */
  async abort(): Promise<void> {
    if (this.state === 'open') this.state = 'aborted';
    await this.kv?.abort();
    this.closeQuietly();
    try {
      if (this.state === 'aborted') removeShardFiles(this.file);
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
    this.statements = undefined;
  }
}

/** A filter value as bound to SQLite (ints and bools as BigInt: vec0 rejects a REAL for them). */
function sqliteValue(column: FilterColumn, v: FilterValue | null | undefined): unknown {
  if (v === null || v === undefined) return null;
  if (column.type === 'int') return BigInt(v as number);
  if (column.type === 'bool') return v ? 1n : 0n;
  return v;
}

/** The vec0 value stored for a NULL (its `fnull_` flag is 1). */
function vec0Placeholder(column: FilterColumn): unknown {
  return column.type === 'string' ? '' : column.type === 'float' ? 0 : 0n;
}

/** True when all `dim` values of `v` from `offset` are zero. */
function isZero(v: Float32Array, offset: number, dim: number): boolean {
  for (let i = 0; i < dim; i++) if (v[offset + i] !== 0) return false;
  return true;
}
