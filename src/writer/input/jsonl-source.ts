/**
 * Vector source over a JSON Lines file: one object per line,
 * `{"id": string | number, "vector": number[], "payload"?: object, "shard_id"?: int,
 * "routing_context"?: {name: string | number | boolean}, "key"?: string | int, "value"?: any}`,
 * plus any other top-level fields
 * (selectable as columns); blank lines are skipped.
 * Read line by line, so a pass holds one line at a time; a line longer than `--max-line-bytes`
 * is refused before it is held whole, and one nested deeper than `--max-json-depth` before it is
 * parsed (see input-limits.ts).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { z } from 'zod';
import { ConfigValidationError, InputRecordError, errorMessage } from '../../common/errors.ts';
import { applyColumnSelection, type ColumnLookup, type ColumnSelection } from './column-selection.ts';
import { checkDimension, checkJsonDepth, resolveInputLimits, type InputLimits } from './input-limits.ts';
import { resolveSlice, type SliceOptions } from './slice.ts';
import type { Payload, VectorRecord, VectorSource } from './vector-record.ts';

const NUMERIC_ID_ERROR = 'numeric "id" must be a safe integer (quote large or fractional ids as strings)';
const SHARD_ID_ERROR = '"shard_id" must be a non-negative safe integer';
const ROUTING_VALUE_ERROR = 'routing values must be strings, numbers or booleans';
const KEY_ERROR = '"key" must be a non-empty string or an integer (a JSON number without fraction, at most 2^53-1 in magnitude; quote larger keys as strings)';

/**
 * Schema of one line. Vector elements must be JSON numbers; non-finite values (a literal such as
 * 1e400 parses to Infinity) pass here and are reported by the RecordValidator with their index.
 * Numeric ids must be safe integers (larger ones would silently lose digits in JSON.parse).
 */
const lineSchema = z.object(
  {
    id: z.union(
      [
        z.string().min(1, { error: '"id" must not be empty' }),
        z.number().int({ error: NUMERIC_ID_ERROR }).safe({ error: NUMERIC_ID_ERROR }),
      ],
      {
        error: (iss) =>
          iss.input === undefined ? 'missing "id"' : '"id" must be a non-empty string or a safe integer',
      },
    ).optional(),
    vector: z.array(
      z.custom<number>((v) => typeof v === 'number', { error: 'vector elements must be numbers' }),
      { error: (iss) => (iss.input === undefined ? 'missing "vector"' : '"vector" must be an array of numbers') },
    ),
    payload: z.record(z.string(), z.unknown(), { error: '"payload" must be a JSON object' }).optional(),
    shard_id: z
      .number({ error: SHARD_ID_ERROR })
      .int({ error: SHARD_ID_ERROR })
      .nonnegative({ error: SHARD_ID_ERROR })
      .safe({ error: SHARD_ID_ERROR })
      .optional(),
    routing_context: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean()], { error: ROUTING_VALUE_ERROR }), {
        error: '"routing_context" must be a JSON object',
      })
      .optional(),
    key: z
      .union([z.string().min(1, { error: '"key" must not be empty' }), z.number().int({ error: KEY_ERROR }).safe({ error: KEY_ERROR })], {
        error: KEY_ERROR,
      })
      .optional(),
    value: z.unknown().optional(),
  },
  { error: 'expected a JSON object' },
);

/** Formats the first zod issue as `path: message`, e.g. `vector[3]: vector elements must be numbers`. */
function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid record';
  const path = issue.path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
  return path === '' || issue.message.includes(`"${path}"`) ? issue.message : `${path}: ${issue.message}`;
}

/**
 * The columns of a parsed line: its top-level fields first, then the fields of its `payload`.
 */
function lineColumns(line: Record<string, unknown>, payload: Payload | undefined): ColumnLookup {
  return (name) => {
    if (Object.hasOwn(line, name)) return { value: line[name] };
    if (payload !== undefined && Object.hasOwn(payload, name)) return { value: payload[name] };
    return undefined;
  };
}

const utf8 = new TextEncoder();

