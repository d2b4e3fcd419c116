/**
 * The `composite` KV backend's writer: a SlateDB database (`@slatedb/uniffi`) under
 * `<dir>/kv/`, on a local-folder object store (`file://<dir>`, database path `kv`).
 *
 * How it writes:
 * - The WAL is disabled (`wal_enabled = false`): a build is rebuilt from its input on failure, so
 *   the WAL would only double the bytes written (measured: 20,000 entries of 0..4 KiB wrote 41 MB
 *   of WAL SSTs on top of the 41 MB L0 SST). Writes go to the memtable
 *   (`write_with_options(batch, { await_durable: false })`; with the WAL off, awaiting durability
 *   would wait for a memtable flush that only comes at 64 MiB).
 * - Entries are buffered and applied as one `WriteBatch` per batch (default 1,000 entries or
 *   8 MiB).
 * - `finish()` flushes the memtable into L0 SSTs (`flush_with_options({ flush_type: 'MemTable' })`),
 *   shuts the database down and lists what is left: `kv/manifest/*.manifest` (the latest one names
 *   the SSTs), `kv/compacted/*.sst` (the data) and `kv/compactions/*.compactions` (compactor
 *   state). There is no `kv/wal/` folder, so a reader never replays anything.
 *
 * Duplicates: SlateDB overwrites silently, so the writer remembers every key put (a `Set` of
 * latin1 strings: about key bytes + 50 bytes of memory per entry) and rejects the second `put` of
 * a key at once, naming it.
 */
import { DbBuilder, ObjectStore, Settings, WriteBatch, type Db } from '@slatedb/uniffi';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { VectorIndexError, errorMessage } from '../../common/errors.ts';
import { listFilesRecursive } from '../../common/file-digest.ts';
import { KV_SLATEDB_PATH } from '../../common/kv-layout.ts';
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

/** Options of {@link SlateDbKvWriter}. */
export interface SlateDbKvWriterOptions {
  /** Local shard folder (created if missing); the database is `<dir>/kv/` (an existing one is replaced). */
  dir: string;
  /** Shard id, for error messages. */
  dbId?: number;
  /** Entries per `WriteBatch`, >= 1. Default 1,000. */
  batchEntries?: number;
  /** Bytes (keys + values) per `WriteBatch`, >= 1. Default 8 MiB. */
  batchBytes?: number;
}

/** An open database and its object store (both native handles, disposed on close). */
interface OpenDb {
  store: ObjectStore;
  db: Db;
}

/** Writes a shard's SlateDB KV database. See the module docstring. */
export class SlateDbKvWriter implements KvStoreWriter {
  /** The database folder, `<dir>/kv`. */
  readonly dbDir: string;
  private readonly dir: string;
  private readonly where: string;
  private readonly batchEntries: number;
  private readonly batchBytes: number;
  private opened: Promise<OpenDb> | undefined;
  private buffer: KvEntry[] = [];
  private bufferBytes = 0;
  private readonly seen = new Set<string>();
  private entries = 0;
  private state: 'open' | 'finished' | 'aborted' | 'failed' = 'open';

  /**
   * Checks the options; the database is created by the first `put` or by `finish`.
   * @throws VectorIndexError when a batch size is not a positive integer.
   */
  constructor(options: SlateDbKvWriterOptions) {
    this.dir = resolve(options.dir);
    this.dbDir = join(this.dir, KV_SLATEDB_PATH);
    this.where = `${options.dbId === undefined ? '' : `shard ${options.dbId} `}SlateDB kv (${this.dbDir})`;
    this.batchEntries = positiveInteger(options.batchEntries ?? KV_DEFAULT_BATCH_ENTRIES, 'batchEntries', this.where);
    this.batchBytes = positiveInteger(options.batchBytes ?? KV_DEFAULT_BATCH_BYTES, 'batchBytes', this.where);
  }

