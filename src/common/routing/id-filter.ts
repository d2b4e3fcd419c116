/**
 * A per-shard Bloom filter over record ids, so a router can send a Get-by-id only to the shards
 * that might hold the id on snapshots whose routing says nothing about ids (CLUSTER, LSH,
 * EXPLICIT, CEL). The writer stores one per non-empty shard as `id-filter.bin`
 * ({@link ID_FILTER_FILE}); `id-filter-set.ts` loads them.
 *
 * Hashing: one xxh3_64 of the id's UTF-8 bytes, with the fixed seed {@link ID_FILTER_SEED} (not
 * 0, so the bit positions are independent of HASH routing and of CEL's `shard_hash`, which use
 * seed 0: a CEL expression `shard_hash(id) % 4` would otherwise leave every id of a shard with
 * the same low hash bits), split into h1 = low 32 bits and h2 = high 32 bits; probe i (0..k-1)
 * sets bit `(h1 + i * h2) mod num_bits` — Kirsch & Mitzenmacher double hashing ("Less Hashing,
 * Same Performance: Building a Better Bloom Filter", ESA 2006 / Random Structures & Algorithms
 * 2008), which keeps the false-positive rate of k independent hashes asymptotically. h1 + i * h2 <
 * 2^37 stays exact in a double.
 *
 * At 10 bits per id and k = round(10 * ln 2) = 7 the expected false-positive rate is
 * (1 - e^(-k/10))^k ≈ 0.82%.
 *
 * File format (version 1, every integer little-endian), 32-byte header then the bit array:
 * ```
 * offset  size  field
 *      0     8  magic  "SFIDBLM1" (ASCII)
 *      8     4  u32 version (1)
 *     12     4  u32 num_hashes (k, 1..32)
 *     16     8  u64 num_bits (m, >= 64, a multiple of 8, < 2^53)
 *     24     8  u64 count (ids added; informational, <= 2^53)
 *     32   m/8  bit array: bit b is bit (b & 7) (LSB first) of byte 32 + (b >> 3)
 * ```
 * The file is exactly 32 + num_bits / 8 bytes.
 */
import { xxh3 } from '@node-rs/xxhash';
import { ShardIntegrityError } from '../errors.ts';

/** Name of a shard's id filter file, at the root of the shard's folder (`<shard url>id-filter.bin`). */
export const ID_FILTER_FILE = 'id-filter.bin';
/** The file's first 8 bytes. */
export const ID_FILTER_MAGIC = 'SFIDBLM1';
/** Format version written by this build; readers reject others. */
export const ID_FILTER_VERSION = 1;
/** xxh3_64 seed of format version 1 (2^64 / golden ratio). */
export const ID_FILTER_SEED = 0x9e3779b97f4a7c15n;
/** Default size: bits per id (≈ 0.8% false positives with 7 hashes). */
export const DEFAULT_BITS_PER_KEY = 10;
/** Header bytes before the bit array. */
export const ID_FILTER_HEADER_BYTES = 32;

const MIN_BITS = 64;
const MAX_HASHES = 32;
const MAGIC_BYTES = new TextEncoder().encode(ID_FILTER_MAGIC);
const LOW32 = 0xffffffffn;

/**
 * The two 32-bit halves of an id's xxh3_64 (seed {@link ID_FILTER_SEED}) over its UTF-8 bytes.
 * The string goes to the native hash as is (napi converts it to UTF-8, ~3x faster than
 * encoding it here first); an unpaired surrogate becomes U+FFFD either way, as in TextEncoder.
 */
function idHash(id: string): [h1: number, h2: number] {
  const h = xxh3.xxh64(id, ID_FILTER_SEED);
  return [Number(h & LOW32), Number(h >> 32n)];
}

/** k for a size: round(bitsPerKey * ln 2), clamped to 1..32. */
export function hashCountFor(bitsPerKey: number): number {
  return Math.min(MAX_HASHES, Math.max(1, Math.round(bitsPerKey * Math.LN2)));
}

