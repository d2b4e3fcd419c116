/**
 * Reading and writing NumPy `.npy` files (the format of `numpy.save` / `numpy.load`).
 *
 * Format (numpy.lib.format, NEP 1): the 6-byte magic `\x93NUMPY`, a major and a minor version
 * byte, the header length (uint16 LE for version 1.0, uint32 LE for 2.0 and 3.0), then the header:
 * a Python dict literal such as `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`
 * padded with spaces and ended by `\n` so that the data starts at a multiple of 64 bytes. The
 * header is latin-1 in 1.0/2.0 and UTF-8 in 3.0. The raw array data follows, without padding.
 *
 * Read: versions 1.0, 2.0 and 3.0; dtypes `f4`, `f8` (converted to float32), `i1`, `i2`, `i4`,
 * `i8`, `u1`, `u2`, `u4`, `u8`, `b1`, little- or big-endian; C order only. Write: version 1.0
 * (2.0 only if the header would not fit in 65535 bytes), little-endian, C order.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { read as readCallback } from 'node:fs';
import { endianness } from 'node:os';
import { promisify } from 'node:util';
import { ConfigValidationError, errorMessage } from './errors.ts';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // "\x93NUMPY"
const HOST_LITTLE_ENDIAN = endianness() === 'LE';
/** Bytes needed to know a header's length: magic (6) + version (2) + uint32 length (4). */
const PREAMBLE_MAX = 12;
/** Upper bound on header length we accept (numpy itself refuses headers over 10000 bytes). */
const MAX_HEADER_LEN = 1 << 20;

/** Element kind of a supported dtype: float, signed int, unsigned int, bool. */
export type NpyKind = 'f' | 'i' | 'u' | 'b';

/**
 * Typed array holding decoded `.npy` data (row-major, length = product of shape):
 * `<f4`/`<f8` -> Float32Array (float64 is narrowed), `i1` Int8Array, `i2` Int16Array,
 * `i4` Int32Array, `i8` BigInt64Array, `u1`/`b1` Uint8Array, `u2` Uint16Array, `u4` Uint32Array,
 * `u8` BigUint64Array.
 */
export type NpyData =
  | Float32Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array;

/** Parsed `.npy` header. */
export interface NpyHeader {
  /** Format version, e.g. `[1, 0]`. */
  version: [number, number];
  /** The dtype descriptor as written in the file, e.g. `<f4`, `<i8`, `|u1`. */
  dtype: string;
  /** Element kind parsed from `dtype`. */
  kind: NpyKind;
  /** Bytes per element (1, 2, 4 or 8). */
  itemSize: number;
  /** True when elements are little-endian (also for 1-byte types). */
  littleEndian: boolean;
  /** Array shape; `[]` for a scalar. */
  shape: number[];
  /** Always false for a header this module accepts (Fortran order is rejected). */
  fortranOrder: boolean;
  /** Byte offset of the first data byte from the start of the file. */
  dataOffset: number;
  /** Number of elements (product of `shape`). */
  elementCount: number;
  /** Number of data bytes (`elementCount * itemSize`). */
  dataBytes: number;
}

/** A decoded `.npy` array. */
export interface NpyArray {
  /** The dtype descriptor as written in the file (`<f8` stays `<f8` although data is float32). */
  dtype: string;
  /** Array shape. */
  shape: number[];
  /** Row-major elements, length = product of `shape`; see {@link NpyData} for the type mapping. */
  data: NpyData;
}

/** Typed arrays {@link encodeNpy} can write, with the dtype each is written as. */
export type NpyWritableArray =
  | Float32Array // <f4
  | Float64Array // <f8
  | Int8Array // |i1
  | Int16Array // <i2
  | Int32Array // <i4
  | BigInt64Array // <i8
  | Uint8Array // |u1
  | Uint16Array // <u2
  | Uint32Array // <u4
  | BigUint64Array; // <u8

/** Number of elements of an array of this shape (1 for a scalar `[]`). */
export function npyElementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

// ---------------------------------------------------------------------------------------------
// Header parsing
// ---------------------------------------------------------------------------------------------

/** Value of the Python literal subset that appears in `.npy` headers. */
type PyValue = string | number | boolean | null | PyValue[] | { [key: string]: PyValue };

/** Minimal parser for the Python literal in a `.npy` header (dict, tuple, list, str, int, bool). */
class PyLiteralParser {
  private pos = 0;
  constructor(
    private readonly text: string,
    private readonly name: string,
  ) {}