  async put(key: Uint8Array, value: Uint8Array): Promise<void> {
    if (this.state !== 'open') throw notOpenError(this.where, this.state);
    const entry = this.guard(() => checkedEntry(this.where, key, value));
    const id = entry.key.toString('latin1');
    if (this.seen.has(id)) {
      this.state = 'failed';
      throw duplicateKeyError(this.where, entry.key);
    }
    this.seen.add(id);
    this.buffer.push(entry);
    this.bufferBytes += entry.key.length + entry.value.length;
    if (this.buffer.length >= this.batchEntries || this.bufferBytes >= this.batchBytes) await this.guardAsync(() => this.flushBuffer());
  }

  async finish(): Promise<KvStoreFiles> {
    if (this.state !== 'open') throw notOpenError(this.where, this.state);
    return this.guardAsync(async () => {
      await this.flushBuffer();
      const { store, db } = await this.openDb();
      try {
        await db.flush_with_options({ flush_type: 'MemTable' });
        await db.shutdown();
      } catch (err) {
        throw new VectorIndexError(`${this.where}: flushing and closing failed: ${errorMessage(err)}`, { cause: err });
      } finally {
        db.dispose();
        store.dispose();
        this.opened = undefined;
      }
      const files = (await listFilesRecursive(this.dbDir)).map((f) => `${KV_SLATEDB_PATH}/${f}`);
      if (files.some((f) => f.startsWith(`${KV_SLATEDB_PATH}/wal/`))) {
        throw new VectorIndexError(`${this.where}: SlateDB left WAL files although the WAL is disabled`);
      }
      this.state = 'finished';
      this.seen.clear();
      return { files, entries: this.entries };
    });
  }

  async abort(): Promise<void> {
    if (this.state === 'aborted' || this.state === 'finished') return;
    this.state = 'aborted';
    this.buffer = [];
    this.seen.clear();
    const opened = this.opened;
    this.opened = undefined;
    if (opened !== undefined) {
      try {
        const { store, db } = await opened;
        try {
          await db.shutdown();
        } catch {
          // best effort
        } finally {
          db.dispose();
          store.dispose();
        }
      } catch {
        // opening failed: nothing to close
      }
    }
    await rm(this.dbDir, { recursive: true, force: true }).catch(() => undefined);
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      this.state = 'failed';
      throw err;
    }
  }

  private async guardAsync<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      this.state = 'failed';
      throw err;
    }
  }

  private async flushBuffer(): Promise<void> {
    const batch = this.buffer;
    this.buffer = [];
    this.bufferBytes = 0;
    const { db } = await this.openDb();
    if (batch.length === 0) return;
    const wb = new WriteBatch();
    try {
      for (const e of batch) wb.put(e.key, e.value);
      await db.write_with_options(wb, { await_durable: false });
    } catch (err) {
      throw new VectorIndexError(`${this.where}: writing a batch of ${batch.length} entries failed: ${errorMessage(err)}`, { cause: err });
    } finally {
      wb.dispose();
    }
    this.entries += batch.length;
  }

  private openDb(): Promise<OpenDb> {
    this.opened ??= this.create();
    return this.opened;
  }

  private async create(): Promise<OpenDb> {
    try {
      await mkdir(this.dir, { recursive: true });
      if (await stat(this.dbDir).then(() => true, () => false)) await rm(this.dbDir, { recursive: true, force: true });
    } catch (err) {
      throw new VectorIndexError(`${this.where}: preparing the folder failed: ${errorMessage(err)}`, { cause: err });
    }
    let store: ObjectStore | undefined;
    let settings: Settings | undefined;
    let builder: DbBuilder | undefined;
    try {
      store = ObjectStore.resolve(pathToFileURL(this.dir).href);
      settings = Settings.default();
      settings.set('wal_enabled', 'false');
      builder = new DbBuilder(KV_SLATEDB_PATH, store);
      builder.with_settings(settings);
      const db = await builder.build();
      return { store, db };
    } catch (err) {
      store?.dispose();
      throw new VectorIndexError(`${this.where}: opening failed: ${errorMessage(err)}`, { cause: err });
    } finally {
      builder?.dispose();
      settings?.dispose();
    }
  }
}