/** num_bits for `count` ids: max(64, ceil(count * bitsPerKey)) rounded up to a multiple of 8. */
function bitsFor(count: number, bitsPerKey: number): number {
  return Math.ceil(Math.max(MIN_BITS, Math.ceil(count * bitsPerKey)) / 8) * 8;
}

function checkSize(count: number, bitsPerKey: number): void {
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`id filter count must be a non-negative integer, got ${count}`);
  if (!Number.isFinite(bitsPerKey) || bitsPerKey < 1 || bitsPerKey > 64) throw new RangeError(`id filter bitsPerKey must be in 1..64, got ${bitsPerKey}`);
}

/** An immutable-size Bloom filter over record ids (see the module comment for hashing and format). */
export class IdFilter {
  private constructor(
    /** The bit array, num_bits / 8 bytes. */
    private readonly bits: Uint8Array,
    /** m: number of bits (a multiple of 8, >= 64). */
    readonly numBits: number,
    /** k: bit probes per id. */
    readonly numHashes: number,
    private added: number,
  ) {}

  /** Ids added (with multiplicity). */
  get count(): number {
    return this.added;
  }

  /** Bytes of the serialized filter: 32 + num_bits / 8. */
  get byteLength(): number {
    return ID_FILTER_HEADER_BYTES + this.bits.length;
  }

  /**
   * An empty filter sized for `capacity` ids; fill it with {@link add}. Adding more than
   * `capacity` ids works but raises the false-positive rate.
   * @param capacity expected number of ids, >= 0.
   * @param bitsPerKey bits per id, 1..64 (default 10); k = round(bitsPerKey * ln 2).
   * @throws RangeError for a bad capacity or bitsPerKey.
   */
  static create(capacity: number, bitsPerKey = DEFAULT_BITS_PER_KEY): IdFilter {
    checkSize(capacity, bitsPerKey);
    const numBits = bitsFor(capacity, bitsPerKey);
    return new IdFilter(new Uint8Array(numBits / 8), numBits, hashCountFor(bitsPerKey), 0);
  }

  /**
   * A filter of `ids`, sized for `count` ids.
   * @param ids the ids (strings, hashed as UTF-8).
   * @param count how many ids `ids` yields (sizes the filter).
   * @param bitsPerKey bits per id, 1..64 (default 10).
   * @throws RangeError for a bad count / bitsPerKey, or when `ids` yields more than `count` ids.
   */
  static build(ids: Iterable<string>, count: number, bitsPerKey = DEFAULT_BITS_PER_KEY): IdFilter {
    const filter = IdFilter.create(count, bitsPerKey);
    for (const id of ids) {
      if (filter.added >= count) throw new RangeError(`IdFilter.build was told ${count} ids but got more`);
      filter.add(id);
    }
    return filter;
  }

  /** Adds an id. */
  add(id: string): void {
    const [h1, h2] = idHash(id);
    this.addHash(h1, h2);
  }

  /** Adds an id by its hash halves (see {@link IdFilterBuilder}). */
  private addHash(h1: number, h2: number): void {
    const m = this.numBits;
    for (let i = 0; i < this.numHashes; i++) {
      const bit = (h1 + i * h2) % m;
      this.bits[bit >>> 3] |= 1 << (bit & 7);
    }
    this.added++;
  }

  /** False: `id` was certainly never added. True: it probably was (false positives ≈ 0.8% at 10 bits/id). */
  mightContain(id: string): boolean {
    const [h1, h2] = idHash(id);
    const m = this.numBits;
    for (let i = 0; i < this.numHashes; i++) {
      const bit = (h1 + i * h2) % m;
      if ((this.bits[bit >>> 3] & (1 << (bit & 7))) === 0) return false;
    }
    return true;
  }

  /** The file bytes (format in the module comment). */
  serialize(): Uint8Array {
    const out = new Uint8Array(this.byteLength);
    const view = new DataView(out.buffer);
    out.set(MAGIC_BYTES, 0);
    view.setUint32(8, ID_FILTER_VERSION, true);
    view.setUint32(12, this.numHashes, true);
    view.setBigUint64(16, BigInt(this.numBits), true);
    view.setBigUint64(24, BigInt(this.added), true);
    out.set(this.bits, ID_FILTER_HEADER_BYTES);
    return out;
  }

