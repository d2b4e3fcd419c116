/**
 * The `start` / `limit` options shared by the input readers: take records
 * `start .. start + limit - 1` (0-based, in file order) of a file.
 */
import { ConfigValidationError } from '../../common/errors.ts';

/** Which records of a file a reader yields. */
export interface SliceOptions {
  /** Index (0-based, in file order) of the first record to yield; default 0. */
  start?: number;
  /** Maximum number of records to yield; default: all records from `start` on. */
  limit?: number;
}

/** A validated slice: records `start` (inclusive) to `end` (exclusive; Infinity = to the end). */
export interface ResolvedSlice {
  start: number;
  end: number;
}

/**
 * Validates `start` / `limit` and clamps them to the file's record count when known.
 * @param options the caller's slice options.
 * @param total number of records in the file, or undefined when unknown (e.g. JSONL).
 * @param name file name for error messages.
 * @returns the slice; when `total` is known, `end <= total`.
 * @throws ConfigValidationError naming the file when `start`/`limit` is not a non-negative
 *   integer, or `start` is beyond the `total` records of the file.
 */
export function resolveSlice(options: SliceOptions, total: number | undefined, name: string): ResolvedSlice {
  const start = options.start ?? 0;
  const limit = options.limit;
  if (!Number.isSafeInteger(start) || start < 0) {
    throw new ConfigValidationError(`${name}: start must be a non-negative integer, got ${start}`);
  }
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0)) {
    throw new ConfigValidationError(`${name}: limit must be a non-negative integer, got ${limit}`);
  }
  if (total !== undefined && start > total) {
    throw new ConfigValidationError(`${name}: start ${start} is beyond the ${total} records of the file`);
  }
  let end = limit === undefined ? Infinity : start + limit;
  if (total !== undefined) end = Math.min(end, total);
  return { start, end };
}
