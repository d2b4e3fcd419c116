/**
 * shardyfusion's stored KV key forms (`key_encoding`) and the step from shardfleet's canonical key
 * bytes to them.
 *
 * The router routes a key by its CANONICAL bytes (shardfleet's and shardyfusion's hash rule,
 * src/common/routing/key-hash-routing.ts; shardyfusion/routing.py:46-76): an int key as 8 bytes
 * signed little-endian, a string as UTF-8, bytes as they are. shardyfusion STORES the key encoded
 * by the snapshot's `key_encoding` (shardyfusion/serde.py:26-71 at b5ad9a1; the writer encodes
 * after routing, writer/python/writer.py:974-979) and looks it up the same way
 * (`_build_lookup_key_encoder`, routing.py:358-400):
 *
 * - `u64be` (shardyfusion's default, config.py:133): an int in [0, 2^64-1] as 8 bytes big-endian
 *   unsigned; other ints raise ConfigValidationError (serde.py:26-34). A bytes lookup key of
 *   exactly 8 bytes passes through (routing.py:362-365); a str raises.
 * - `u32be`: the same with 4 bytes and [0, 2^32-1] (serde.py:37-45, routing.py:373-383).
 * - `utf8`: a str as UTF-8, bytes unchanged; an int raises ConfigValidationError (serde.py:48-57).
 * - `raw`: bytes unchanged, a str as UTF-8; an int raises (serde.py:60-69).
 *
 * So an int key is hashed little-endian signed but stored big-endian unsigned, and a negative
 * int key cannot exist in a u64be snapshot.
 */
import { InvalidQueryError } from '../../common/errors.ts';
import { asBuffer, describeKvKey } from '../../common/kv-layout.ts';
import type { KvStoreReader } from '../../shard-node/kv-store-reader.ts';

/** shardyfusion's `KeyEncoding` values (shardyfusion/sharding_types.py:67-73). */
export type ShardyfusionKeyEncoding = 'u64be' | 'u32be' | 'utf8' | 'raw';

/** How the snapshot's keys are given (shardfleet's `kv.key_type`): the form of the canonical bytes. */
export type KvKeyType = 'string' | 'int' | 'bytes';

const U32_MAX = 0xffff_ffffn;

/** Names a key in a message from its canonical bytes: an int in decimal, a string quoted, bytes in hex. */
function describeKey(canonical: Uint8Array, keyType: KvKeyType): string {
  if (keyType === 'int' && canonical.length === 8) return `key ${asBuffer(canonical).readBigInt64LE(0)}`;
  if (keyType !== 'string') return `key 0x${asBuffer(canonical).toString('hex').slice(0, 128)}${canonical.length > 64 ? '...' : ''}`;
  return `key ${describeKvKey(canonical)}`;
}

/** The byte width and range of an unsigned big-endian encoding. */
function unsignedWidth(encoding: 'u64be' | 'u32be'): { bytes: number; text: string } {
  return encoding === 'u64be' ? { bytes: 8, text: 'unsigned 64-bit big-endian' } : { bytes: 4, text: 'unsigned 32-bit big-endian' };
}

/**
 * Why key `canonical` cannot exist in a snapshot whose keys are `keyType` stored as `encoding`,
 * or undefined when it can be looked up. Pure; the router can call it before fan-out.
 * @param canonical the key's canonical bytes (int: 8 bytes signed little-endian; string: UTF-8;
 *   bytes: raw).
 * @returns e.g. `key -1: the snapshot stores int keys as u64be (unsigned 64-bit big-endian);
 *   negative keys cannot exist (shardyfusion raises ConfigValidationError "u64be encoding requires
 *   value in [0, 2^64-1]")`.
 */
