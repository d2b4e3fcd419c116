/**
 * Vector source over a Parquet file, read with hyparquet (all codecs via hyparquet-compressors)
 * one batch of rows at a time: a row group, or part of one when the file has offset indexes.
 */
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import type { AsyncBuffer, FileMetaData } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { ConfigValidationError, InputRecordError, errorMessage } from '../../common/errors.ts';
import {
  applyColumnSelection,
  describeType,
  toPayloadValue,
  requireKnownColumns,
  unknownColumnError,
  type ColumnLookup,
  type ColumnSelection,
} from './column-selection.ts';
import { checkDimension, resolveInputLimits, type InputLimits } from './input-limits.ts';
import { planRowRanges, topLevelColumns, vectorColumnShape, type RowRange } from './parquet-layout.ts';
import { toId, toVector, vectorLength } from './parquet-values.ts';
import { resolveSlice, type SliceOptions } from './slice.ts';
import type { VectorRecord, VectorSource } from './vector-record.ts';

/** Target float32 bytes of vectors per batch inside a row group with offset indexes. */
const BATCH_BYTES = 8 << 20;

/** Default name of the vector column. */
export const DEFAULT_VECTOR_COLUMN = 'vector';
/** Default name of the id column. */
export const DEFAULT_ID_COLUMN = 'id';

/**
 * Options of {@link openParquetSource}. `start`/`limit` select rows (0-based, in file order).
 * The column options name top-level columns of the file.
 */
export interface ParquetSourceOptions extends SliceOptions, ColumnSelection {
  /** Path of the `.parquet` file, or its name (e.g. `s3://bucket/part-0.parquet`) when `file` is given. */
  path: string;
  /**
   * The file's bytes when they are not a local file at `path`: e.g. ranged reads of an S3 object
   * (see input-parts.ts). Absent: `path` is opened on local disk.
   */
  file?: AsyncBuffer;
  /** The file's footer when already parsed (with `file`): it is not read again. */
  metadata?: FileMetaData;
  /**
   * Added to the row index of ids made from row indexes (files without an id column), so that
   * the parts of a dataset give distinct ids (default 0).
   */
  rowIdOffset?: number;
  /**
   * List vectors: do not read the first row when the source is opened (`dim` stays undefined);
   * the dimension is taken from the first row a pass reads (checked against `limits` then), and
   * a row of another length is an InputRecordError naming it. Used for the parts of a dataset, so
   * that opening a part reads its footer only.
   */
  lazyDim?: boolean;
  /**
   * The vector column (default `vector`): a list of numbers (`list<float>`, `list<double>`,
   * `fixed_size_list<...>`, integer lists), or binary / fixed-size binary holding dim
   * little-endian float32 values.
   */
  vectorColumn?: string;
  /**
   * The id column (default `id`), string or integer. When this option is not given and the file
   * has no `id` column, id = String(0-based row index).
   */
  idColumn?: string;
  /**
   * KV + vector builds: the key column: string (the key's UTF-8 bytes), integer (8-byte signed
   * little-endian) or binary (raw bytes). Without it, the key is the id.
   */
  keyColumn?: string;
  /**
   * KV + vector builds: the value column(s). One column: a string value is stored as its UTF-8
   * bytes, a binary value as is, a null as an empty value, anything else as its JSON text. Several
   * columns: the JSON text of `{ column: value }` (values converted as payload values are).
   * Without it, values are empty.
   */
  valueColumns?: string[];
  /**
   * Maximum rows per read inside a row group whose columns have offset indexes (default: about
   * 8 MiB of float32 vectors, e.g. 2730 rows at dim 768). Row groups without offset indexes are
   * read whole.
   */
  batchRows?: number;
  /** Caps (`maxDim`: the vector column's fixed size or first row's length); default: input-limits.ts. */
  limits?: Partial<InputLimits>;
}

/** An open Parquet file: a lazily read buffer and its parsed footer. */
export interface ParquetFile {
  file: AsyncBuffer;
  metadata: FileMetaData;
}

