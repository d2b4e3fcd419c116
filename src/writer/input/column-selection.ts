/**
 * Column selection shared by every input reader: which named columns of a record become its
 * payload, its routing context (CEL sharding) and its shard id (EXPLICIT sharding).
 *
 * A reader describes a record's columns with a {@link ColumnLookup} and calls
 * {@link applyColumnSelection}; formats whose columns are known before reading (IDX, Parquet)
 * check the names up front with {@link requireKnownColumns}; formats without columns (npy, vecs)
 * reject the options with {@link rejectColumnSelection}.
 */
import { ConfigValidationError, InputRecordError } from '../../common/errors.ts';
import type { RoutingContext, RoutingScalar } from '../../common/routing/routing-context.ts';
import type { Payload, VectorRecord } from './vector-record.ts';

/** Which columns of a record fill its payload, routing context and shard id. */
export interface ColumnSelection {
  /**
   * Columns stored as the payload (`{ column: value }`), replacing the format's default payload.
   * Undefined keeps the default payload; `[]` stores no payload.
   */
  payloadColumns?: readonly string[];
  /** Columns copied into `record.routingContext` (column name -> scalar value). */
  routingColumns?: readonly string[];
  /** Column copied into `record.shardId`; its values must be non-negative safe integers. */
  shardIdColumn?: string;
}

/**
 * Looks up one column of the current record: `{ value }` when the record has the column (value
 * may be null), undefined when it does not.
 */
export type ColumnLookup = (name: string) => { value: unknown } | undefined;

/** Each named column of a selection with the option that names it, e.g. `routing column`. */
function namedColumns(selection: ColumnSelection): { name: string; role: string }[] {
  const out: { name: string; role: string }[] = [];
  for (const name of selection.payloadColumns ?? []) out.push({ name, role: 'payload column' });
  for (const name of selection.routingColumns ?? []) out.push({ name, role: 'routing column' });
  if (selection.shardIdColumn !== undefined) out.push({ name: selection.shardIdColumn, role: 'shard id column' });
  return out;
}

/**
 * Throws the "unknown column" error: names the column, its role, the file and lists the
 * available columns.
 * @param name the column; @param role what it was asked for, e.g. `vector column`.
 * @param available the file's column names; @param file the file name.
 * @param hint optional extra sentence, e.g. how to make more columns available.
 */
export function unknownColumnError(
  name: string,
  role: string,
  available: readonly string[],
  file: string,
  hint?: string,
): ConfigValidationError {
  const list = available.length === 0 ? 'none' : available.join(', ');
  return new ConfigValidationError(
    `unknown ${role} ${JSON.stringify(name)} in ${file}; available columns: ${list}` + (hint ? ` (${hint})` : ''),
  );
}

/**
 * Checks, before reading, that every column the selection names exists.
 * @param selection the caller's selection; @param available the file's column names.
 * @param file file name for the message; @param hint optional extra sentence for the message.
 * @throws ConfigValidationError naming the first unknown column, its role and the file, and
 *   listing the available columns.
 */
export function requireKnownColumns(
  selection: ColumnSelection,
  available: readonly string[],
  file: string,
  hint?: string,
): void {
  const known = new Set(available);
  for (const { name, role } of namedColumns(selection)) {
    if (!known.has(name)) throw unknownColumnError(name, role, available, file, hint);
  }
}

/**
 * For formats without named columns (npy, fvecs/bvecs/ivecs): rejects any column option.
 * Empty `payloadColumns` / `routingColumns` arrays select nothing and are accepted.
 * @param format format name for the message, e.g. `npy`; @param file the input file.
 * @throws ConfigValidationError naming the option and the file.
 */
export function rejectColumnSelection(selection: ColumnSelection, format: string, file: string): void {
  let given: string | undefined;
  if ((selection.payloadColumns?.length ?? 0) > 0) given = 'payloadColumns';
  else if ((selection.routingColumns?.length ?? 0) > 0) given = 'routingColumns';
  else if (selection.shardIdColumn !== undefined) given = 'shardIdColumn';
  if (given !== undefined) {
    throw new ConfigValidationError(`${given} does not apply to ${format} input (${file} has no named columns)`);
  }
}

/** Describes a value's type for messages: `null`, `array`, `Uint8Array`, `string`, ... */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return typeof value;
}

