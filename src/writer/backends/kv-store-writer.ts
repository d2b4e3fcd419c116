/**
 * The contract between the writer and a per-shard key-value store (issue 14): one writer per
 * shard, fed `put`s during the build, then finished into files under the shard's local folder,
 * which are uploaded with the shard's vector index.
 *
 * Implementations: `slatedb-kv-writer.ts` (the `composite` backend: a SlateDB database under
 * `<shardDir>/kv/`) and `sqlite-kv-writer.ts` (the `unified` backend: a `kv` table in a SQLite
 * file, which can be the sqlite-vec shard file). Readers: `src/shard-node/kv-store-reader.ts`.
 *
 * Keys are 1..65535 bytes, values 0..256 MiB (`src/common/kv-layout.ts`). A shard's KV store is
 * written once: every key is put at most once, and there are no deletes or overwrites.
 */
import { InputRecordError, VectorIndexError } from '../../common/errors.ts';
import { KV_MAX_VALUE_BYTES, describeKvKey, kvKeyProblem } from '../../common/kv-layout.ts';

/** What a finished KV store consists of. */
export interface KvStoreFiles {
  /**
   * The files written, as `/`-separated paths relative to the shard folder, sorted (e.g.
   * `kv/manifest/00000000000000000005.manifest`, or `shard.sqlite`). Every one of them must be
   * uploaded (and downloaded) for the store to open.
   */
  files: string[];
  /** Number of entries (keys) in the store. */
  entries: number;
}

/** Writes one shard's key-value store. Not thread-safe; calls are awaited one at a time. */
export interface KvStoreWriter {
  /**
   * Adds one entry. Entries are buffered and written in batches (a batch is written by the `put`
   * that fills it, or by `finish`), so a backend failure may surface on a later call. The writer
   * keeps no reference to `key` / `value` after the call returns (it copies what it buffers).
   * @param key 1..65535 bytes.
   * @param value 0..256 MiB; empty is allowed.
   * @throws InputRecordError naming the key when it was already put (by this writer), or when
   *   the key or value is out of range. The writer is then failed: only `abort` may follow.
   * @throws VectorIndexError naming the store when the backend fails.
   */
  put(key: Uint8Array, value: Uint8Array): Promise<void>;
  /**
   * Writes what is buffered, makes the store durable and closes it. Afterwards only the files
   * listed in the result are left for the store (no WAL, journal or lock files).
   * @throws InputRecordError naming a duplicate key found in the last batch.
   * @throws VectorIndexError naming the store when the backend fails, or when the writer is not
   *   open (finished, aborted, or failed).
   */
  finish(): Promise<KvStoreFiles>;
  /**
   * Discards the store: closes it and removes every file and folder it created, leaving the shard
   * folder as it was before the writer opened. Idempotent. Never throws.
   */
  abort(): Promise<void>;
}

/** Default number of entries per write batch (the measurement: batches of 1,000). */
export const KV_DEFAULT_BATCH_ENTRIES = 1000;
/** Default byte budget of one write batch (keys + values): a batch is written once it is reached. */
export const KV_DEFAULT_BATCH_BYTES = 8 * 1024 * 1024;

/** One buffered entry (copies, owned by the writer). */
export interface KvEntry {
  key: Buffer;
  value: Buffer;
}

/**
 * Checks one `put` and copies the entry for buffering.
 * @param where names the store in errors, e.g. `shard 3 kv (/tmp/db=00003/kv)`.
 * @throws InputRecordError for a key or value out of range.
 */
export function checkedEntry(where: string, key: Uint8Array, value: Uint8Array): KvEntry {
  const problem = kvKeyProblem(key);
  if (problem !== undefined) throw new InputRecordError(where, problem);
  if (value.length > KV_MAX_VALUE_BYTES) {
    throw new InputRecordError(where, `the value of key ${describeKvKey(key)} has ${value.length} bytes (at most ${KV_MAX_VALUE_BYTES})`);
  }
  return { key: Buffer.from(key), value: Buffer.from(value) };
}

/** The error for a key put twice. */
export function duplicateKeyError(where: string, key: Uint8Array): InputRecordError {
  return new InputRecordError(where, `duplicate key ${describeKvKey(key)} (every key is put once)`);
}

/** The error for a call on a writer that is no longer open. */
export function notOpenError(where: string, state: string): VectorIndexError {
  return new VectorIndexError(`${where}: the KV writer is ${state}`);
}

/**
 * Checks a batch size option.
 * @throws VectorIndexError naming the store and option when `n` is not a positive safe integer.
 */
export function positiveInteger(n: number, name: string, where: string): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new VectorIndexError(`${where}: ${name} must be a positive integer, got ${n}`);
  return n;
}