/**
 * Opens a Parquet file (local `path`, or `given` bytes named `path`) and parses its footer.
 * @throws ConfigValidationError naming the file when it cannot be opened or is not Parquet.
 */
export async function openParquetFile(path: string, given?: AsyncBuffer): Promise<ParquetFile> {
  let file: AsyncBuffer;
  try {
    file = given ?? (await asyncBufferFromFile(path));
  } catch (err) {
    throw new ConfigValidationError(`${path}: cannot open Parquet file: ${errorMessage(err)}`, { cause: err });
  }
  try {
    // Remote bytes: fetch 64 KiB for the footer first (hyparquet's default, 512 KiB, is a lot of
    // ranged GETs' worth when every worker opens every part of a dataset).
    return { file, metadata: await parquetMetadataAsync(file, given === undefined ? undefined : { initialFetchSize: 64 * 1024 }) };
  } catch (err) {
    throw new ConfigValidationError(`${path}: not a valid Parquet file: ${errorMessage(err)}`, { cause: err });
  }
}

/**
 * Reads rows `[range.rowStart, range.rowEnd)` of some columns as objects (column -> value).
 * `utf8: false` keeps unannotated binary as `Uint8Array` (vector column); `true` decodes it as text.
 * @throws InputRecordError `<path> row <rowStart>` when the data cannot be decoded.
 */
async function readRows(
  source: ParquetFile,
  path: string,
  columns: string[],
  range: RowRange,
  utf8: boolean,
): Promise<Record<string, unknown>[]> {
  let rows: Record<string, unknown>[];
  try {
    rows = await parquetReadObjects({
      file: source.file,
      metadata: source.metadata,
      columns,
      rowStart: range.rowStart,
      rowEnd: range.rowEnd,
      compressors,
      utf8,
      useOffsetIndex: true,
    });
  } catch (err) {
    throw new InputRecordError(
      `${path} row ${range.rowStart}`,
      `cannot read Parquet rows ${range.rowStart}..${range.rowEnd - 1} (columns ${columns.join(', ')}): ${errorMessage(err)}`,
    );
  }
  if (rows.length !== range.rowEnd - range.rowStart) {
    throw new InputRecordError(
      `${path} row ${range.rowStart}`,
      `expected ${range.rowEnd - range.rowStart} rows from ${range.rowStart}, Parquet reader returned ${rows.length}`,
    );
  }
  return rows;
}

const utf8 = new TextEncoder();

/**
 * A key column value as a record key: a string as is, an integer as a bigint, binary as bytes.
 * @throws InputRecordError at `location` naming the column for null or another type.
 */
/** The text form of a key, i.e. a KV record's id: the string, the integer in decimal, base64 of bytes. */
function keyText(key: string | bigint | Uint8Array): string {
  if (typeof key === 'string') return key;
  if (typeof key === 'bigint') return key.toString();
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('base64');
}

function toKey(value: unknown, column: string, location: string): string | bigint | Uint8Array {
  if (typeof value === 'string' || typeof value === 'bigint' || value instanceof Uint8Array) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  throw new InputRecordError(location, `key column ${JSON.stringify(column)} is ${typeof value === 'number' ? String(value) : describeType(value)}; expected a string, an integer or binary`);
}

/** The value bytes of a row (see `valueColumns`). */
function toValueBytes(columns: readonly string[], row: Record<string, unknown>): Uint8Array {
  if (columns.length === 1) {
    const v = row[columns[0]];
    if (v === null || v === undefined) return new Uint8Array(0);
    if (typeof v === 'string') return utf8.encode(v);
    if (v instanceof Uint8Array) return Uint8Array.from(v);
    return utf8.encode(JSON.stringify(toPayloadValue(v)));
  }
  return utf8.encode(JSON.stringify(Object.fromEntries(columns.map((c) => [c, toPayloadValue(row[c] ?? null)]))));
}

