/**
 * Vector source over a `.npy` matrix of shape [n, dim] (float32, or float64 narrowed to
 * float32), streamed from disk in batches of rows after reading the header, with optional ids
 * from an integer `.npy` of length n or a text file with one id per line.
 */
import { open } from 'node:fs/promises';
import { ConfigValidationError } from '../../common/errors.ts';
import { decodeNpyElements, readNpyHeader } from '../../common/npy.ts';
import { checkDimension, resolveInputLimits, type InputLimits } from './input-limits.ts';
import { checkNpyFileSize, openIdReader, planIds, type IdReader } from './ids-file.ts';
import { readExact } from './read-exact.ts';
import { resolveSlice, type SliceOptions } from './slice.ts';
import type { VectorRecord, VectorSource } from './vector-record.ts';

/** Target size of one read from the vectors file, in bytes (a pass holds about this much). */
const BATCH_BYTES = 4 << 20;

/** Options of {@link openNpySource}. `start`/`limit` select rows. */
export interface NpySourceOptions extends SliceOptions {
  /** Path of a `.npy` file of shape [n, dim], dtype float32 or float64, C order. */
  path: string;
  /**
   * Optional ids: a `.npy` of integers of shape [n] (or [n, 1]), or any other file is read as
   * text with one id per line (surrounding whitespace trimmed, blank lines skipped). Without it,
   * id = String(row index).
   */
  idsPath?: string;
  /** Header caps (`maxDim`: the shape's second entry); default: input-limits.ts DEFAULT_INPUT_LIMITS. */
  limits?: Partial<InputLimits>;
}

/**
 * Opens a `.npy` matrix as a streaming vector source.
 * Records: vector = row as `Float32Array` of length dim (float64 narrowed); id from the ids file
 * or String(row index); no payload; location `<path> row <index>`. `dim` and `count` (rows in the
 * slice) come from the header. A pass holds about 4 MiB of rows at a time.
 * @throws ConfigValidationError naming the file(s) when a file cannot be read, the header is
 *   invalid, the array is not 2-D float32/float64 in C order, its dim is over `limits.maxDim`
 *   (naming `--max-dim`), the file is shorter than its header says, the ids file is not integers / has a count != n, or the slice is invalid.
 * During a pass, `records()` throws InputRecordError naming the file and row when a file was
 * truncated after opening.
 */
export async function openNpySource(options: NpySourceOptions): Promise<VectorSource> {
  const { path, idsPath } = options;
  const header = await readNpyHeader(path);
  if (header.shape.length !== 2 || header.kind !== 'f') {
    throw new ConfigValidationError(
      `${path}: expected a 2-D float32 or float64 array [n, dim], found shape (${header.shape.join(', ')}) of ${header.dtype}`,
    );
  }
  const [rows, dim] = header.shape;
  if (dim === 0) throw new ConfigValidationError(`${path}: vectors have 0 dimensions`);
  checkDimension(dim, resolveInputLimits(options.limits), path, `.npy header shape (${header.shape.join(', ')})`);
  await checkNpyFileSize(path, header);
  const ids = await planIds(idsPath, path, rows);
  const slice = resolveSlice(options, rows, path);
  const rowBytes = dim * header.itemSize;
  const batchRows = Math.max(1, Math.floor(BATCH_BYTES / rowBytes));

  async function* records(): AsyncGenerator<VectorRecord> {
    const handle = await open(path, 'r');
    let idReader: IdReader | undefined;
    try {
      idReader = await openIdReader(ids, slice.start);
      for (let row = slice.start; row < slice.end; row += batchRows) {
        const n = Math.min(batchRows, slice.end - row);
        const bytes = await readExact(handle, n * rowBytes, header.dataOffset + row * rowBytes, `${path} row ${row}`);
        const values = decodeNpyElements(bytes, header, n * dim) as Float32Array;
        const batchIds = await idReader.next(row, n);
        for (let i = 0; i < n; i++) {
          yield {
            id: batchIds[i],
            vector: values.slice(i * dim, (i + 1) * dim),
            location: `${path} row ${row + i}`,
          };
        }
      }
    } finally {
      await idReader?.close();
      await handle.close();
    }
  }

  return {
    description: idsPath === undefined ? path : `${path} (ids ${idsPath})`,
    dim,
    count: slice.end - slice.start,
    records,
  };
}
