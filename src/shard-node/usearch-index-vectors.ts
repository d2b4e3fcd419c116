/**
 * Reads the vectors a saved usearch index holds, by key, straight from `index.usearch` (the
 * usearch Node binding has no `get`): for shards built without a float32 copy (`--store-vectors`
 * off), the filtered exact scan and `include_vector` read the index's own (f32/f16/bf16/i8) vectors.
 *
 * File layout read here (usearch 2.x `index_dense_gt::save_to_stream` and
 * `index_gt::save_to_stream`, include/usearch/index_dense.hpp and index.hpp of
 * https://github.com/unum-cloud/usearch; checked against 2.26):
 *
 * - `u32 rows, u32 cols` (cols = bytes per vector), then `rows * cols` bytes of vectors in slot
 *   order (a slot is the insertion order, which a multi-threaded `add` does not keep in key order);
 * - a 64-byte head: magic `usearch`, u16 version major / minor / patch, metric, scalar, key and
 *   slot kinds (1 byte each), u64 count_present, count_deleted, dimensions, bool multi;
 * - the graph: five u64 (size, connectivity, connectivity_base, max_level, entry_slot), one i16
 *   level per slot, then per slot a node of `u64 key, i16 level, (connectivity_base * 4 + 4) +
 *   level * (connectivity * 4 + 4)` bytes.
 *
 * The key -> slot map (a `Uint32Array`, 4 bytes per vector; none when every slot equals its key)
 * is built by one pass over the node heads, in the background from the shard's load on
 * ({@link UsearchIndexVectors.prepare}: asynchronous reads of {@link SCAN_CHUNK_BYTES}, each
 * chunk parsed between them, so no request waits behind a whole scan); vectors are then read with
 * one positioned read each.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import type { UsearchQuantization } from '../common/usearch-layout.ts';

/** Bytes of the dense head. */
const HEAD_BYTES = 64;
/** Bytes of the graph header (five u64). */
const GRAPH_HEADER_BYTES = 40;
/**
 * Bytes read at a time while walking the node heads: about 7,000 nodes of a default (M 16) graph,
 * parsed in well under a millisecond, the longest the background build holds the event loop.
 */
export const SCAN_CHUNK_BYTES = 1024 * 1024;

/** Bytes one vector takes in the index for a quantization. */
export function usearchBytesPerVector(dim: number, quantization: UsearchQuantization): number {
  return quantization === 'f32' ? dim * 4 : quantization === 'i8' ? dim : dim * 2;
}

/** float32 value of every float16 bit pattern (IEEE 754 binary16), built on first use (256 KiB). */
let halfTable: Float32Array | undefined;
function halfToFloatTable(): Float32Array {
  if (halfTable !== undefined) return halfTable;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    t[h] = exp === 0 ? sign * 2 ** -14 * (frac / 1024) : exp === 31 ? (frac === 0 ? sign * Infinity : NaN) : sign * 2 ** (exp - 15) * (1 + frac / 1024);
  }
  halfTable = t;
  return t;
}

/**
 * Decodes `count` stored vectors (`src`, `count * bytesPerVector` bytes) into `out` (float32,
 * `count * dim`): f32 copied, f16 / bf16 widened exactly, i8 divided by 127 (usearch stores i8 as
 * the unit vector times 127, so an i8 vector decodes to about unit length).
 */
export function decodeUsearchVectors(src: Uint8Array, quantization: UsearchQuantization, out: Float32Array): void {
  const n = out.length;
  if (quantization === 'f32') {
    new Uint8Array(out.buffer, out.byteOffset, n * 4).set(src.subarray(0, n * 4));
  } else if (quantization === 'i8') {
    const v = new Int8Array(src.buffer, src.byteOffset, n);
    for (let i = 0; i < n; i++) out[i] = v[i] / 127;
  } else {
    const view = new DataView(src.buffer, src.byteOffset, n * 2);
    if (quantization === 'f16') {
      const t = halfToFloatTable();
      for (let i = 0; i < n; i++) out[i] = t[view.getUint16(i * 2, true)];
    } else {
      const f = new Float32Array(1);
      const u = new Uint32Array(f.buffer);
      for (let i = 0; i < n; i++) {
        u[0] = view.getUint16(i * 2, true) << 16;
        out[i] = f[0];
      }
    }
  }
}

/**
 * A read the slot scan asks its driver for: up to `length` bytes at file offset `position` into
 * `buffer[0..]`; the driver answers with the bytes read (fewer only at the end of the file).
 */
interface ScanRead {
  buffer: Buffer;
  length: number;
  position: number;
}