  parse(): PyValue {
    const value = this.value();
    this.skipSpace();
    if (this.pos !== this.text.length) this.fail('unexpected text after the header dict');
    return value;
  }

  private fail(detail: string): never {
    throw new ConfigValidationError(
      `${this.name}: malformed .npy header (${detail} at offset ${this.pos}): ${JSON.stringify(this.text.trim())}`,
    );
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }

  private value(): PyValue {
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === '{') return this.dict();
    if (c === '(') return this.sequence(')');
    if (c === '[') return this.sequence(']');
    if (c === "'" || c === '"') return this.string();
    const m = /^(-?\d+)L?|^(True|False|None)\b/.exec(this.text.slice(this.pos));
    if (!m) this.fail('expected a value');
    this.pos += m[0].length;
    if (m[1] !== undefined) return Number(m[1]);
    return m[2] === 'True' ? true : m[2] === 'False' ? false : null;
  }

  private string(): string {
    const quote = this.text[this.pos++];
    let out = '';
    while (this.pos < this.text.length && this.text[this.pos] !== quote) {
      if (this.text[this.pos] === '\\') this.pos++;
      out += this.text[this.pos++];
    }
    if (this.pos >= this.text.length) this.fail('unterminated string');
    this.pos++;
    return out;
  }

  private sequence(close: ')' | ']'): PyValue[] {
    this.pos++;
    const items: PyValue[] = [];
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === close) break;
      items.push(this.value());
      this.skipSpace();
      if (this.text[this.pos] === ',') this.pos++;
      else if (this.text[this.pos] !== close) this.fail(`expected ',' or '${close}'`);
    }
    this.pos++;
    return items;
  }

  private dict(): { [key: string]: PyValue } {
    this.pos++;
    const out: { [key: string]: PyValue } = {};
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === '}') break;
      const key = this.value();
      if (typeof key !== 'string') this.fail('dict keys must be strings');
      this.skipSpace();
      if (this.text[this.pos] !== ':') this.fail("expected ':'");
      this.pos++;
      out[key] = this.value();
      this.skipSpace();
      if (this.text[this.pos] === ',') this.pos++;
      else if (this.text[this.pos] !== '}') this.fail("expected ',' or '}'");
    }
    this.pos++;
    return out;
  }
}

const SUPPORTED_DTYPES = 'f4, f8, i1, i2, i4, i8, u1, u2, u4, u8, b1';

/** Parses a dtype descriptor such as `<f4` into kind, size and byte order. */
function parseDescr(descr: PyValue, name: string): Pick<NpyHeader, 'kind' | 'itemSize' | 'littleEndian'> {
  if (typeof descr !== 'string') {
    throw new ConfigValidationError(`${name}: structured .npy dtypes are not supported (descr ${JSON.stringify(descr)})`);
  }
  const m = /^([<>|=]?)([fiub])(\d+)$/.exec(descr);
  const kind = m?.[2] as NpyKind | undefined;
  const itemSize = m ? Number(m[3]) : 0;
  const ok =
    kind !== undefined &&
    ((kind === 'f' && (itemSize === 4 || itemSize === 8)) ||
      ((kind === 'i' || kind === 'u') && [1, 2, 4, 8].includes(itemSize)) ||
      (kind === 'b' && itemSize === 1));
  if (!m || !ok || kind === undefined) {
    throw new ConfigValidationError(`${name}: unsupported .npy dtype '${descr}' (supported: ${SUPPORTED_DTYPES})`);
  }
  // '=' is native order; '|' (not applicable) only occurs for 1-byte types.
  const order = m[1];
  const littleEndian = order === '>' ? false : order === '=' || order === '' ? HOST_LITTLE_ENDIAN : true;
  return { kind, itemSize, littleEndian };
}

/**
 * Parses the header of a `.npy` file from the first bytes of the file.
 * @param buf bytes from the start of the file; must contain the whole header (data may follow).
 * @param name file name used in error messages.
 * @returns the parsed header (see {@link NpyHeader}).
 * @throws ConfigValidationError naming the file when the magic, version, header dict or dtype is
 *   invalid or unsupported, when `fortran_order` is True, or when `buf` is shorter than the header.
 */
