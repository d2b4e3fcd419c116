/**
 * Layout of the per-shard key-value stores (issue 14), shared by the writers
 * (`src/writer/backends/*-kv-writer.ts`) and the readers (`src/shard-node/*-kv-reader.ts`): where
 * each backend puts its data, the limits both backends share, and how a key is named in errors.
 *
 * Keys are opaque byte strings of 1..{@link KV_MAX_KEY_BYTES} bytes (SlateDB's own limit, applied
 * to the SQLite store too so that a shard can switch backend without its keys changing meaning).
 * Values are byte strings of 0..{@link KV_MAX_VALUE_BYTES} bytes; an empty value is a value, not
 * an absence.
 */

/** `composite` backend: the SlateDB database's path inside the shard folder (`<shardDir>/kv/`). */
export const KV_SLATEDB_PATH = 'kv';

/**
 * Where a SlateDB KV database sits inside a shard folder, and how to read it: `path` is the
 * database path inside the folder (`''` = the folder itself), `replayWal` whether a reader replays
 * its WAL (needed when the writer left data in the WAL rather than flushing it into L0 SSTs).
 */
export interface SlateDbKvLayout {
  path: string;
  replayWal: boolean;
}

/** shardfleet's own `composite` shards: `<shardDir>/kv/`, written with the WAL off (nothing to replay). */
export const NATIVE_SLATEDB_LAYOUT: SlateDbKvLayout = { path: KV_SLATEDB_PATH, replayWal: false };

/** `unified` backend: the table, `kv(k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID`. */
export const KV_SQLITE_TABLE = 'kv';

/** SQLite KV file inside the shard folder when none is given (the unified backend passes `shard.sqlite`). */
export const KV_SQLITE_DEFAULT_FILE = 'kv.sqlite';

/** Longest key, in bytes (SlateDB: keys are non-empty and at most `u16::MAX` bytes). */
export const KV_MAX_KEY_BYTES = 0xffff;

/**
 * Longest value, in bytes: 256 MiB. Both stores accept more (SlateDB `u32::MAX`, SQLite's default
 * `SQLITE_MAX_LENGTH` 1e9), but a value this large is a mistake for a per-record side store, and a
 * batch of them would not fit in memory.
 */
export const KV_MAX_VALUE_BYTES = 256 * 1024 * 1024;

/** Longest key text put in an error message; longer keys are cut and marked with `...`. */
const MAX_SHOWN_BYTES = 64;

/**
 * Names a key in an error message: a JSON string when the key is printable UTF-8 (e.g. `"user:42"`),
 * otherwise `0x` + lowercase hex (e.g. `0x00ff10`). At most 64 bytes are shown.
 */
export function describeKvKey(key: Uint8Array): string {
  const shown = key.subarray(0, MAX_SHOWN_BYTES);
  const more = key.length > MAX_SHOWN_BYTES ? `... (${key.length} bytes)` : '';
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(shown);
    // Printable: no C0/C1 control characters (they would make the message unreadable).
    if (!/[\u0000-\u001f\u007f-\u009f]/.test(text)) return JSON.stringify(text) + more;
  } catch {
    // not UTF-8 (or cut inside a character): fall through to hex
  }
  return `0x${Buffer.from(shown.buffer, shown.byteOffset, shown.byteLength).toString('hex')}${more}`;
}

/**
 * Why `key` cannot be stored, or undefined when it can: empty, or longer than
 * {@link KV_MAX_KEY_BYTES}.
 */
export function kvKeyProblem(key: Uint8Array): string | undefined {
  if (key.length === 0) return 'an empty key (keys are 1..65535 bytes)';
  if (key.length > KV_MAX_KEY_BYTES) return `key ${describeKvKey(key)} has ${key.length} bytes (keys are 1..65535 bytes)`;
  return undefined;
}

/**
 * A `Buffer` view of `bytes` (no copy). better-sqlite3 binds only `Buffer`s as BLOBs, and
 * `Buffer.toString('latin1')` makes a cheap, exact Map/Set key of a byte string.
 */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The record id of a KV record, from its key's canonical bytes and the snapshot's `key_type`:
 * a string key as is (UTF-8 decoded), an integer key in decimal (from its 8 bytes signed
 * little-endian), a binary key in standard base64. A KV snapshot's record (vector, payload) is
 * stored under this id, so Search hits name keys and Get finds a key's payload and vector.
 * @throws RangeError for an int key that is not 8 bytes, or a string key that is not UTF-8.
 */
export function kvKeyId(key: Uint8Array, keyType: 'string' | 'int' | 'bytes'): string {
  if (keyType === 'int') {
    if (key.length !== 8) throw new RangeError(`an int key has 8 bytes, got ${key.length}`);
    return asBuffer(key).readBigInt64LE(0).toString();
  }
  if (keyType === 'bytes') return asBuffer(key).toString('base64');
  return new TextDecoder('utf-8', { fatal: true }).decode(key);
}
