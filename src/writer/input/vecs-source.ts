/**
 * Vector sources over the ANN benchmark formats `.fvecs` / `.bvecs` / `.ivecs` (see
 * vecs-format.ts), streamed in batches of about 4 MiB, with optional external ids; and small
 * whole-file readers for benchmark query sets and ground truth.
 */
import { openIdReader, planIds, type IdReader } from './ids-file.ts';
import { resolveSlice, type SliceOptions } from './slice.ts';
import type { InputLimits } from './input-limits.ts';
import { decodeVecsRecord, iterateVecsBatches, readVecsHeader, type VecsHeader, type VecsKind } from './vecs-format.ts';
import type { VectorRecord, VectorSource } from './vector-record.ts';

export type { VecsKind } from './vecs-format.ts';

/** Options of {@link openVecsSource}. `start`/`limit` select records by index in the file. */
export interface VecsSourceOptions extends SliceOptions {
  /** Path of the `.fvecs` / `.bvecs` / `.ivecs` file. */
  path: string;
  /** Element type; default from the file extension. */
  kind?: VecsKind;
  /**
   * Optional ids: a `.npy` of integers of shape [n], or a text file with one id per line (as for
   * npy input). Without it, id = String(0-based record index).
   */
  idsPath?: string;
  /** Header caps (`maxDim`); default: input-limits.ts DEFAULT_INPUT_LIMITS. */
  limits?: Partial<InputLimits>;
}

/** Converts a decoded record to the float32 vector of a VectorRecord (int32 > 2^24 rounds). */
function toFloat32(values: Float32Array | Uint8Array | Int32Array): Float32Array {
  return values instanceof Float32Array ? values : Float32Array.from(values);
}

/**
 * Opens a vecs file as a streaming vector source.
 * Records: vector = `Float32Array` of length dim (fvecs as is; bvecs bytes 0..255 and ivecs
 * int32 values converted to float32); id from the ids file or String(record index); no payload;
 * location `<path> record <index>`. `dim` (from the first record; undefined for an empty file)
 * and `count` (records in the slice, from the file size) are known up front.
 * @throws ConfigValidationError naming the file when the kind is unknown, the file cannot be
 *   read, its size is not a multiple of the record size, the ids file does not match (see
 *   npy input), or the slice is invalid.
 * During a pass, `records()` throws InputRecordError `<path> record <index>` when a record's
 * dimension header differs from record 0's, or the file was truncated after opening.
 */
export async function openVecsSource(options: VecsSourceOptions): Promise<VectorSource> {
  const { path, idsPath } = options;
  const header = await readVecsHeader(path, options.kind, options.limits);
  const ids = await planIds(idsPath, path, header.count);
  const slice = resolveSlice(options, header.count, path);

  async function* records(): AsyncGenerator<VectorRecord> {
    let idReader: IdReader | undefined;
    try {
      idReader = await openIdReader(ids, slice.start);
      for await (const batch of iterateVecsBatches(header, slice.start, slice.end)) {
        const batchIds = await idReader.next(batch.row, batch.count);
        for (let i = 0; i < batch.count; i++) {
          const vector = toFloat32(decodeVecsRecord(header, batch, i));
          yield { id: batchIds[i], vector, location: `${path} record ${batch.row + i}` };
        }
      }
    } finally {
      await idReader?.close();
    }
  }

  return {
    description: idsPath === undefined ? path : `${path} (ids ${idsPath})`,
    dim: header.count === 0 ? undefined : header.dim,
    count: slice.end - slice.start,
    records,
  };
}

/** Reads every record of a slice of a vecs file into memory, decoded by `decodeVecsRecord`. */
async function readAllRecords(header: VecsHeader, options: SliceOptions): Promise<(Float32Array | Uint8Array | Int32Array)[]> {
  const slice = resolveSlice(options, header.count, header.path);
  const rows: (Float32Array | Uint8Array | Int32Array)[] = [];
  for await (const batch of iterateVecsBatches(header, slice.start, slice.end)) {
    for (let i = 0; i < batch.count; i++) rows.push(decodeVecsRecord(header, batch, i));
  }
  return rows;
}

/** Rows of an `.ivecs` file loaded by {@link readIvecs}. */
export interface IvecsRows {
  /** Elements per row (e.g. 100 neighbour ids per query); 0 for an empty file. */
  dim: number;
  /** One `Int32Array` of length dim per row, in file order (honours start/limit). */
  rows: Int32Array[];
}

/**
 * Loads an `.ivecs` file into memory, e.g. benchmark ground truth (row q = the ids, as row
 * indices of the base set, of the nearest neighbours of query q, nearest first).
 * @param path the `.ivecs` file (read as ivecs whatever its extension).
 * @param options `start`/`limit` select rows.
 * @throws ConfigValidationError naming the file for an unreadable file, a size that is not a
 *   multiple of the record size, or a bad slice; InputRecordError naming the record for a
 *   dimension header mismatch.
 */
export async function readIvecs(path: string, options: SliceOptions = {}): Promise<IvecsRows> {
  const header = await readVecsHeader(path, 'ivecs');
  return { dim: header.dim, rows: (await readAllRecords(header, options)) as Int32Array[] };
}

/** Vectors of a vecs file loaded by {@link readVecsVectors}. */
export interface VecsVectors {
  /** Row-major `Float32Array` of length count * dim. */
  vectors: Float32Array;
  /** Elements per vector; 0 for an empty file. */
  dim: number;
  /** Number of vectors loaded (honours start/limit). */
  count: number;
}

/**
 * Loads a slice of a vecs file into one row-major float32 array, e.g. a benchmark query set.
 * @param path the file; @param options `kind` (default from the extension) and `start`/`limit`.
 * @throws as {@link readIvecs}, and ConfigValidationError when the kind is unknown.
 */
export async function readVecsVectors(path: string, options: SliceOptions & { kind?: VecsKind } = {}): Promise<VecsVectors> {
  const header = await readVecsHeader(path, options.kind);
  const rows = await readAllRecords(header, options);
  const vectors = new Float32Array(rows.length * header.dim);
  rows.forEach((row, i) => vectors.set(row, i * header.dim));
  return { vectors, dim: header.dim, count: rows.length };
}