/**
 * The bytes stored for a line's `value` (KV snapshots): a JSON string is stored as its UTF-8
 * bytes (`"abc"` -> `abc`), any other JSON value (number, boolean, null, array, object) as the
 * UTF-8 bytes of its compact JSON text (`{"a": 1}` -> `{"a":1}`).
 */
export function jsonlValueBytes(value: unknown): Uint8Array {
  return utf8.encode(typeof value === 'string' ? value : JSON.stringify(value));
}

/**
 * Parses one non-blank line into a record.
 * @param text the line; @param location `<file> line <n>` for the record and errors.
 * @param selection optional column selection (see {@link JsonlSourceOptions}).
 * @returns the record: id as a string, vector as `Float32Array`, payload / shardId /
 *   routingContext from the line's `payload` / `shard_id` / `routing_context`, then the selection
 *   applied (selected columns replace the payload, add to the routing context, replace the shard id);
 *   key = `key` (a string, or an integer as a bigint), value = `value` as bytes ({@link jsonlValueBytes}).
 * @param limits `maxJsonDepth` (checked before parsing) and `maxDim` (the vector's length);
 *   default: input-limits.ts DEFAULT_INPUT_LIMITS.
 * @throws InputRecordError at `location` when the line nests deeper than `maxJsonDepth`, is not
 *   JSON, does not match the schema
 *   (including an empty `key`, or a `key` that is neither a string nor a safe integer)
 *   (including a `shard_id` that is not a non-negative safe integer or a non-scalar routing
 *   value), or lacks a selected column; ConfigValidationError at `location` naming `--max-dim`
 *   when the vector is longer than `maxDim`.
 */
export function parseJsonlLine(text: string, location: string, selection: ColumnSelection = {}, limits?: Partial<InputLimits>): VectorRecord {
  const bounds = resolveInputLimits(limits);
  // JSON.parse is iterative, but everything after it (zod, JSON.stringify of the payload when a
  // shard is written, the nodes' readers) recurses: refuse deep nesting before parsing.
  checkJsonDepth(text, bounds, location);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InputRecordError(location, `not valid JSON (${errorMessage(err)})`);
  }
  const parsed = lineSchema.safeParse(value);
  if (!parsed.success) throw new InputRecordError(location, describeIssue(parsed.error));
  const { id, vector, payload, shard_id: shardId, routing_context: routingContext, key, value: kvValue } = parsed.data;
  checkDimension(vector.length, bounds, location, '"vector" length');
  // A KV record's id is its key (kv-keys.ts): with a key, the id may be left out.
  if (id === undefined && key === undefined) throw new InputRecordError(location, 'missing "id"');
  const record: VectorRecord = { id: String(id ?? key), vector: Float32Array.from(vector), location };
  if (key !== undefined) record.key = typeof key === 'number' ? BigInt(key) : key;
  if (kvValue !== undefined) record.value = jsonlValueBytes(kvValue);
  if (payload !== undefined) record.payload = payload as Payload;
  if (shardId !== undefined) record.shardId = shardId;
  if (routingContext !== undefined) record.routingContext = { ...routingContext };
  applyColumnSelection(record, lineColumns(value as Record<string, unknown>, payload as Payload | undefined), selection);
  return record;
}