/** The scan's shape of the file, for error messages and checks. */
interface ScanShape {
  file: string;
  dim: number;
  quantization: UsearchQuantization;
  count: number;
  bytesPerVector: number;
  fileBytes: number;
}

/**
 * The key -> slot scan as a generator of reads, so one parser serves the synchronous and the
 * background (asynchronous) driver. Returns the map (0xffffffff: no slot), or undefined when every
 * slot holds its own key (no map needed).
 * @throws Error naming the file when it is not a usearch 2.x index of this shape.
 */
function* slotScan(shape: ScanShape): Generator<ScanRead, Uint32Array | undefined, number> {
  const { file, count, bytesPerVector, fileBytes } = shape;
  const exactly = function* (buffer: Buffer, length: number, position: number): Generator<ScanRead, void, number> {
    const got = yield { buffer, length, position };
    if (got < length) throw new Error(`${file}: the file ends at byte ${position + got}, expected ${length - got} more`);
  };
  const small = Buffer.alloc(HEAD_BYTES + GRAPH_HEADER_BYTES);
  yield* exactly(small, 8, 0);
  const rows = small.readUInt32LE(0);
  const cols = small.readUInt32LE(4);
  if (rows !== count || cols !== bytesPerVector) {
    throw new Error(`${file}: the index stores ${rows} vectors of ${cols} bytes, expected ${count} of ${bytesPerVector} (dim ${shape.dim}, ${shape.quantization})`);
  }
  const headAt = 8 + rows * cols;
  yield* exactly(small, HEAD_BYTES + GRAPH_HEADER_BYTES, headAt);
  if (small.toString('latin1', 0, 7) !== 'usearch' || small.readUInt16LE(7) !== 2) throw new Error(`${file}: not a usearch 2.x index (magic or major version differs)`);
  const g = HEAD_BYTES;
  const size = Number(small.readBigUInt64LE(g));
  const connectivity = Number(small.readBigUInt64LE(g + 8));
  const connectivityBase = Number(small.readBigUInt64LE(g + 16));
  if (size !== rows) throw new Error(`${file}: the graph has ${size} nodes, the vector matrix ${rows}`);
  const levelsAt = headAt + HEAD_BYTES + GRAPH_HEADER_BYTES;
  const levels = Buffer.alloc(size * 2);
  yield* exactly(levels, size * 2, levelsAt);
  const baseBytes = 8 + 2 + connectivityBase * 4 + 4;
  const levelBytes = connectivity * 4 + 4;
  const map = new Uint32Array(count).fill(0xffffffff);
  let identity = true;
  const chunk = Buffer.alloc(Math.min(SCAN_CHUNK_BYTES, Math.max(8, fileBytes)));
  let pos = levelsAt + size * 2;
  let chunkStart = pos;
  let chunkLen = 0;
  for (let slot = 0; slot < size; slot++) {
    const nodeBytes = baseBytes + levelBytes * levels.readInt16LE(slot * 2);
    if (pos + 8 > chunkStart + chunkLen) {
      chunkStart = pos;
      chunkLen = yield { buffer: chunk, length: Math.min(chunk.length, fileBytes - pos), position: pos };
      if (chunkLen < 8) throw new Error(`${file}: the graph ends before node ${slot} of ${size}`);
    }
    // u64 key, little-endian, read as two u32 (keys are < 2^32: 0..count-1).
    const low = chunk.readUInt32LE(pos - chunkStart);
    const high = chunk.readUInt32LE(pos - chunkStart + 4);
    if (high !== 0 || low >= count) throw new Error(`${file}: node ${slot} has key ${high * 2 ** 32 + low}, outside 0..${count - 1}`);
    map[low] = slot;
    if (low !== slot) identity = false;
    pos += nodeBytes;
  }
  if (pos > fileBytes) throw new Error(`${file}: the graph is cut short (${fileBytes} bytes, needs ${pos})`);
  return identity ? undefined : map;
}

/** The vectors of a saved usearch index, by key. Not thread-safe (one reader, synchronous reads). */
export class UsearchIndexVectors {
  private fd: number | undefined;
  /** The key -> slot map; undefined before the scan, and after it when every slot is its key. */
  private slotOfKey: Uint32Array | undefined;
  /** True once the scan has run (the map, if any, is in {@link slotOfKey}). */
  private scanned = false;
  /** The background scan in flight ({@link prepare}). */
  private building: Promise<void> | undefined;
  private closed = false;
  private readonly bytesPerVector: number;

  /**
   * @param file path of `index.usearch` (opened on first use, read-only).
   * @param count vectors the index holds (the manifest's vector_count); keys are 0..count-1.
   */
  constructor(
    readonly file: string,
    readonly dim: number,
    readonly quantization: UsearchQuantization,
    readonly count: number,
  ) {
    this.bytesPerVector = usearchBytesPerVector(dim, quantization);
  }

