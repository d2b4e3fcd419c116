/**
 * The `unified` KV backend's writer: a `kv(k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID`
 * table in one SQLite file of the shard folder. The file is `<dir>/kv.sqlite` by default; the
 * unified backend points it at the sqlite-vec shard file (`shard.sqlite`) so that vectors and KV
 * travel as one file. The file and the table are created if needed.
 *
 * Entries are buffered and inserted with one prepared statement, one transaction per batch
 * (default 1,000 entries or 8 MiB). Duplicates are found by the primary key: the batch holding
 * the second copy fails (it is rolled back) with an error naming the key. The table must be absent
 * or empty when the writer opens: a shard's KV store is written once.
 *
 * better-sqlite3 (the binding the sqlite-vec backend uses) is synchronous: a batch blocks the
 * calling thread while SQLite works. The connection uses `journal_mode = MEMORY` and
 * `synchronous = OFF` like the sqlite-vec writer (a crash mid-build loses the shard, which is
 * rebuilt anyway), so no side files are left next to the file.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, relative, sep } from 'node:path';
import { InputRecordError, VectorIndexError, errorMessage } from '../../common/errors.ts';
import { KV_SQLITE_DEFAULT_FILE, KV_SQLITE_TABLE as T } from '../../common/kv-layout.ts';
import {
  KV_DEFAULT_BATCH_BYTES,
  KV_DEFAULT_BATCH_ENTRIES,
  checkedEntry,
  duplicateKeyError,
  notOpenError,
  positiveInteger,
  type KvEntry,
  type KvStoreFiles,
  type KvStoreWriter,
} from './kv-store-writer.ts';

/** Options of {@link SqliteKvWriter}. */
export interface SqliteKvWriterOptions {
  /** Local shard folder (created if missing). */
  dir: string;
  /**
   * The SQLite file, relative to `dir` and inside it (default `kv.sqlite`). An existing file is
   * kept (its other tables untouched); a missing one is created.
   */
  fileName?: string;
  /** Shard id, for error messages. */
  dbId?: number;
  /** Entries per batch (transaction), >= 1. Default 1,000. */
  batchEntries?: number;
  /** Bytes (keys + values) per batch, >= 1. Default 8 MiB. */
  batchBytes?: number;
}

/** Side files SQLite may create next to a database file. */
const SIDE_SUFFIXES = ['-journal', '-wal', '-shm'];

/** The open connection and what the writer created (to undo on abort). */
interface OpenFile {
  db: Database.Database;
  insert: Database.Statement<[Buffer, Buffer]>;
  writeBatch: (entries: readonly KvEntry[]) => void;
  createdFile: boolean;
  createdTable: boolean;
  /** First folder `mkdirSync` created for the file, if any. */
  createdDir: string | undefined;
}

/** Writes a shard's `kv` table into a SQLite file. See the module docstring. */
export class SqliteKvWriter implements KvStoreWriter {
  /** Path of the SQLite file (`<dir>/<fileName>`). */
  readonly file: string;
  /** `fileName` normalized to a `/`-separated path relative to the shard folder. */
  readonly relativePath: string;
  private readonly where: string;
  private readonly batchEntries: number;
  private readonly batchBytes: number;
  private open: OpenFile | undefined;
  private buffer: KvEntry[] = [];
  private bufferBytes = 0;
  private entries = 0;
  private state: 'open' | 'finished' | 'aborted' | 'failed' = 'open';

