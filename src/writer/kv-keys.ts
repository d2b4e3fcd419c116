/**
 * Keys and values of the records of a KV + vector build (`build --kv`, issue 14): the canonical
 * key bytes a record is stored (and hash-routed) under, and the first-pass check that every key
 * is valid, of one type, and unique across the whole build.
 */
import { describeKvKey, kvKeyId, kvKeyProblem } from '../common/kv-layout.ts';
import type { KvSpec } from '../common/manifest.ts';
import { canonicalKeyBytes } from '../common/routing/key-hash-routing.ts';
import { InputRecordError } from '../common/errors.ts';
import type { VectorRecord } from './input/vector-record.ts';

/** How a record's key was given: `string` (also: no key, the id is the key), `int` or `bytes`. */
export type KvKeyType = KvSpec['key_type'];

const EMPTY = new Uint8Array(0);

/** The key type of a record: its `key`'s type, or `string` when the id is the key. */
export function kvKeyTypeOf(record: Pick<VectorRecord, 'key'>): KvKeyType {
  const k = record.key;
  return k === undefined || typeof k === 'string' ? 'string' : typeof k === 'bigint' ? 'int' : 'bytes';
}

/**
 * The canonical bytes a record's key is stored under: the UTF-8 bytes of a string key (or of the
 * id when the record has no key), 8 bytes signed little-endian of an integer key, raw bytes.
 * @throws InputRecordError naming the record (`record.location`) for an empty key, a key with an
 *   unpaired surrogate, an integer outside int64, or a key longer than 65,535 bytes.
 */
export function kvKeyBytes(record: Pick<VectorRecord, 'key' | 'id' | 'location'>): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = canonicalKeyBytes(record.key ?? record.id);
  } catch (err) {
    throw new InputRecordError(record.location, `bad key: ${(err as Error).message}`);
  }
  const problem = kvKeyProblem(bytes);
  if (problem !== undefined) throw new InputRecordError(record.location, `bad key: ${problem}`);
  return bytes;
}

/** The value a record stores under its key (an empty value when it has none). */
export function kvValueBytes(record: Pick<VectorRecord, 'value'>): Uint8Array {
  return record.value ?? EMPTY;
}

/** Number of Maps the keys are spread over (a V8 Map holds at most 2^24 entries). */
const BUCKETS = 64;

/**
 * First-pass check of a KV build's keys: each key valid ({@link kvKeyBytes}), every key of one
 * type, and no key twice in the whole input (whatever shard it goes to). Memory: about the key
 * bytes plus 60 bytes per record.
 */
export class KvKeyChecker {
  private readonly seen: Map<string, number>[] = Array.from({ length: BUCKETS }, () => new Map<string, number>());
  private type: KvKeyType | undefined;
  private firstLocation = '';
  private ordinal = 0;

  /** The key type of the records checked so far (undefined before the first). */
  get keyType(): KvKeyType | undefined {
    return this.type;
  }

  /**
   * Checks one record (call in input order, once per record).
   * @throws InputRecordError naming the record for a bad key ({@link kvKeyBytes}), a key of
   *   another type than the first record's (naming that record too), or a key already given by
   *   an earlier record (naming its 1-based position in the input), or an id that is not the
   *   key's text ({@link kvKeyId}: a KV record's id is its key).
   */
  check(record: Pick<VectorRecord, 'key' | 'id' | 'location'>): void {
    const ordinal = ++this.ordinal;
    const type = kvKeyTypeOf(record);
    if (this.type === undefined) {
      this.type = type;
      this.firstLocation = record.location;
    } else if (type !== this.type) {
      throw new InputRecordError(record.location, `key of type ${type}, but ${this.firstLocation} has a key of type ${this.type} (all keys of a build must have one type)`);
    }
    const bytes = kvKeyBytes(record);
    const id = kvKeyId(bytes, type);
    if (record.id !== id) {
      throw new InputRecordError(
        record.location,
        `id ${JSON.stringify(record.id)} differs from key ${describeKvKey(bytes)}: in a KV snapshot a record's id is its key (${type === 'bytes' ? 'base64 of the key bytes' : type === 'int' ? 'the key in decimal' : 'the key'}), so that Search hits name keys; leave the id out`,
      );
    }
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
    let h = 0;
    for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) | 0;
    const bucket = this.seen[(h >>> 0) % BUCKETS];
    const earlier = bucket.get(text);
    if (earlier !== undefined) {
      throw new InputRecordError(record.location, `duplicate key ${describeKvKey(bytes)} (record ${earlier} of the input has it too; every key is stored once)`);
    }
    bucket.set(text, ordinal);
  }
}