/**
 * Opens a Parquet file as a streaming vector source.
 * Records: vector = `Float32Array` of length dim from the vector column; id from the id column
 * (strings as is, integers in decimal) or String(row index) (see `idColumn`); payload =
 * `{ column: value }` of `payloadColumns`, by default of every column except the vector and id
 * columns (INT64 -> number when safe, else decimal string; binary -> base64; timestamps -> ISO
 * strings); routingContext = raw values of `routingColumns` (bigint for INT64, `Uint8Array` for
 * binary); shardId = the `shardIdColumn` value; key / value from `keyColumn` / `valueColumns`
 * (KV builds; see there); location `<path> row <index in file>`.
 * `count` = rows in the slice (from the footer); `dim` from the schema for fixed-size binary,
 * else from the first row of the slice (undefined when the slice is empty).
 * @throws ConfigValidationError naming the file when it cannot be opened or is not Parquet; when
 *   a named column (vector, id, payload, routing, shard id) does not exist (the message names the
 *   column and lists the available ones); when the vector column is not a numeric list or binary;
 *   for a bad slice; InputRecordError `<path> row <n>` when the first row's vector is unusable.
 * During a pass, `records()` throws InputRecordError `<path> row <n>` for a null or wrongly sized
 * vector, a non-numeric element, a null / non-integer id, a null or non-scalar key, a null or non-scalar routing value, a
 * shard id that is not a non-negative safe integer, or undecodable data.
 */