  /**
   * Checks the options; the file is opened (and created) by the first `put` or by `finish`.
   * @throws VectorIndexError when `fileName` leaves `dir` or a batch size is not a positive integer.
   */
  constructor(options: SqliteKvWriterOptions) {
    const fileName = normalize(options.fileName ?? KV_SQLITE_DEFAULT_FILE);
    this.file = join(options.dir, fileName);
    this.where = `${options.dbId === undefined ? '' : `shard ${options.dbId} `}kv table (${this.file})`;
    const rel = relative(options.dir, this.file);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || isAbsolute(fileName)) {
      throw new VectorIndexError(`${this.where}: fileName ${JSON.stringify(options.fileName)} must be a file path inside the shard folder`);
    }
    this.relativePath = rel.split(sep).join('/');
    this.batchEntries = positiveInteger(options.batchEntries ?? KV_DEFAULT_BATCH_ENTRIES, 'batchEntries', this.where);
    this.batchBytes = positiveInteger(options.batchBytes ?? KV_DEFAULT_BATCH_BYTES, 'batchBytes', this.where);
  }

  async put(key: Uint8Array, value: Uint8Array): Promise<void> {
    if (this.state !== 'open') throw notOpenError(this.where, this.state);
    const entry = this.guard(() => checkedEntry(this.where, key, value));
    this.buffer.push(entry);
    this.bufferBytes += entry.key.length + entry.value.length;
    if (this.buffer.length >= this.batchEntries || this.bufferBytes >= this.batchBytes) this.flushBuffer();
  }

  async finish(): Promise<KvStoreFiles> {
    if (this.state !== 'open') throw notOpenError(this.where, this.state);
    this.flushBuffer();
    const { db } = this.guard(() => this.openFile());
    this.guard(() => {
      try {
        db.close();
      } catch (err) {
        throw new VectorIndexError(`${this.where}: closing failed: ${errorMessage(err)}`, { cause: err });
      }
    });
    this.open = undefined;
    this.state = 'finished';
    return { files: [this.relativePath], entries: this.entries };
  }

  async abort(): Promise<void> {
    if (this.state === 'aborted' || this.state === 'finished') return;
    this.state = 'aborted';
    this.buffer = [];
    const open = this.open;
    this.open = undefined;
    if (open === undefined) return;
    try {
      if (!open.createdFile) {
        // The file belongs to someone else (e.g. the sqlite-vec shard): undo only the table.
        if (open.createdTable) open.db.exec(`DROP TABLE IF EXISTS ${T}`);
        else open.db.exec(`DELETE FROM ${T}`); // it was empty when the writer opened
      }
    } catch {
      // best effort
    }
    try {
      open.db.close();
    } catch {
      // best effort
    }
    if (open.createdFile) {
      for (const suffix of ['', ...SIDE_SUFFIXES]) rmSync(this.file + suffix, { force: true });
    }
    if (open.createdDir !== undefined) rmSync(open.createdDir, { recursive: true, force: true });
  }

  /** Runs `fn`; any error it throws marks the writer failed. */
  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      this.state = 'failed';
      throw err;
    }
  }

  private flushBuffer(): void {
    const batch = this.buffer;
    this.buffer = [];
    this.bufferBytes = 0;
    const open = this.guard(() => this.openFile());
    if (batch.length === 0) return;
    this.guard(() => open.writeBatch(batch));
    this.entries += batch.length;
  }

  private openFile(): OpenFile {
    if (this.open !== undefined) return this.open;
    const createdFile = !existsSync(this.file);
    let createdDir: string | undefined;
    let db: Database.Database | undefined;
    try {
      createdDir = mkdirSync(dirname(this.file), { recursive: true });
      db = new Database(this.file);
      db.pragma('journal_mode = MEMORY');
      db.pragma('synchronous = OFF');
      const existing = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(T) !== undefined;
      if (existing && db.prepare(`SELECT 1 FROM ${T} LIMIT 1`).get() !== undefined) {
        throw new VectorIndexError(`${this.where}: the file already has a non-empty ${T} table (a shard's KV store is written once)`);
      }
      db.exec(`CREATE TABLE IF NOT EXISTS ${T} (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID`);
      const insert = db.prepare<[Buffer, Buffer]>(`INSERT INTO ${T} (k, v) VALUES (?, ?)`);
      const where = this.where;
      const writeBatch = db.transaction((entries: readonly KvEntry[]) => {
        for (const e of entries) {
          try {
            insert.run(e.key, e.value);
          } catch (err) {
            if (err instanceof Database.SqliteError && err.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw duplicateKeyError(where, e.key);
            throw new VectorIndexError(`${where}: inserting failed: ${errorMessage(err)}`, { cause: err });
          }
        }
      });
      this.open = { db, insert, writeBatch, createdFile, createdTable: !existing, createdDir };
      return this.open;
    } catch (err) {
      try {
        db?.close();
      } catch {
        // already failing
      }
      if (createdFile) for (const suffix of ['', ...SIDE_SUFFIXES]) rmSync(this.file + suffix, { force: true });
      if (createdDir !== undefined) rmSync(createdDir, { recursive: true, force: true });
      if (err instanceof VectorIndexError || err instanceof InputRecordError) throw err;
      throw new VectorIndexError(`${this.where}: opening failed: ${errorMessage(err)}`, { cause: err });
    }
  }
}
