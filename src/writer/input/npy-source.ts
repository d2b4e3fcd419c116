/**
 * Vector source over a `.npy` matrix of shape [n, dim] (float32, or float64 narrowed to
 * float32), streamed from disk in batches of rows after reading the header, with optional ids
 * from an integer `.npy` of length n or a text file with one id per line.
 */
import { createReadStream } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { ConfigValidationError, InputRecordError, errorMessage } from '../../common/errors.ts';
import { decodeNpyElements, readNpyHeader, type NpyHeader } from '../../common/npy.ts';
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
}

/** Where the ids of the rows come from. */
type IdsPlan =
  | { kind: 'row' }
  | { kind: 'npy'; path: string; header: NpyHeader }
  | { kind: 'text'; path: string };

/** Throws ConfigValidationError naming the file when it is shorter than header + data. */
async function checkFileSize(path: string, header: NpyHeader): Promise<void> {
  const size = (await stat(path)).size;
  const needed = header.dataOffset + header.dataBytes;
  if (size < needed) {
    throw new ConfigValidationError(
      `${path}: truncated .npy file: shape (${header.shape.join(', ')}) of ${header.dtype} needs ${needed} bytes, file has ${size}`,
    );
  }
}

/** Async iterator over the non-blank, trimmed lines of a text file, with their line numbers. */
async function* textLines(path: string): AsyncGenerator<{ text: string; line: number }> {
  const stream = createReadStream(path, { encoding: 'utf8' });
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const raw of rl) {
      line++;
      const text = raw.trim();
      if (text !== '') yield { text, line };
    }
  } finally {
    rl.close();
    stream.destroy();
  }
}

/** Reads the ids file's header (or counts its lines) and checks it has exactly `rows` ids. */
async function planIds(idsPath: string | undefined, vectorsPath: string, rows: number): Promise<IdsPlan> {
  if (idsPath === undefined) return { kind: 'row' };
  let count: number;
  let plan: IdsPlan;
  if (idsPath.toLowerCase().endsWith('.npy')) {
    const header = await readNpyHeader(idsPath);
    const shapeOk = header.shape.length === 1 || (header.shape.length === 2 && header.shape[1] === 1);
    if (header.kind !== 'i' && header.kind !== 'u') {
      throw new ConfigValidationError(`${idsPath}: ids .npy must hold integers, found dtype ${header.dtype}`);
    }
    if (!shapeOk) {
      throw new ConfigValidationError(`${idsPath}: ids .npy must have shape (n,), found (${header.shape.join(', ')})`);
    }
    await checkFileSize(idsPath, header);
    count = header.shape[0];
    plan = { kind: 'npy', path: idsPath, header };
  } else {
    count = 0;
    try {
      for await (const _ of textLines(idsPath)) count++;
    } catch (err) {
      throw new ConfigValidationError(`${idsPath}: cannot read ids file: ${errorMessage(err)}`, { cause: err });
    }
    plan = { kind: 'text', path: idsPath };
  }
  if (count !== rows) {
    throw new ConfigValidationError(`${idsPath} has ${count} ids but ${vectorsPath} has ${rows} rows; the counts must match`);
  }
  return plan;
}

/** Reads exactly `length` bytes at `position`, or throws InputRecordError at `location`. */
async function readExact(handle: FileHandle, length: number, position: number, location: string): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buf, filled, length - filled, position + filled);
    if (bytesRead === 0) throw new InputRecordError(location, 'file ends early (was it truncated after opening?)');
    filled += bytesRead;
  }
  return buf;
}

/** Yields the ids of rows start..end-1 in batches matching the vector batches. */
interface IdReader {
  /** Ids of `count` consecutive rows starting at `row`. */
  next(row: number, count: number): Promise<string[]>;
  close(): Promise<void>;
}

/** Opens an id reader positioned at row `start`. */
async function openIdReader(plan: IdsPlan, start: number): Promise<IdReader> {
  if (plan.kind === 'row') {
    return {
      next: async (row, count) => Array.from({ length: count }, (_, i) => String(row + i)),
      close: async () => {},
    };
  }
  if (plan.kind === 'npy') {
    const handle = await open(plan.path, 'r');
    const { header } = plan;
    return {
      async next(row, count) {
        const bytes = await readExact(
          handle,
          count * header.itemSize,
          header.dataOffset + row * header.itemSize,
          `${plan.path} row ${row}`,
        );
        const values = decodeNpyElements(bytes, header, count);
        return Array.from(values as ArrayLike<number | bigint>, (v) => String(v));
      },
      close: () => handle.close(),
    };
  }
  const lines = textLines(plan.path);
  for (let skipped = 0; skipped < start; skipped++) await lines.next();
  return {
    async next(row, count) {
      const ids: string[] = [];
      for (let i = 0; i < count; i++) {
        const next = await lines.next();
        if (next.done) throw new InputRecordError(`${plan.path} id ${row + i}`, 'ids file ends early (changed after opening?)');
        ids.push(next.value.text);
      }
      return ids;
    },
    close: async () => {
      await lines.return(undefined);
    },
  };
}

/**
 * Opens a `.npy` matrix as a streaming vector source.
 * Records: vector = row as `Float32Array` of length dim (float64 narrowed); id from the ids file
 * or String(row index); no payload; location `<path> row <index>`. `dim` and `count` (rows in the
 * slice) come from the header. A pass holds about 4 MiB of rows at a time.
 * @throws ConfigValidationError naming the file(s) when a file cannot be read, the header is
 *   invalid, the array is not 2-D float32/float64 in C order, the file is shorter than its header
 *   says, the ids file is not integers / has a count != n, or the slice is invalid.
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
  await checkFileSize(path, header);
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
