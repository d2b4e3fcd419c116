/**
 * Conversions between shardfleet routing values and @marcbachmann/cel-js runtime values, shared by
 * the writer and the router through {@link CelRouting} (src/common/routing/cel-routing.ts), so both
 * sides coerce a routing context identically.
 *
 * cel-js runtime representation: int = `bigint` (int64 range), uint = `UnsignedInt` (a wrapper
 * around a `bigint` in 0..2^64-1, from `@marcbachmann/cel-js/evaluator`), double = `number`,
 * string = `string`, bytes = `Uint8Array`, bool = `boolean`.
 *
 * Coercion rules (routing value -> declared column type); anything else is rejected:
 * - int:    `bigint` in -2^63..2^63-1; a `number` that is a safe integer (|n| <= 2^53-1); a canonical
 *           decimal integer string (`"-42"`, so 64-bit ids can travel through JSON losslessly).
 * - uint:   as int but in 0..2^64-1 (so -1 is rejected).
 * - double: `number`; a `bigint` only when exactly representable as a double.
 * - string: `string` only (a number is rejected, never stringified).
 * - bytes:  `Uint8Array` (including Buffer); or a canonical standard base64 string (RFC 4648 with
 *           padding, e.g. `"aGk="`), since JSON cannot carry raw bytes. A string is never taken as
 *           UTF-8 text for a bytes column.
 * - bool:   `boolean` only.
 */
import { UnsignedInt } from '@marcbachmann/cel-js/evaluator';

import { quoteInput } from '../bounded-text.ts';
import type { CelColumnType } from './routing-context.ts';

export { UnsignedInt };

/** A value as cel-js represents it at run time (the types a routing column or result can have). */
export type CelValue = bigint | UnsignedInt | number | string | boolean | Uint8Array;

/** A categorical routing token as it appears in the manifest's `routing_values`. */
export type RoutingToken = string | number | boolean;

/** Thrown by the coercions below; the caller wraps it in the error type of its side. */
export class CelCoercionError extends Error {}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const DECIMAL_INTEGER = /^-?(?:0|[1-9][0-9]*)$/;

/** Describes a routing value for an error message, e.g. `3.5 (number)`, `"x" (string)`. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return `${quoteInput(value)} (string)`;
  if (typeof value === 'bigint') return `${value} (bigint)`;
  if (value instanceof UnsignedInt) return `${value.value}u (uint)`;
  if (value instanceof Uint8Array) return `${value.length} bytes (Uint8Array)`;
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `${String(value)} (${typeof value})`;
}

/**
 * An integral routing value as a bigint, or undefined when it is not integral.
 * @throws CelCoercionError for a number that is an integer but not a safe one (it may already have
 *   lost precision).
 */
function integral(value: unknown): bigint | undefined {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return undefined;
    if (!Number.isSafeInteger(value)) {
      throw new CelCoercionError(`${value} is beyond 2^53-1 and may have lost precision as a JS number; pass it as a bigint or a decimal string`);
    }
    return BigInt(value);
  }
  if (typeof value === 'string' && DECIMAL_INTEGER.test(value)) return BigInt(value);
  return undefined;
}

/** Converts to a CEL int (bigint). @throws CelCoercionError when not an integer in int64 range. */
function toInt(value: unknown): bigint {
  const v = integral(value);
  if (v === undefined) throw new CelCoercionError(`${describeValue(value)} is not an int (expected an integer number, bigint or decimal string)`);
  if (v < INT64_MIN || v > INT64_MAX) throw new CelCoercionError(`${describeValue(value)} is outside the int64 range`);
  return v;
}

/** Converts to a CEL uint. @throws CelCoercionError when not an integer in 0..2^64-1. */
function toUint(value: unknown): UnsignedInt {
  const v = integral(value);
  if (v === undefined) throw new CelCoercionError(`${describeValue(value)} is not a uint (expected a non-negative integer number, bigint or decimal string)`);
  if (v < 0n || v > UINT64_MAX) throw new CelCoercionError(`${describeValue(value)} is outside the uint64 range 0..2^64-1`);
  return new UnsignedInt(v);
}

/** Converts to a CEL double. @throws CelCoercionError when not a number (or an inexact bigint). */
function toDouble(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint' && BigInt(Number(value)) === value) return Number(value);
  throw new CelCoercionError(`${describeValue(value)} is not a double`);
}

/** Converts to a CEL string. @throws CelCoercionError when not a string. */
function toStr(value: unknown): string {
  if (typeof value === 'string') return value;
  throw new CelCoercionError(`${describeValue(value)} is not a string`);
}

/** Converts to CEL bytes. @throws CelCoercionError when neither a Uint8Array nor canonical base64. */
function toBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') {
    const decoded = Buffer.from(value, 'base64');
    if (decoded.toString('base64') === value) return decoded;
    throw new CelCoercionError(`${describeValue(value)} is not canonical base64 (a string for a bytes column must be standard base64 with padding)`);
  }
  throw new CelCoercionError(`${describeValue(value)} is not bytes (expected a Uint8Array or a base64 string)`);
}

/** Converts to a CEL bool. @throws CelCoercionError when not a boolean. */
function toBool(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  throw new CelCoercionError(`${describeValue(value)} is not a bool`);
}

/** A coercion from a routing value to one CEL type. @throws CelCoercionError. */
export type CelCoercion = (value: unknown) => CelValue;

/** The coercion for each declared column type (see the module docstring for the rules). */
export const CEL_COERCIONS: Readonly<Record<CelColumnType, CelCoercion>> = {
  int: toInt,
  uint: toUint,
  double: toDouble,
  string: toStr,
  bytes: toBytes,
  bool: toBool,
};

/**
 * Coerces one routing value to its column's CEL runtime value.
 * @throws CelCoercionError describing why the value does not fit the type.
 */
export function coerceRoutingValue(value: unknown, type: CelColumnType): CelValue {
  return CEL_COERCIONS[type](value);
}

/**
 * The lookup key of a categorical token or CEL result, or undefined when it can never match a
 * token (bytes, NaN, lists, maps, null...). Numbers compare by value whatever their CEL type, since
 * manifest JSON has a single number type: int 3, uint 3u, double 3.0 and token 3 share a key.
 * Strings never equal numbers or booleans (`"3"` is not 3).
 */
export function tokenKey(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return `s${value}`;
    case 'boolean':
      return value ? 'T' : 'F';
    case 'bigint':
      return `n${value}`;
    case 'number':
      if (Number.isInteger(value)) return `n${BigInt(value)}`;
      return Number.isFinite(value) ? `n${value}` : undefined;
    default:
      return value instanceof UnsignedInt ? `n${value.value}` : undefined;
  }
}

/** Formats a CEL result for a message: `7` (int), `7u` (uint), `"eu"`, `2.5`, `true`. */
export function formatCelValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}`;
  if (value instanceof UnsignedInt) return `${value.value}u`;
  if (value instanceof Uint8Array) return `bytes of length ${value.length}`;
  if (value === null) return 'null';
  if (typeof value === 'object') return Array.isArray(value) ? 'a list' : 'a map';
  return String(value);
}