export function keyEncodingProblem(canonical: Uint8Array, keyType: KvKeyType, encoding: ShardyfusionKeyEncoding): string | undefined {
  const key = describeKey(canonical, keyType);
  if (keyType === 'int' && canonical.length !== 8) return `${key}: an int key's canonical form has 8 bytes, got ${canonical.length}`;
  if (encoding === 'u64be' || encoding === 'u32be') {
    const { bytes, text } = unsignedWidth(encoding);
    if (keyType === 'int') {
      const value = asBuffer(canonical).readBigInt64LE(0);
      if (value < 0n) {
        return `${key}: the snapshot stores int keys as ${encoding} (${text}); negative keys cannot exist (shardyfusion raises ConfigValidationError "${encoding} encoding requires value in [0, 2^${bytes * 8}-1]")`;
      }
      if (encoding === 'u32be' && value > U32_MAX) {
        return `${key}: the snapshot stores int keys as u32be (${text}); keys above 4294967295 cannot exist (shardyfusion raises ConfigValidationError "u32be encoding requires value in [0, 2^32-1]")`;
      }
      return undefined;
    }
    if (keyType === 'bytes') {
      if (canonical.length !== bytes) {
        return `${key}: the snapshot stores int keys as ${encoding} (${text}); a bytes key must be the ${bytes}-byte stored form, got ${canonical.length} bytes (shardyfusion raises ValueError "${encoding} key bytes must have length ${bytes}")`;
      }
      return undefined;
    }
    return `${key}: the snapshot stores int keys as ${encoding} (${text}); a string key cannot exist (shardyfusion raises ValueError "${encoding} key encoding requires integer lookup keys")`;
  }
  if (keyType === 'int') {
    return `${key}: the snapshot's key_encoding is ${encoding}, which stores str or bytes keys; an int key cannot exist (shardyfusion raises ConfigValidationError "${encoding} encoding expects ${encoding === 'utf8' ? 'str or bytes' : 'bytes or str'} key, got <class 'int'>")`;
  }
  return undefined;
}

/**
 * The stored `kv.k` bytes of a key, from its canonical bytes.
 * @param canonical the key's canonical bytes (see {@link keyEncodingProblem}).
 * @returns a new Buffer: u64be / u32be int keys big-endian unsigned (8 / 4 bytes); bytes keys of
 *   the right length, and string / bytes keys under utf8 / raw, unchanged (copied).
 * @throws InvalidQueryError with the {@link keyEncodingProblem} message when the key cannot exist
 *   in the snapshot (e.g. a negative int under u64be, an int under utf8, a string under u64be).
 */
export function storedKeyOf(canonical: Uint8Array, keyType: KvKeyType, encoding: ShardyfusionKeyEncoding): Buffer {
  const problem = keyEncodingProblem(canonical, keyType, encoding);
  if (problem !== undefined) throw new InvalidQueryError(problem);
  if (keyType === 'int' && (encoding === 'u64be' || encoding === 'u32be')) {
    const value = asBuffer(canonical).readBigInt64LE(0);
    if (encoding === 'u32be') {
      const out = Buffer.alloc(4);
      out.writeUInt32BE(Number(value), 0);
      return out;
    }
    const out = Buffer.alloc(8);
    out.writeBigUInt64BE(value, 0);
    return out;
  }
  return Buffer.from(canonical);
}

/**
 * A {@link KvStoreReader} over a shardyfusion `kv` table (e.g. shardfleet's `SqliteKvReader` on
 * `shard.db`) that takes CANONICAL keys, as the shard node passes them, and looks up their stored
 * form ({@link storedKeyOf}).
 */
export class EncodedKeyKvReader implements KvStoreReader {
  /**
   * Takes ownership of `inner` (close closes it).
   * @param where names the store in messages, e.g. `shard 3 kv table (/cache/.../shard.db)`.
   */
  constructor(
    private readonly inner: KvStoreReader,
    readonly keyType: KvKeyType,
    readonly encoding: ShardyfusionKeyEncoding,
    private readonly where: string,
  ) {}

  /**
   * Looks up `keys` (canonical bytes): one slot per key, in order, the value or undefined.
   * @throws InvalidQueryError naming the store, key and encoding when a key cannot exist in the
   *   snapshot (the router refuses such keys earlier with {@link keyEncodingProblem}); as
   *   `inner.getMany` otherwise.
   */
  async getMany(keys: readonly Uint8Array[]): Promise<Array<Uint8Array | undefined>> {
    const stored = keys.map((k) => {
      try {
        return storedKeyOf(k, this.keyType, this.encoding);
      } catch (err) {
        throw new InvalidQueryError(`${this.where}: ${(err as Error).message}`, { cause: err });
      }
    });
    return this.inner.getMany(stored);
  }

  /** Closes the inner store. Idempotent; never throws. */
  close(): Promise<void> {
    return this.inner.close();
  }
}
