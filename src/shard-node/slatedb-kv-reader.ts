/**
 * The `composite` KV backend's reader: a SlateDB `DbReader` (`@slatedb/uniffi`) over a shard's
 * DOWNLOADED copy of `<shardDir>/kv/` (written by `src/writer/backends/slatedb-kv-writer.ts`),
 * through a local-folder object store rooted at the shard's cache folder (`file://<shardDir>`,
 * database path `kv`).
 *
 * Read path: the downloaded copy, not the object store directly, although SlateDB could open the
 * snapshot's S3 prefix itself. Why:
 * - Integrity and lifecycle stay uniform: the node downloads every file of the shard into its
 *   cache and checks each file's size and sha256 against the manifest (`shard-cache.ts`) before
 *   anything opens it, as for the vector index files; lease-based eviction and the byte budget
 *   (`shard-lease-cache.ts`) cover the KV bytes too. SlateDB reading S3 would skip both.
 * - A `DbReader` WRITES to its store: opening creates a checkpoint, i.e. a new
 *   `kv/manifest/<n+1>.manifest`, and closing writes another that drops it (observed with 0.12.1).
 *   Over S3 that needs write access to the published, immutable snapshot and changes its prefix
 *   under other nodes; on the local copy it only adds files to the cache folder. The files listed in
 *   the run manifest are never rewritten (SlateDB manifests are write-once, numbered), so the
 *   cache's re-verification of a reused copy still passes.
 * - Latency: a point get over S3 costs an object-store round trip per block not yet cached;
 *   locally it is a file read (measured on 2 busy cores, 20,000 entries of 0..4 KiB: getMany of
 *   100 random keys p50 about 10 ms, i.e. about 0.1 ms per get; sequential gets 0.18 ms each).
 * - A copy works: a database written in folder A and copied file by file into folder B (what the
 *   download does) opens and reads correctly at B (test/kv-stores.test.ts).
 *
 * What it reads: the latest `kv/manifest/*.manifest`, and the SSTs it names under `kv/compacted/`.
 * The writer disables the WAL and flushes the memtable before closing, so a finished database
 * needs no WAL: the reader is opened with `skip_wal_replay` (unless the layout says to replay). A shard never changes after publish,
 * so the reader polls for new manifests only hourly (`manifest_poll_interval_ms`).
 *
 * Lookups: `getMany` issues the gets concurrently (at most 128 in flight). The cost is the binding's
 * per-get cost, not the concurrency: the UniFFI binding polls each Rust future synchronously inside
 * the FFI call on the Node thread, so SlateDB's read path for a cached block (index, bloom filter,
 * block search, value copy) runs on the Node thread; only block loads from the files run on
 * SlateDB's tokio threads, and each completes through a cross-thread callback into the Node event
 * loop (koffi threadsafe function). Measured with 0.12.1 on 2 oversubscribed cores, 20,000 entries,
 * warm block cache: a raw `DbReader.get` in a tight sequential loop costs 60-120 us, 55-120 us of
 * it inside the native poll call; 100 random keys take the same ~6-11 ms whether awaited one by
 * one, via `Promise.all`, or sorted first, and `getMany` is within noise of the raw binding. A cold
 * cache (fresh reader) costs about 3x more per key until the blocks are cached. 0.12.1 has no
 * batch get. The reader's options (hourly manifest poll) cost nothing per get.
 */
import { DbReaderBuilder, ObjectStore, type DbReader } from '@slatedb/uniffi';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { VectorIndexError, errorMessage } from '../common/errors.ts';
import { NATIVE_SLATEDB_LAYOUT, kvKeyProblem, type SlateDbKvLayout } from '../common/kv-layout.ts';
import type { KvStoreReader } from './kv-store-reader.ts';

/** How often the reader looks for a new manifest, in ms (a published shard never changes). */
const MANIFEST_POLL_MS = 60 * 60 * 1000;
/** Gets in flight at once per `getMany`. */
const MAX_IN_FLIGHT = 128;

/** One open, read-only SlateDB KV store. */
export class SlateDbKvReader implements KvStoreReader {
  private closed = false;

  private constructor(
    /** The database folder, `<dir>/<layout.path>` (`<dir>/kv` for shardfleet's shards). */
    readonly dbDir: string,
    private readonly where: string,
    private readonly store: ObjectStore,
    private readonly reader: DbReader,
  ) {}

  /**
   * Opens the SlateDB database `<dir>/<layout.path>/` (`<dir>/kv/` for shardfleet's own shards).
   * @param dir the shard's local folder.
   * @param dbId the shard id, for error messages.
   * @param layout where the database sits in `dir` and whether its WAL is replayed (default
   *   {@link NATIVE_SLATEDB_LAYOUT}: `kv`, no replay; other writers, e.g. shardyfusion, leave
   *   their data in the WAL).
   * @throws VectorIndexError naming the shard and folder when there is no database there or
   *   SlateDB cannot open it (e.g. a manifest names an SST that is missing).
   */
  static async open(dir: string, dbId?: number, layout: SlateDbKvLayout = NATIVE_SLATEDB_LAYOUT): Promise<SlateDbKvReader> {
    const root = resolve(dir);
    const dbDir = join(root, layout.path);
    const where = `${dbId === undefined ? '' : `shard ${dbId} `}SlateDB kv (${dbDir})`;
    const hasManifest = await stat(join(dbDir, 'manifest')).then((s) => s.isDirectory(), () => false);
    if (!hasManifest) throw new VectorIndexError(`${where}: no SlateDB database (no manifest folder)`);
    let store: ObjectStore | undefined;
    let builder: DbReaderBuilder | undefined;
    try {
      store = ObjectStore.resolve(pathToFileURL(root).href);
      builder = new DbReaderBuilder(layout.path, store);
      builder.with_options({
        manifest_poll_interval_ms: MANIFEST_POLL_MS,
        checkpoint_lifetime_ms: 4 * MANIFEST_POLL_MS, // SlateDB wants >= 2x the poll interval
        max_memtable_bytes: 64 * 1024 * 1024,
        skip_wal_replay: !layout.replayWal,
      });
      const reader = await builder.build();
      return new SlateDbKvReader(dbDir, where, store, reader);
    } catch (err) {
      store?.dispose();
      throw new VectorIndexError(`${where}: opening failed: ${errorMessage(err)}`, { cause: err });
    } finally {
      builder?.dispose();
    }
  }

  async getMany(keys: readonly Uint8Array[]): Promise<Array<Uint8Array | undefined>> {
    if (this.closed) throw new VectorIndexError(`${this.where}: the reader is closed`);
    const out = new Array<Uint8Array | undefined>(keys.length).fill(undefined);
    try {
      for (let start = 0; start < keys.length; start += MAX_IN_FLIGHT) {
        const end = Math.min(keys.length, start + MAX_IN_FLIGHT);
        const gets: Promise<void>[] = [];
        for (let i = start; i < end; i++) {
          const key = keys[i]!;
          if (kvKeyProblem(key) !== undefined) continue; // cannot be stored, so absent
          gets.push(this.reader.get(key).then((v) => void (out[i] = v)));
        }
        await Promise.all(gets);
      }
    } catch (err) {
      throw new VectorIndexError(`${this.where}: reading ${keys.length} keys failed: ${errorMessage(err)}`, { cause: err });
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.reader.shutdown();
    } catch {
      // best effort
    } finally {
      this.reader.dispose();
      this.store.dispose();
    }
  }
}
