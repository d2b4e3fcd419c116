/**
 * Resource bounds of input reading (issue 20, defect 6): caps checked on a file's header before
 * anything is allocated from it, and on every JSONL line before it is parsed, so a crafted input
 * (an IDX gzip bomb whose header claims 16384x16384 images, a 10 GB line, a payload nested 10^5
 * deep) is refused with an error naming the file, the record, the value, the limit and the
 * `build` flag that raises it, instead of exhausting memory or the stack.
 */
import { ConfigValidationError, InputRecordError } from '../../common/errors.ts';
import { jsonNestingDepth } from '../../common/json-nesting.ts';

/** Bounds applied while reading an input file. */
export interface InputLimits {
  /** Largest vector dimension accepted from any format's header or records (`--max-dim`). */
  maxDim: number;
  /** Largest JSONL line, in bytes of UTF-8 text (`--max-line-bytes`). */
  maxLineBytes: number;
  /** Deepest JSON nesting of a JSONL line, the line's own object counting 1 (`--max-json-depth`). */
  maxJsonDepth: number;
}

/**
 * Defaults: dim 65,536 (usearch stores dimensions as uint32 and has no smaller cap; sqlite-vec
 * allows 8,192; the largest embedding models emit 3,072-12,288, GIST 960, MNIST 784), lines of
 * 16 MiB (a 65,536-dim vector written as JSON text is about 1.3 MB) and JSON nesting 64 (the
 * line object, the payload object and 62 more levels).
 */
export const DEFAULT_INPUT_LIMITS: Readonly<InputLimits> = Object.freeze({
  maxDim: 65_536,
  maxLineBytes: 16 << 20,
  maxJsonDepth: 64,
});

/** The limits with defaults filled in for the fields not given. */
export function resolveInputLimits(limits: Partial<InputLimits> | undefined): InputLimits {
  const out: InputLimits = { ...DEFAULT_INPUT_LIMITS };
  for (const [key, flag] of [
    ['maxDim', '--max-dim'],
    ['maxLineBytes', '--max-line-bytes'],
    ['maxJsonDepth', '--max-json-depth'],
  ] as const) {
    const value = limits?.[key];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < 1) throw new ConfigValidationError(`${flag} must be a positive integer, got ${value}`);
    out[key] = value;
  }
  return out;
}

/**
 * Checks a vector dimension read from a header or a record against `--max-dim`.
 * @param dim the dimension (any number; e.g. the product of an IDX header's sizes).
 * @param where the file, or `<file> line <n>` / `<file> record <n>`, for the message.
 * @param field what the dimension came from, e.g. `IDX header rows x cols (16384 x 16384)`.
 * @throws ConfigValidationError naming `where`, the field, the value, the limit and `--max-dim`.
 */
export function checkDimension(dim: number, limits: InputLimits, where: string, field: string): void {
  if (dim <= limits.maxDim) return;
  throw new ConfigValidationError(
    `${where}: ${field} gives vector dimension ${dim}, over the limit of ${limits.maxDim} (raise it with --max-dim)`,
  );
}

/**
 * Checks a JSONL line's nesting depth before it is parsed.
 * @throws InputRecordError at `location` naming the limit and `--max-json-depth`.
 */
export function checkJsonDepth(text: string, limits: InputLimits, location: string): void {
  if (jsonNestingDepth(text, limits.maxJsonDepth) > limits.maxJsonDepth) {
    throw new InputRecordError(
      location,
      `JSON nests more than ${limits.maxJsonDepth} levels deep (the line's object is level 1; raise the limit with --max-json-depth)`,
    );
  }
}