export function parseNpyHeader(buf: Uint8Array, name: string): NpyHeader {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 10 || !b.subarray(0, 6).equals(MAGIC)) {
    throw new ConfigValidationError(`${name}: not a .npy file (missing \\x93NUMPY magic)`);
  }
  const major = b[6];
  const minor = b[7];
  if (major !== 1 && major !== 2 && major !== 3) {
    throw new ConfigValidationError(`${name}: unsupported .npy format version ${major}.${minor} (supported: 1.0, 2.0, 3.0)`);
  }
  const lenBytes = major === 1 ? 2 : 4;
  if (b.length < 8 + lenBytes) throw new ConfigValidationError(`${name}: truncated .npy header`);
  const headerLen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const dataOffset = 8 + lenBytes + headerLen;
  if (headerLen > MAX_HEADER_LEN) {
    throw new ConfigValidationError(`${name}: .npy header length ${headerLen} is implausibly large`);
  }
  if (b.length < dataOffset) {
    throw new ConfigValidationError(`${name}: truncated .npy header (needs ${dataOffset} bytes, file has ${b.length})`);
  }
  const text = b.subarray(8 + lenBytes, dataOffset).toString(major === 3 ? 'utf8' : 'latin1');
  const dict = new PyLiteralParser(text, name).parse();
  if (dict === null || typeof dict !== 'object' || Array.isArray(dict)) {
    throw new ConfigValidationError(`${name}: malformed .npy header (not a dict): ${JSON.stringify(text.trim())}`);
  }
  const { descr, fortran_order: fortran, shape } = dict;
  if (typeof fortran !== 'boolean') {
    throw new ConfigValidationError(`${name}: malformed .npy header (fortran_order missing or not a bool)`);
  }
  if (fortran) {
    throw new ConfigValidationError(
      `${name}: Fortran-order .npy arrays are not supported; save a C-order array (numpy.ascontiguousarray)`,
    );
  }
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
    throw new ConfigValidationError(`${name}: malformed .npy header (shape must be a tuple of non-negative ints)`);
  }
  const dims = shape as number[];
  const dt = parseDescr(descr ?? null, name);
  const elementCount = npyElementCount(dims);
  return {
    version: [major, minor],
    dtype: descr as string,
    ...dt,
    shape: dims,
    fortranOrder: false,
    dataOffset,
    elementCount,
    dataBytes: elementCount * dt.itemSize,
  };
}

const readFd = promisify(readCallback);

/** Reads up to `length` bytes at `position` from a path-opened handle, a FileHandle or an fd. */
async function readAt(source: FileHandle | number, length: number, position: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } =
    typeof source === 'number'
      ? await readFd(source, buffer, 0, length, position)
      : await source.read(buffer, 0, length, position);
  return buffer.subarray(0, bytesRead);
}

/**
 * Reads only the header of a `.npy` file, so the data can then be streamed from `dataOffset`.
 * @param source a file path, an open `FileHandle`, or a numeric file descriptor (read with
 *   positional reads; the descriptor's position is not moved).
 * @param name file name for error messages; defaults to the path (or `fd <n>`).
 * @returns the parsed header; `dataOffset` is in bytes from the start of the file.
 * @throws ConfigValidationError naming the file when it cannot be opened or its header is
 *   invalid (see {@link parseNpyHeader}).
 */
