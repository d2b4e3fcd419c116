/**
 * Conversion between a routing context on the wire (`map<string, RoutingValue>`) and the
 * {@link RoutingContext} the routing functions take.
 */
import { InvalidQueryError } from '../errors.ts';
import type { RoutingValue } from '../proto-gen/shardfleet/v1/RoutingValue.ts';
import type { RoutingValue__Output } from '../proto-gen/shardfleet/v1/RoutingValue.ts';
import type { RoutingContext, RoutingScalar } from './routing-context.ts';

/**
 * Decodes a request's routing context. 64-bit integers arrive as JS numbers (exact up to 2^53).
 * @throws InvalidQueryError naming the column when a value has no field set.
 */
export function decodeRoutingContext(wire: Record<string, RoutingValue__Output>): RoutingContext {
  const out: RoutingContext = {};
  for (const [name, value] of Object.entries(wire)) {
    let scalar: RoutingScalar | undefined;
    switch (value.kind) {
      case 'int_value':
        scalar = value.int_value;
        break;
      case 'uint_value':
        scalar = value.uint_value;
        break;
      case 'string_value':
        scalar = value.string_value;
        break;
      case 'bytes_value':
        scalar = value.bytes_value === undefined ? undefined : new Uint8Array(value.bytes_value);
        break;
      case 'double_value':
        scalar = value.double_value;
        break;
      case 'bool_value':
        scalar = value.bool_value;
        break;
    }
    if (scalar === undefined) throw new InvalidQueryError(`routing_context column "${name}" has no value set`);
    out[name] = scalar;
  }
  return out;
}

/**
 * Encodes a routing context for a request: integers (number or bigint) as int_value, other
 * numbers as double_value, strings, booleans, and bytes (Uint8Array).
 */
export function encodeRoutingContext(context: RoutingContext): Record<string, RoutingValue> {
  const out: Record<string, RoutingValue> = {};
  for (const [name, v] of Object.entries(context)) {
    if (typeof v === 'bigint') out[name] = { int_value: v.toString() };
    else if (typeof v === 'number') out[name] = Number.isInteger(v) ? { int_value: v } : { double_value: v };
    else if (typeof v === 'string') out[name] = { string_value: v };
    else if (typeof v === 'boolean') out[name] = { bool_value: v };
    else out[name] = { bytes_value: Buffer.from(v) };
  }
  return out;
}
