/**
 * Vector source over a JSON Lines file: one object per line,
 * `{"id": string | number, "vector": number[], "payload"?: object}`; blank lines are skipped.
 * Read line by line with node:readline, so a pass holds one line at a time.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { ConfigValidationError, InputRecordError, errorMessage } from '../../common/errors.ts';
import { resolveSlice, type SliceOptions } from './slice.ts';
import type { Payload, VectorRecord, VectorSource } from './vector-record.ts';

const NUMERIC_ID_ERROR = 'numeric "id" must be a safe integer (quote large or fractional ids as strings)';

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
    ),
    vector: z.array(
      z.custom<number>((v) => typeof v === 'number', { error: 'vector elements must be numbers' }),
      { error: (iss) => (iss.input === undefined ? 'missing "vector"' : '"vector" must be an array of numbers') },
    ),
    payload: z.record(z.string(), z.unknown(), { error: '"payload" must be a JSON object' }).optional(),
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
 * Parses one non-blank line into a record.
 * @param text the line; @param location `<file> line <n>` for the record and errors.
 * @throws InputRecordError at `location` when the line is not JSON or does not match the schema.
 */
export function parseJsonlLine(text: string, location: string): VectorRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InputRecordError(location, `not valid JSON (${errorMessage(err)})`);
  }
  const parsed = lineSchema.safeParse(value);
  if (!parsed.success) throw new InputRecordError(location, describeIssue(parsed.error));
  const { id, vector, payload } = parsed.data;
  const record: VectorRecord = { id: String(id), vector: Float32Array.from(vector), location };
  if (payload !== undefined) record.payload = payload as Payload;
  return record;
}

/** Options of {@link openJsonlSource}. `start`/`limit` count records (non-blank lines). */
export interface JsonlSourceOptions extends SliceOptions {
  /** Path of the `.jsonl` / `.ndjson` file (UTF-8). */
  path: string;
}

/**
 * Opens a JSON Lines file as a streaming vector source.
 * Records: id = the `id` field as a string (numbers in decimal); vector = `Float32Array` of the
 * `vector` numbers (values beyond the float32 range become ±Infinity); payload = `payload` if
 * present; location `<path> line <n>` (1-based line number, blank lines counted).
 * `dim` and `count` are undefined (not known before reading).
 * @throws ConfigValidationError naming the file when it does not exist or is not a file, or the
 *   slice is invalid. During a pass, `records()` throws InputRecordError naming the line for a
 *   line that is not JSON, lacks `id`/`vector`, has a non-numeric vector element, a payload that
 *   is not an object, or a numeric id that is not a safe integer.
 */
export async function openJsonlSource(options: JsonlSourceOptions): Promise<VectorSource> {
  const { path } = options;
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
    const stream = createReadStream(path, { encoding: 'utf8' });
    const rl = createInterface({ input: stream, crlfDelay: Infinity });
    let line = 0;
    let index = 0; // index of the record (non-blank line) in the file
    try {
      for await (const raw of rl) {
        line++;
        const text = line === 1 && raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw; // UTF-8 BOM
        if (text.trim() === '') continue;
        const current = index++;
        if (current < slice.start) continue;
        yield parseJsonlLine(text, `${path} line ${line}`);
        if (index >= slice.end) break;
      }
    } finally {
      rl.close();
      stream.destroy();
    }
  }

  return { description: path, dim: undefined, count: undefined, records };
}