  /**
   * Reads a serialized filter (the bit array is copied).
   * @param source names the file in errors (e.g. `shard 3 file runs/r1/shards/db=00003/id-filter.bin`).
   * @throws ShardIntegrityError naming `source` for a wrong magic, an unknown version, a header
   *   shorter than 32 bytes, a bad num_hashes / num_bits / count, or a length other than
   *   32 + num_bits / 8.
   */
  static parse(bytes: Uint8Array, source: string): IdFilter {
    const bad = (detail: string): ShardIntegrityError => new ShardIntegrityError(`${source}: not a valid id filter: ${detail}`);
    if (bytes.length < ID_FILTER_HEADER_BYTES) throw bad(`${bytes.length} bytes is shorter than the ${ID_FILTER_HEADER_BYTES}-byte header (truncated)`);
    for (let i = 0; i < MAGIC_BYTES.length; i++) {
      if (bytes[i] !== MAGIC_BYTES[i]) throw bad(`bad magic (expected ${JSON.stringify(ID_FILTER_MAGIC)})`);
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const version = view.getUint32(8, true);
    if (version !== ID_FILTER_VERSION) throw bad(`format version ${version}, this build reads ${ID_FILTER_VERSION}`);
    const numHashes = view.getUint32(12, true);
    if (numHashes < 1 || numHashes > MAX_HASHES) throw bad(`num_hashes ${numHashes} is not in 1..${MAX_HASHES}`);
    const numBits = view.getBigUint64(16, true);
    if (numBits < BigInt(MIN_BITS) || numBits % 8n !== 0n || numBits > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw bad(`num_bits ${numBits} is not a multiple of 8 in ${MIN_BITS}..2^53`);
    }
    const count = view.getBigUint64(24, true);
    if (count > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`count ${count} is too large`);
    const expected = ID_FILTER_HEADER_BYTES + Number(numBits / 8n);
    if (bytes.length !== expected) {
      throw bad(`${bytes.length} bytes, but num_bits ${numBits} needs ${expected}${bytes.length < expected ? ' (truncated)' : ''}`);
    }
    return new IdFilter(bytes.slice(ID_FILTER_HEADER_BYTES), Number(numBits), numHashes, Number(count));
  }

  /** @internal builder access. */
  static fromHashes(h1s: Uint32Array, h2s: Uint32Array, n: number, bitsPerKey: number): IdFilter {
    const filter = IdFilter.create(n, bitsPerKey);
    for (let i = 0; i < n; i++) filter.addHash(h1s[i], h2s[i]);
    return filter;
  }
}

/**
 * Collects ids whose final number is unknown until the end (a shard's ids during the writer's
 * assignment pass) and then builds an exactly sized {@link IdFilter}. Keeps 8 bytes per id (the
 * id's 64-bit hash, in two growing Uint32Arrays), never the id strings.
 */
export class IdFilterBuilder {
  private h1s: Uint32Array = new Uint32Array(1024);
  private h2s: Uint32Array = new Uint32Array(1024);
  private n = 0;

  /** @param bitsPerKey bits per id of the filter {@link build} makes, 1..64 (default 10). */
  constructor(private readonly bitsPerKey = DEFAULT_BITS_PER_KEY) {
    checkSize(0, bitsPerKey);
  }

  /** Ids added so far. */
  get count(): number {
    return this.n;
  }

  /** Adds an id (hashed now; the string is not kept). */
  add(id: string): void {
    if (this.n === this.h1s.length) {
      const grow = (a: Uint32Array): Uint32Array => {
        const b = new Uint32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.h1s = grow(this.h1s);
      this.h2s = grow(this.h2s);
    }
    const [h1, h2] = idHash(id);
    this.h1s[this.n] = h1;
    this.h2s[this.n] = h2;
    this.n++;
  }

  /** The filter of every id added, sized for exactly {@link count} ids. */
  build(): IdFilter {
    return IdFilter.fromHashes(this.h1s, this.h2s, this.n, this.bitsPerKey);
  }
}