/**
 * Checks one routing value: strings, numbers, bigints, booleans and bytes pass unchanged (the
 * router coerces them to the declared CEL types).
 * @throws InputRecordError at `location` naming the column when the value is null or not a scalar.
 */
export function toRoutingScalar(value: unknown, column: string, location: string): RoutingScalar {
  if (
    typeof value === 'string' ||
    typeof value === 'number' ||
    typeof value === 'bigint' ||
    typeof value === 'boolean' ||
    value instanceof Uint8Array
  ) {
    return value;
  }
  throw new InputRecordError(
    location,
    `routing column ${JSON.stringify(column)} is ${describeType(value)}; expected a string, number, bigint, boolean or bytes`,
  );
}

/**
 * Checks one shard id value: a number or bigint holding a non-negative safe integer.
 * @returns the shard id as a number.
 * @throws InputRecordError at `location` naming the column (`what`) otherwise.
 */
export function toShardId(value: unknown, what: string, location: string): number {
  const n = typeof value === 'bigint' && value >= 0n && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  if (typeof n === 'number' && Number.isSafeInteger(n) && n >= 0) return n;
  const shown =
    typeof value === 'number' || typeof value === 'bigint'
      ? String(value)
      : typeof value === 'string'
        ? JSON.stringify(value)
        : describeType(value);
  throw new InputRecordError(location, `${what} must be a non-negative safe integer, got ${shown}`);
}

/**
 * Converts a column value to a JSON-serialisable payload value: bigint -> number when safe, else
 * decimal string; `Uint8Array` -> base64 string; other typed arrays -> number arrays; `Date` ->
 * ISO 8601 string; arrays and plain objects recursively; strings, numbers, booleans and null as is.
 */
export function toPayloadValue(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : String(value);
  }
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (value instanceof Date) return value.toISOString();
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    return Array.from(value as unknown as ArrayLike<number | bigint>, toPayloadValue);
  }
  if (Array.isArray(value)) return value.map(toPayloadValue);
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) out[key] = toPayloadValue(inner);
  return out;
}

/** Looks a column up, or throws InputRecordError at `location` naming the column and its role. */
function requireColumn(lookup: ColumnLookup, name: string, role: string, location: string): unknown {
  const found = lookup(name);
  if (found === undefined) throw new InputRecordError(location, `record has no ${role} ${JSON.stringify(name)}`);
  return found.value;
}

/**
 * Applies a selection to a record read by a reader (mutates `record`):
 * - `payloadColumns` given: `record.payload` becomes `{ column: toPayloadValue(value) }` for those
 *   columns (in the given order), replacing the default payload; `[]` removes the payload.
 * - `routingColumns`: each column's value (checked by {@link toRoutingScalar}) is added to
 *   `record.routingContext` (created when absent), overriding a value of the same name.
 * - `shardIdColumn`: the value (checked by {@link toShardId}) replaces `record.shardId`.
 * @param lookup the record's columns; @param selection the caller's selection.
 * @throws InputRecordError at `record.location` naming the column when a named column is
 *   missing from the record, a routing value is not a scalar, or a shard id is not a
 *   non-negative safe integer.
 */
export function applyColumnSelection(record: VectorRecord, lookup: ColumnLookup, selection: ColumnSelection): void {
  const { location } = record;
  if (selection.payloadColumns !== undefined) {
    if (selection.payloadColumns.length === 0) {
      delete record.payload;
    } else {
      const payload: Payload = {};
      for (const name of selection.payloadColumns) {
        payload[name] = toPayloadValue(requireColumn(lookup, name, 'payload column', location));
      }
      record.payload = payload;
    }
  }
  if (selection.routingColumns !== undefined && selection.routingColumns.length > 0) {
    const context: RoutingContext = { ...record.routingContext };
    for (const name of selection.routingColumns) {
      context[name] = toRoutingScalar(requireColumn(lookup, name, 'routing column', location), name, location);
    }
    record.routingContext = context;
  }
  if (selection.shardIdColumn !== undefined) {
    const name = selection.shardIdColumn;
    record.shardId = toShardId(requireColumn(lookup, name, 'shard id column', location), `shard id column ${JSON.stringify(name)}`, location);
  }
}
