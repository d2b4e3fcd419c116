/**
 * External ids for the row-matrix formats (npy, fvecs/bvecs/ivecs): an integer `.npy` of shape
 * [n] (or [n, 1]), or a text file with one id per line. Without an ids file, id = row index.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { ConfigValidationError, InputRecordError, errorMessage } from '../../common/errors.ts';
import { decodeNpyElements, readNpyHeader, type NpyHeader } from '../../common/npy.ts';
import { readExact } from './read-exact.ts';

/** Where the ids of the rows come from (the result of {@link planIds}). */
export type IdsPlan =
  | { kind: 'row' }
  | { kind: 'npy'; path: string; header: NpyHeader }
  | { kind: 'text'; path: string };

/** Reads the ids of consecutive rows, in batches matching the vector batches. */
export interface IdReader {
  /** Ids (decimal strings for integers) of `count` consecutive rows starting at row `row`. */
  next(row: number, count: number): Promise<string[]>;
  /** Releases the file (safe to call once the pass ends). */
  close(): Promise<void>;
}

/**
 * Throws ConfigValidationError naming the file when it is shorter than the header + data of
 * its `.npy` header.
 */
export async function checkNpyFileSize(path: string, header: NpyHeader): Promise<void> {
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

/**
 * Plans where ids come from and checks the ids file has exactly one id per row.
 * @param idsPath the ids file (`*.npy` of integers, any other name = text, one id per line,
 *   blank lines skipped), or undefined for row-index ids.
 * @param vectorsPath the vectors file, for messages; @param rows its number of rows.
 * @throws ConfigValidationError naming the file(s) when the ids file cannot be read, an ids
 *   `.npy` does not hold integers of shape (n,) or is truncated, or the id count != rows.
 */
export async function planIds(idsPath: string | undefined, vectorsPath: string, rows: number): Promise<IdsPlan> {
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
    await checkNpyFileSize(idsPath, header);
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

/**
 * Opens an id reader positioned at row `start` (call `next` with consecutive rows from there).
 * `next` throws InputRecordError naming the ids file and row when the file was truncated after
 * planning.
 */
export async function openIdReader(plan: IdsPlan, start: number): Promise<IdReader> {
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