  /** Bytes this object holds in memory: the key -> slot map once built (4 per vector; 0 when slots equal keys), else 0. */
  get bytes(): number {
    return this.slotOfKey?.byteLength ?? 0;
  }

  /** True once the key -> slot map is ready (reads then cost one positioned read per vector). */
  get ready(): boolean {
    return this.scanned;
  }

  /**
   * Builds the key -> slot map in the background: the file is read asynchronously (libuv's thread
   * pool) in chunks of {@link SCAN_CHUNK_BYTES}, each parsed on the event loop between reads, so
   * the loop is never held for more than one chunk. Idempotent; resolves at once when built.
   * A failed scan rejects (the error names the file) and is retried by the next call; {@link read}
   * scans synchronously when called before the map is ready.
   */
  prepare(): Promise<void> {
    if (this.scanned) return Promise.resolve();
    this.building ??= this.scanAsync().then(
      (map) => {
        this.building = undefined;
        if (this.closed || this.scanned) return;
        this.slotOfKey = map;
        this.scanned = true;
      },
      (err: unknown) => {
        this.building = undefined;
        throw err;
      },
    );
    return this.building;
  }

  /**
   * The vectors of `keys` as float32, row-major (`keys.length * dim`), decoded from the index's
   * quantization (see {@link decodeUsearchVectors}).
   * @throws Error naming the file when it is not a usearch 2.x index of this shape (vector bytes,
   *   count, key type), or a key is outside 0..count-1 or absent from the graph.
   */
  read(keys: ArrayLike<number>): Float32Array {
    const slots = this.slots();
    const fd = (this.fd ??= openSync(this.file, 'r'));
    const bpv = this.bytesPerVector;
    const raw = new Uint8Array(keys.length * bpv);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      if (!(key >= 0 && key < this.count)) throw new Error(`${this.file}: key ${key} is outside 0..${this.count - 1}`);
      const slot = slots === undefined ? key : slots[key];
      if (slot === 0xffffffff) throw new Error(`${this.file}: key ${key} is not in the index`);
      readExactly(fd, raw, i * bpv, bpv, 8 + slot * bpv, this.file);
    }
    const out = new Float32Array(keys.length * this.dim);
    decodeUsearchVectors(raw, this.quantization, out);
    return out;
  }

  /** Closes the file and stops a background scan. Idempotent. */
  close(): void {
    this.closed = true;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.slotOfKey = undefined;
    this.scanned = false;
  }

  private shape(fileBytes: number): ScanShape {
    return { file: this.file, dim: this.dim, quantization: this.quantization, count: this.count, bytesPerVector: this.bytesPerVector, fileBytes };
  }

  /** The key -> slot map (undefined: slot = key), scanned synchronously when not built yet. */
  private slots(): Uint32Array | undefined {
    if (this.scanned) return this.slotOfKey;
    const fd = (this.fd ??= openSync(this.file, 'r'));
    const scan = slotScan(this.shape(fstatSync(fd).size));
    let step = scan.next();
    while (!step.done) {
      const { buffer, length, position } = step.value;
      step = scan.next(readFully(fd, buffer, length, position));
    }
    this.slotOfKey = step.value;
    this.scanned = true;
    return this.slotOfKey;
  }

  /** The scan driven by asynchronous reads; stops (rejects) when the reader is closed meanwhile. */
  private async scanAsync(): Promise<Uint32Array | undefined> {
    const handle = await openFile(this.file, 'r');
    try {
      const scan = slotScan(this.shape((await handle.stat()).size));
      let step = scan.next();
      while (!step.done) {
        if (this.closed) throw new Error(`${this.file}: closed while its key -> slot map was being built`);
        const { buffer, length, position } = step.value;
        let got = 0;
        while (got < length) {
          const { bytesRead } = await handle.read(buffer, got, length - got, position + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        step = scan.next(got);
      }
      return step.value;
    } finally {
      await handle.close();
    }
  }
}

/** Reads up to `length` bytes at `position` into `buf[0..]`, stopping only at the end of the file; returns the bytes read. */
function readFully(fd: number, buf: Uint8Array, length: number, position: number): number {
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** Reads exactly `length` bytes at `position` into `buf[offset..]`. @throws Error naming the file when it is shorter. */
function readExactly(fd: number, buf: Uint8Array, offset: number, length: number, position: number, file: string): void {
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, offset + done, length - done, position + done);
    if (n === 0) throw new Error(`${file}: the file ends at byte ${position + done}, expected ${length - done} more`);
    done += n;
  }
}