export async function openParquetSource(options: ParquetSourceOptions): Promise<ParquetVectorSource> {
  const { path } = options;
  const rowIdOffset = options.rowIdOffset ?? 0;
  const vectorColumn = options.vectorColumn ?? DEFAULT_VECTOR_COLUMN;
  const source = options.file !== undefined && options.metadata !== undefined ? { file: options.file, metadata: options.metadata } : await openParquetFile(path, options.file);
  const { metadata } = source;
  const available = topLevelColumns(metadata);
  if (!available.includes(vectorColumn)) throw unknownColumnError(vectorColumn, 'vector column', available, path);
  let idColumn: string | undefined = options.idColumn ?? DEFAULT_ID_COLUMN;
  if (!available.includes(idColumn)) {
    if (options.idColumn !== undefined) throw unknownColumnError(idColumn, 'id column', available, path);
    idColumn = undefined; // no `id` column: ids are row indexes
  }
  requireKnownColumns(options, available, path);
  const keyColumn = options.keyColumn;
  // With a key column the id is the key (a KV record's id is its key); an explicit id column
  // must then hold the same text (checked per record by the KV build).
  const explicitId = options.idColumn !== undefined;
  const valueColumns = options.valueColumns ?? [];
  if (keyColumn !== undefined && !available.includes(keyColumn)) throw unknownColumnError(keyColumn, 'key column', available, path);
  for (const c of valueColumns) if (!available.includes(c)) throw unknownColumnError(c, 'value column', available, path);
  const shape = vectorColumnShape(metadata, vectorColumn, path);
  const slice = resolveSlice(options, Number(metadata.num_rows), path);

  let dim = shape.kind === 'binary' ? shape.fixedDim : undefined;
  if (dim === undefined && slice.start < slice.end && options.lazyDim !== true) {
    const range = { rowStart: slice.start, rowEnd: slice.start + 1 };
    const [first] = await readRows(source, path, [vectorColumn], range, false);
    dim = vectorLength(first[vectorColumn], vectorColumn, `${path} row ${slice.start}`);
    if (dim === 0) throw new ConfigValidationError(`${path}: vectors have 0 dimensions (row ${slice.start})`);
  }
  if (dim !== undefined) {
    checkDimension(dim, resolveInputLimits(options.limits), shape.kind === 'binary' ? path : `${path} row ${slice.start}`, `vector column ${JSON.stringify(vectorColumn)} (${shape.kind === 'binary' ? 'fixed-size binary of the schema' : 'list length'})`);
  }

  const selection: ColumnSelection = {
    payloadColumns: options.payloadColumns ?? available.filter((c) => c !== vectorColumn && c !== idColumn && c !== keyColumn && !valueColumns.includes(c)),
    routingColumns: options.routingColumns,
    shardIdColumn: options.shardIdColumn,
  };
  const named = [
    ...(idColumn === undefined ? [] : [idColumn]),
    ...(selection.payloadColumns ?? []),
    ...(selection.routingColumns ?? []),
    ...(selection.shardIdColumn === undefined ? [] : [selection.shardIdColumn]),
    ...(keyColumn === undefined ? [] : [keyColumn]),
    ...valueColumns,
  ];
  const otherColumns = [...new Set(named)].filter((c) => c !== vectorColumn);
  // A lazily known dimension is assumed to be 768 for batch sizes.
  const batchRows = options.batchRows ?? Math.max(1, Math.floor(BATCH_BYTES / (4 * (dim ?? (options.lazyDim ? 768 : 1)))));
  if (!Number.isSafeInteger(batchRows) || batchRows < 1) {
    throw new ConfigValidationError(`${path}: batchRows must be a positive integer, got ${batchRows}`);
  }
  const readColumns = [vectorColumn, ...otherColumns];
  const sliceEnd = Math.min(slice.end, Number(metadata.num_rows));

  const limits = resolveInputLimits(options.limits);
  async function* recordsIn(from: number, to: number): AsyncGenerator<VectorRecord> {
    if (dim === undefined && options.lazyDim !== true) return;
    let rowDim = dim;
    const start = slice.start + Math.max(0, from);
    const end = Math.min(sliceEnd, slice.start + to);
    if (start >= end) return;
    for (const range of planRowRanges(metadata, readColumns, start, end, batchRows)) {
      const vectorRows = await readRows(source, path, [vectorColumn], range, false);
      const otherRows = otherColumns.length > 0 ? await readRows(source, path, otherColumns, range, true) : undefined;
      for (let i = 0; i < vectorRows.length; i++) {
        const row = range.rowStart + i;
        const location = `${path} row ${row}`;
        const vectorValue = vectorRows[i][vectorColumn];
        const other = otherRows?.[i] ?? {};
        const id = idColumn === undefined ? String(row + rowIdOffset) : toId(other[idColumn], idColumn, location);
        if (rowDim === undefined) {
          rowDim = vectorLength(vectorValue, vectorColumn, location);
          if (rowDim === 0) throw new InputRecordError(location, `vector column ${JSON.stringify(vectorColumn)} has 0 dimensions`);
          checkDimension(rowDim, limits, location, `vector column ${JSON.stringify(vectorColumn)} (list length)`);
        }
        const record: VectorRecord = { id, vector: toVector(vectorValue, rowDim, vectorColumn, location), location };
        const lookup: ColumnLookup = (name) =>
          Object.hasOwn(other, name) ? { value: other[name] } : name === vectorColumn ? { value: vectorValue } : undefined;
        applyColumnSelection(record, lookup, selection);
        if (keyColumn !== undefined) {
          record.key = toKey(other[keyColumn], keyColumn, location);
          // A KV record's id is its key (kv-keys.ts).
          if (!explicitId) record.id = keyText(record.key);
        }
        if (valueColumns.length > 0) record.value = toValueBytes(valueColumns, other);
        yield record;
      }
    }
  }

  const count = sliceEnd - slice.start;
  const splits: number[] = [];
  let groupStart = 0;
  for (const group of metadata.row_groups) {
    if (groupStart > slice.start && groupStart < sliceEnd) splits.push(groupStart - slice.start);
    groupStart += Number(group.num_rows);
  }
  return {
    description: path,
    dim,
    count,
    columns: available,
    vectorShape: shape.kind,
    records: () => recordsIn(0, count),
    recordsIn,
    splitPoints: () => [0, ...splits],
  };
}

/**
 * A Parquet {@link VectorSource}: its records can be read by range and it says where its row
 * groups start, so a distributed build can give each worker whole row groups.
 */
export interface ParquetVectorSource extends VectorSource {
  readonly count: number;
  /** The file's top-level columns, in schema order. */
  readonly columns: string[];
  /** How the vector column stores vectors (parquet-layout.ts). */
  readonly vectorShape: 'list' | 'binary';
  recordsIn(start: number, end: number): AsyncIterable<VectorRecord>;
  splitPoints(): number[];
}
