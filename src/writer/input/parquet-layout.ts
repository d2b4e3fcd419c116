/**
 * What a Parquet file's footer says that the Parquet reader needs before reading rows: the
 * top-level column names, the shape of the vector column, and the row ranges to read so that
 * one batch of rows is in memory at a time.
 */
import type { FileMetaData, SchemaTree } from 'hyparquet';
import { parquetSchema } from 'hyparquet';
import { ConfigValidationError } from '../../common/errors.ts';

/** Physical types whose values hyparquet decodes to numbers or bigints. */
const NUMERIC_TYPES = new Set(['INT32', 'INT64', 'FLOAT', 'DOUBLE']);

/**
 * How the vector column stores vectors:
 * - `list`: a (possibly nested-once) list of numbers, e.g. Arrow `list<float>`,
 *   `fixed_size_list<double>` or `list<int32>`; read as JS arrays.
 * - `binary`: `BYTE_ARRAY` or `FIXED_LEN_BYTE_ARRAY` without annotation holding dim little-endian
 *   float32 values (4 * dim bytes); `fixedDim` is the dim when the length is fixed by the schema.
 */
export type VectorColumnShape = { kind: 'list' } | { kind: 'binary'; fixedDim?: number };

/** The top-level column names of the file, in schema order. */
export function topLevelColumns(metadata: FileMetaData): string[] {
  return parquetSchema(metadata).children.map((child) => child.element.name);
}

/** True when the schema node is annotated as a string / JSON / other non-raw binary type. */
function isAnnotated(node: SchemaTree): boolean {
  return node.element.converted_type !== undefined || node.element.logical_type !== undefined;
}

/**
 * Classifies the vector column from the schema.
 * @param metadata file metadata; @param column the vector column (must exist); @param file name.
 * @throws ConfigValidationError naming the column and the file when it is neither a list of
 *   numbers nor unannotated binary, or a fixed-length binary whose length is not a multiple of 4.
 */
export function vectorColumnShape(metadata: FileMetaData, column: string, file: string): VectorColumnShape {
  const node = parquetSchema(metadata).children.find((child) => child.element.name === column);
  if (node === undefined) throw new ConfigValidationError(`${file}: no column ${JSON.stringify(column)}`);
  const expected = 'expected a list of numbers, or binary holding little-endian float32 values';
  const { element } = node;
  if (node.children.length === 0) {
    if (element.type === 'FIXED_LEN_BYTE_ARRAY' && !isAnnotated(node)) {
      const bytes = element.type_length ?? 0;
      if (bytes <= 0 || bytes % 4 !== 0) {
        throw new ConfigValidationError(
          `${file}: vector column ${JSON.stringify(column)} is fixed-size binary of ${bytes} bytes, not a multiple of 4 (float32)`,
        );
      }
      return { kind: 'binary', fixedDim: bytes / 4 };
    }
    if (element.type === 'BYTE_ARRAY' && !isAnnotated(node)) return { kind: 'binary' };
    if (element.repetition_type === 'REPEATED' && NUMERIC_TYPES.has(element.type ?? '')) return { kind: 'list' };
    const annotation = element.logical_type?.type ?? element.converted_type;
    throw new ConfigValidationError(
      `${file}: vector column ${JSON.stringify(column)} has type ${element.type}` +
        `${annotation === undefined ? '' : ` (${annotation})`}; ${expected}`,
    );
  }
  // A group: descend through single children to the leaf, which must be a repeated number.
  let repeated = element.repetition_type === 'REPEATED';
  let leaf = node;
  while (leaf.children.length === 1) {
    leaf = leaf.children[0];
    repeated ||= leaf.element.repetition_type === 'REPEATED';
  }
  if (leaf.children.length > 1 || !repeated || !NUMERIC_TYPES.has(leaf.element.type ?? '')) {
    throw new ConfigValidationError(
      `${file}: vector column ${JSON.stringify(column)} is a group that is not a list of numbers; ${expected}`,
    );
  }
  return { kind: 'list' };
}

/** A half-open range of rows `[rowStart, rowEnd)` read in one batch. */
export interface RowRange {
  rowStart: number;
  rowEnd: number;
}

/**
 * Splits rows `start .. end-1` into batches: one per row group, and row groups further split
 * into batches of at most `batchRows` rows when every column read has an offset index in that
 * row group (so a batch reads only its own pages; without one, each batch would re-read the
 * whole column chunk).
 * @param metadata file metadata; @param columns the top-level columns that will be read.
 * @param start first row; @param end one past the last row (<= number of rows).
 * @param batchRows maximum rows per batch inside an indexed row group (>= 1).
 */
export function planRowRanges(
  metadata: FileMetaData,
  columns: readonly string[],
  start: number,
  end: number,
  batchRows: number,
): RowRange[] {
  const wanted = new Set(columns);
  const ranges: RowRange[] = [];
  let groupStart = 0;
  for (const group of metadata.row_groups) {
    const groupEnd = groupStart + Number(group.num_rows);
    const from = Math.max(start, groupStart);
    const to = Math.min(end, groupEnd);
    if (from < to) {
      const indexed = group.columns.every(
        (chunk) => !wanted.has(chunk.meta_data?.path_in_schema[0] ?? '') || chunk.offset_index_length !== undefined,
      );
      const step = indexed ? Math.max(1, batchRows) : to - from;
      for (let row = from; row < to; row += step) ranges.push({ rowStart: row, rowEnd: Math.min(to, row + step) });
    }
    groupStart = groupEnd;
  }
  return ranges;
}