/** Options of {@link openJsonlSource}. `start`/`limit` count records (non-blank lines). */
export interface JsonlSourceOptions extends SliceOptions, ColumnSelection {
  /**
   * Path of the `.jsonl` / `.ndjson` file (UTF-8). Column names in `payloadColumns`,
   * `routingColumns` and `shardIdColumn` are looked up among each line's top-level fields first,
   * then in its `payload` object (e.g. `routingColumns: ['region']` picks `payload.region`).
   */
  path: string;
  /** Line length, nesting depth and dimension caps; default: input-limits.ts DEFAULT_INPUT_LIMITS. */
  limits?: Partial<InputLimits>;
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/**
 * The lines of a file (split at `\n`, a trailing `\r` dropped, UTF-8 decoded), with 1-based
 * numbers. Holds one line at a time: a line longer than `maxLineBytes` is refused as soon as that
 * many bytes of it are buffered, so a file without newlines never grows memory past the cap.
 * @throws InputRecordError `<path> line <n>` naming the limit and `--max-line-bytes`.
 */
async function* fileLines(path: string, maxLineBytes: number): AsyncGenerator<{ text: string; line: number }> {
  const stream = createReadStream(path, { highWaterMark: 1 << 16 });
  let parts: Buffer[] = [];
  let partBytes = 0;
  let line = 0;
  const tooLong = (): InputRecordError =>
    new InputRecordError(`${path} line ${line + 1}`, `line is longer than ${maxLineBytes} bytes (raise the limit with --max-line-bytes)`);
  /** The buffered part of a line plus `tail`, without a trailing \r, as text; checks its length. */
  const take = (tail: Buffer): string => {
    let bytes = parts.length === 0 ? tail : Buffer.concat([...parts, tail]);
    if (bytes.length > 0 && bytes[bytes.length - 1] === CARRIAGE_RETURN) bytes = bytes.subarray(0, bytes.length - 1);
    if (bytes.length > maxLineBytes) throw tooLong();
    parts = [];
    partBytes = 0;
    return bytes.toString('utf8');
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let from = 0;
      for (let at = chunk.indexOf(NEWLINE, from); at !== -1; at = chunk.indexOf(NEWLINE, from)) {
        if (partBytes + (at - from) > maxLineBytes + 1) throw tooLong(); // + 1: a trailing \r
        const text = take(chunk.subarray(from, at));
        line++;
        yield { text, line };
        from = at + 1;
      }
      if (from < chunk.length) {
        partBytes += chunk.length - from;
        if (partBytes > maxLineBytes + 1) throw tooLong();
        parts.push(chunk.subarray(from));
      }
    }
    if (partBytes > 0) {
      const text = take(Buffer.alloc(0));
      line++;
      yield { text, line };
    }
  } finally {
    stream.destroy();
  }
}

/**
 * Opens a JSON Lines file as a streaming vector source.
 * Records: id = the `id` field as a string (numbers in decimal); vector = `Float32Array` of the
 * `vector` numbers (values beyond the float32 range become ±Infinity); payload = `payload` if
 * present, or `{ column: value }` of `payloadColumns`; shardId = `shard_id`, or the
 * `shardIdColumn` value; routingContext = `routing_context` plus the `routingColumns` values;
 * location `<path> line <n>` (1-based line number, blank lines counted).
 * `dim` and `count` are undefined (not known before reading).
 * @throws ConfigValidationError naming the file when it does not exist or is not a file, or the
 *   slice is invalid. During a pass, `records()` throws InputRecordError naming the line for a
 *   line longer than `limits.maxLineBytes` or nested deeper than `limits.maxJsonDepth`, a
 *   vector longer than `limits.maxDim`, a line that is not JSON, lacks `id`/`vector`, has a non-numeric vector element, a payload that
 *   is not an object, a numeric id that is not a safe integer, a `shard_id` (or shard id column
 *   value) that is not a non-negative safe integer, a non-scalar routing value, or lacks a
 *   selected column (the message names the column).
 */
export async function openJsonlSource(options: JsonlSourceOptions): Promise<VectorSource> {
  const { path, payloadColumns, routingColumns, shardIdColumn } = options;
  const selection: ColumnSelection = { payloadColumns, routingColumns, shardIdColumn };
  const limits = resolveInputLimits(options.limits);
  const slice = resolveSlice(options, undefined, path);
  let isFile: boolean;
  try {
    isFile = (await stat(path)).isFile();
  } catch (err) {
    throw new ConfigValidationError(`${path}: cannot open JSONL file: ${errorMessage(err)}`, { cause: err });
  }
  if (!isFile) throw new ConfigValidationError(`${path}: not a file`);

  async function* records(): AsyncGenerator<VectorRecord> {
    if (slice.end <= slice.start) return;
    let index = 0; // index of the record (non-blank line) in the file
    for await (const { text: raw, line } of fileLines(path, limits.maxLineBytes)) {
      const text = line === 1 && raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw; // UTF-8 BOM
      if (text.trim() === '') continue;
      const current = index++;
      if (current < slice.start) continue;
      yield parseJsonlLine(text, `${path} line ${line}`, selection, limits);
      if (index >= slice.end) break;
    }
  }

  return { description: path, dim: undefined, count: undefined, records };
}
