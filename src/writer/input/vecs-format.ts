/**
 * The `.fvecs` / `.bvecs` / `.ivecs` formats of the ANN benchmark sets (SIFT, GIST, ...;
 * http://corpus-texmex.irisa.fr/): a sequence of records, each an int32 little-endian dimension
 * `dim` followed by `dim` elements: float32 LE (fvecs), uint8 (bvecs) or int32 LE (ivecs).
 * Every record of a file has the same dim, so the record count is file size / record size.
 */
import { endianness } from 'node:os';
import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { ConfigValidationError, InputRecordError, errorMessage } from '../../common/errors.ts';
import { checkDimension, resolveInputLimits, type InputLimits } from './input-limits.ts';
import { readExact } from './read-exact.ts';

/** The three vecs element types. */
export type VecsKind = 'fvecs' | 'bvecs' | 'ivecs';

/** Bytes per element of each kind. */
export const VECS_ELEMENT_BYTES: Readonly<Record<VecsKind, number>> = Object.freeze({ fvecs: 4, bvecs: 1, ivecs: 4 });

/** Target size of one read, in bytes (a pass holds about this much of the file). */
const BATCH_BYTES = 4 << 20;

const LITTLE_ENDIAN_HOST = endianness() === 'LE';

/** Layout of a vecs file, from its first record header and its size. */
export interface VecsHeader {
  /** The file path, as given. */
  path: string;
  /** Element type. */
  kind: VecsKind;
  /** Elements per record (from the first record's header); 0 for an empty file. */
  dim: number;
  /** Number of records (file size / recordBytes). */
  count: number;
  /** Bytes per record: 4 + dim * element bytes. */
  recordBytes: number;
}

/**
 * The kind of a file from its extension (`.fvecs`, `.bvecs`, `.ivecs`, case-insensitive).
 * @returns the kind, or undefined when the name has none of these extensions.
 */
export function vecsKindFromPath(path: string): VecsKind | undefined {
  const m = /\.(fvecs|bvecs|ivecs)$/.exec(basename(path).toLowerCase());
  return m ? (m[1] as VecsKind) : undefined;
}

/**
 * Reads the first record's dimension and checks the file size.
 * @param path the file; @param kind its element type (default: from the extension).
 * @param limits `maxDim` caps the first record's dimension (default: input-limits.ts).
 * @returns the layout; an empty file has dim 0 and count 0.
 * @throws ConfigValidationError naming the file when the kind is neither given nor known from the
 *   extension, the file cannot be read, the first dim is not positive or is over `maxDim`
 *   (naming `--max-dim`), or the file size is not a multiple of the record size (truncated
 *   file, or wrong kind).
 */
export async function readVecsHeader(path: string, kind?: VecsKind, limits?: Partial<InputLimits>): Promise<VecsHeader> {
  const resolved = kind ?? vecsKindFromPath(path);
  if (resolved === undefined) {
    throw new ConfigValidationError(`${path}: cannot tell the vecs kind from the name; pass kind fvecs, bvecs or ivecs`);
  }
  let size: number;
  let head: Buffer;
  try {
    size = (await stat(path)).size;
    const handle = await open(path, 'r');
    try {
      head = Buffer.alloc(4);
      await handle.read(head, 0, 4, 0);
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw new ConfigValidationError(`${path}: cannot read ${resolved} file: ${errorMessage(err)}`, { cause: err });
  }
  if (size === 0) return { path, kind: resolved, dim: 0, count: 0, recordBytes: 4 };
  if (size < 4) throw new ConfigValidationError(`${path}: ${size} bytes is too short for a ${resolved} record`);
  const dim = head.readInt32LE(0);
  if (dim <= 0) throw new ConfigValidationError(`${path}: record 0 has dimension ${dim}; expected a positive int32`);
  checkDimension(dim, resolveInputLimits(limits), `${path} record 0`, 'the int32 dimension header');
  const recordBytes = 4 + dim * VECS_ELEMENT_BYTES[resolved];
  if (size % recordBytes !== 0) {
    throw new ConfigValidationError(
      `${path}: file size ${size} bytes is not a multiple of the ${resolved} record size ${recordBytes} ` +
        `(4 + ${dim} x ${VECS_ELEMENT_BYTES[resolved]} bytes, dimension ${dim} from record 0); truncated file or wrong format?`,
    );
  }
  return { path, kind: resolved, dim, count: size / recordBytes, recordBytes };
}

/** A batch of consecutive records read from disk. */
export interface VecsBatch {
  /** Index of the first record of the batch in the file. */
  row: number;
  /** Number of records in the batch. */
  count: number;
  /** The records' bytes (count * recordBytes); `byteOffset` 0, valid until the next batch. */
  bytes: Buffer;
}

/**
 * Reads records `start .. end-1` in batches of about 4 MiB with one file handle.
 * @throws InputRecordError naming the file and record when the file ends early (changed after
 *   the header was read); ConfigValidationError when it cannot be opened.
 */
export async function* iterateVecsBatches(header: VecsHeader, start: number, end: number): AsyncGenerator<VecsBatch> {
  if (end <= start) return;
  const { path, recordBytes } = header;
  const batchRows = Math.max(1, Math.floor(BATCH_BYTES / recordBytes));
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw new ConfigValidationError(`${path}: cannot open ${header.kind} file: ${errorMessage(err)}`, { cause: err });
  }
  try {
    for (let row = start; row < end; row += batchRows) {
      const count = Math.min(batchRows, end - row);
      const bytes = await readExact(handle, count * recordBytes, row * recordBytes, `${path} record ${row}`);
      yield { row, count, bytes };
    }
  } finally {
    await handle.close();
  }
}

/**
 * Decodes record `i` of a batch after checking its dimension header.
 * @returns a new array of length dim: `Float32Array` (fvecs), `Uint8Array` (bvecs) or
 *   `Int32Array` (ivecs), not sharing memory with the batch.
 * @throws InputRecordError `<path> record <index>` when the record's dimension header differs
 *   from the file's dim.
 */
export function decodeVecsRecord(header: VecsHeader, batch: VecsBatch, i: number): Float32Array | Uint8Array | Int32Array {
  const { dim, kind, recordBytes } = header;
  const offset = i * recordBytes;
  const recordDim = batch.bytes.readInt32LE(offset);
  if (recordDim !== dim) {
    throw new InputRecordError(
      `${header.path} record ${batch.row + i}`,
      `dimension header is ${recordDim}, expected ${dim} (the dimension of record 0)`,
    );
  }
  const start = batch.bytes.byteOffset + offset + 4;
  if (kind === 'bvecs') return new Uint8Array(batch.bytes.buffer, start, dim).slice();
  // Records of 4-byte kinds start at multiples of 4 in a batch with byteOffset 0: aligned views.
  if (LITTLE_ENDIAN_HOST && start % 4 === 0) {
    return kind === 'fvecs'
      ? new Float32Array(batch.bytes.buffer, start, dim).slice()
      : new Int32Array(batch.bytes.buffer, start, dim).slice();
  }
  const view = new DataView(batch.bytes.buffer, start, dim * 4);
  const out = kind === 'fvecs' ? new Float32Array(dim) : new Int32Array(dim);
  for (let j = 0; j < dim; j++) out[j] = kind === 'fvecs' ? view.getFloat32(4 * j, true) : view.getInt32(4 * j, true);
  return out;
}