export async function readNpyHeader(source: string | FileHandle | number, name?: string): Promise<NpyHeader> {
  const label = name ?? (typeof source === 'string' ? source : typeof source === 'number' ? `fd ${source}` : 'npy file');
  let handle: FileHandle | number;
  if (typeof source === 'string') {
    try {
      handle = await open(source, 'r');
    } catch (err) {
      throw new ConfigValidationError(`${label}: cannot open .npy file: ${errorMessage(err)}`, { cause: err });
    }
  } else {
    handle = source;
  }
  try {
    const pre = await readAt(handle, PREAMBLE_MAX, 0);
    if (pre.length < 10 || !pre.subarray(0, 6).equals(MAGIC)) return parseNpyHeader(pre, label); // throws
    const headerLen = pre[6] === 1 ? pre.readUInt16LE(8) : pre.length >= 12 ? pre.readUInt32LE(8) : 0;
    const total = (pre[6] === 1 ? 10 : 12) + Math.min(headerLen, MAX_HEADER_LEN + 1);
    return parseNpyHeader(await readAt(handle, total, 0), label);
  } finally {
    if (typeof source === 'string' && typeof handle !== 'number') await handle.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Data decoding
// ---------------------------------------------------------------------------------------------

/** Typed-array constructor for a (kind, size) pair, with its DataView getter name. */
function arrayTypeFor(kind: NpyKind, itemSize: number): {
  make: (length: number) => NpyData;
  fromBuffer: (buffer: ArrayBuffer) => NpyData;
  get: (view: DataView, offset: number, littleEndian: boolean) => number | bigint;
} {
  const key = `${kind}${itemSize}`;
  switch (key) {
    case 'f4':
      return { make: (n) => new Float32Array(n), fromBuffer: (b) => new Float32Array(b), get: (v, o, le) => v.getFloat32(o, le) };
    case 'f8': // narrowed to float32
      return { make: (n) => new Float32Array(n), fromBuffer: (b) => new Float32Array(new Float64Array(b)), get: (v, o, le) => v.getFloat64(o, le) };
    case 'i1':
      return { make: (n) => new Int8Array(n), fromBuffer: (b) => new Int8Array(b), get: (v, o) => v.getInt8(o) };
    case 'i2':
      return { make: (n) => new Int16Array(n), fromBuffer: (b) => new Int16Array(b), get: (v, o, le) => v.getInt16(o, le) };
    case 'i4':
      return { make: (n) => new Int32Array(n), fromBuffer: (b) => new Int32Array(b), get: (v, o, le) => v.getInt32(o, le) };
    case 'i8':
      return { make: (n) => new BigInt64Array(n), fromBuffer: (b) => new BigInt64Array(b), get: (v, o, le) => v.getBigInt64(o, le) };
    case 'u1':
    case 'b1':
      return { make: (n) => new Uint8Array(n), fromBuffer: (b) => new Uint8Array(b), get: (v, o) => v.getUint8(o) };
    case 'u2':
      return { make: (n) => new Uint16Array(n), fromBuffer: (b) => new Uint16Array(b), get: (v, o, le) => v.getUint16(o, le) };
    case 'u4':
      return { make: (n) => new Uint32Array(n), fromBuffer: (b) => new Uint32Array(b), get: (v, o, le) => v.getUint32(o, le) };
    case 'u8':
      return { make: (n) => new BigUint64Array(n), fromBuffer: (b) => new BigUint64Array(b), get: (v, o, le) => v.getBigUint64(o, le) };
    default:
      throw new ConfigValidationError(`unsupported .npy dtype ${key} (supported: ${SUPPORTED_DTYPES})`);
  }
}

/**
 * Decodes `count` consecutive elements of a `.npy` array from raw bytes (e.g. a streamed chunk).
 * @param bytes at least `count * header.itemSize` bytes, starting at an element boundary; need not
 *   be aligned (the bytes are copied).
 * @param header the file's header (gives dtype and byte order).
 * @param count number of elements to decode.
 * @returns a new typed array of length `count` (see {@link NpyData}; `f8` is narrowed to float32).
 * @throws RangeError when `bytes` is too short (callers check lengths and report truncation).
 */
export function decodeNpyElements(
  bytes: Uint8Array,
  header: Pick<NpyHeader, 'kind' | 'itemSize' | 'littleEndian'>,
  count: number,
): NpyData {
  const { kind, itemSize, littleEndian } = header;
  const byteLength = count * itemSize;
  if (bytes.byteLength < byteLength) {
    throw new RangeError(`need ${byteLength} bytes for ${count} elements, got ${bytes.byteLength}`);
  }
  const type = arrayTypeFor(kind, itemSize);
  if (littleEndian === HOST_LITTLE_ENDIAN || itemSize === 1) {
    const copy = new ArrayBuffer(byteLength);
    new Uint8Array(copy).set(bytes.subarray(0, byteLength));
    return type.fromBuffer(copy);
  }
  const out = type.make(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, byteLength);
  for (let i = 0; i < count; i++) out[i] = type.get(view, i * itemSize, littleEndian) as never;
  return out;
}

/**
 * Decodes a whole in-memory `.npy` file.
 * @param buf the file's bytes.
 * @param name file name used in error messages.
 * @returns dtype (as written), shape, and the data as a typed array of length product(shape)
 *   (float64 is narrowed to `Float32Array`; see {@link NpyData}).
 * @throws ConfigValidationError naming the file for an invalid/unsupported header, Fortran order,
 *   a truncated data section, or bytes left over after the data.
 */
export function decodeNpy(buf: Uint8Array, name: string): NpyArray {
  const header = parseNpyHeader(buf, name);
  const available = buf.byteLength - header.dataOffset;
  if (available < header.dataBytes) {
    throw new ConfigValidationError(
      `${name}: truncated .npy file: shape (${header.shape.join(', ')}) of ${header.dtype} needs ${header.dataBytes} data bytes, found ${available}`,
    );
  }
  if (available > header.dataBytes) {
    throw new ConfigValidationError(
      `${name}: .npy file has ${available - header.dataBytes} bytes after the data of shape (${header.shape.join(', ')}) ${header.dtype}`,
    );
  }
  const data = decodeNpyElements(buf.subarray(header.dataOffset), header, header.elementCount);
  return { dtype: header.dtype, shape: header.shape, data };
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/** The little-endian dtype descriptor a typed array is written as. */
function descrOf(data: NpyWritableArray): string {
  if (data instanceof Float32Array) return '<f4';
  if (data instanceof Float64Array) return '<f8';
  if (data instanceof Int8Array) return '|i1';
  if (data instanceof Int16Array) return '<i2';
  if (data instanceof Int32Array) return '<i4';
  if (data instanceof BigInt64Array) return '<i8';
  if (data instanceof Uint8Array) return '|u1';
  if (data instanceof Uint16Array) return '<u2';
  if (data instanceof Uint32Array) return '<u4';
  return '<u8';
}

/** Little-endian bytes of a typed array (a copy). */
function littleEndianBytes(data: NpyWritableArray): Buffer {
  const out = Buffer.alloc(data.byteLength);
  if (HOST_LITTLE_ENDIAN || data.BYTES_PER_ELEMENT === 1) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return out;
  }
  const size = data.BYTES_PER_ELEMENT;
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  for (let i = 0; i < data.length; i++) {
    for (let j = 0; j < size; j++) out[i * size + j] = bytes[i * size + size - 1 - j];
  }
  return out;
}

/**
 * Encodes a typed array as a `.npy` file (version 1.0, C order, little-endian; 2.0 only when the
 * header exceeds 65535 bytes), loadable with `numpy.load`.
 * @param data row-major elements; the dtype follows the array type (Float32Array -> `<f4`,
 *   Float64Array -> `<f8`, Int32Array -> `<i4`, BigInt64Array -> `<i8`, Uint8Array -> `|u1`, ...).
 * @param shape array shape; the product must equal `data.length`.
 * @returns the complete file contents.
 * @throws ConfigValidationError when the shape has a negative/non-integer dimension or does not
 *   match `data.length`.
 */
export function encodeNpy(data: NpyWritableArray, shape: readonly number[]): Buffer {
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new ConfigValidationError(`npy shape must be non-negative integers, got [${shape.join(', ')}]`);
  }
  if (npyElementCount(shape) !== data.length) {
    throw new ConfigValidationError(
      `npy shape [${shape.join(', ')}] holds ${npyElementCount(shape)} elements but data has ${data.length}`,
    );
  }
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${descrOf(data)}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  let major = 1;
  let preamble = 10;
  let padded = dict.length + 1;
  padded += (64 - ((preamble + padded) % 64)) % 64;
  if (padded > 0xffff) {
    major = 2;
    preamble = 12;
    padded = dict.length + 1;
    padded += (64 - ((preamble + padded) % 64)) % 64;
  }
  const head = Buffer.alloc(preamble + padded, 0x20);
  MAGIC.copy(head, 0);
  head[6] = major;
  head[7] = 0;
  if (major === 1) head.writeUInt16LE(padded, 8);
  else head.writeUInt32LE(padded, 8);
  head.write(dict, preamble, 'latin1');
  head[head.length - 1] = 0x0a;
  return Buffer.concat([head, littleEndianBytes(data)]);
}

/**
 * Encodes a float32 matrix as a `.npy` file (`<f4`, C order, version 1.0), e.g. `centroids.npy`
 * of shape [k, dim].
 * @param data row-major `Float32Array` of length rows*cols.
 * @param shape `[rows, cols]` (any shape whose product is `data.length` is accepted).
 * @returns the complete file contents.
 * @throws ConfigValidationError when the shape does not match `data.length`.
 */
export function encodeNpyFloat32(data: Float32Array, shape: readonly number[]): Buffer {
  return encodeNpy(data, shape);
}
