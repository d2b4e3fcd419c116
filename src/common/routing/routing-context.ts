/**
 * The values a CEL routing expression sees: a record's (writer) or a query's (router)
 * `routing_context`, a map from declared column name to a scalar of the declared type.
 */
import { z } from 'zod';
import { CEL_COLUMN_TYPES } from '../choice-lists.ts';

/** CEL column types a manifest may declare (`cel_columns`: name -> type). */
export const CelColumnTypeSchema = z.enum(CEL_COLUMN_TYPES);
/** A CEL column type. */
export type CelColumnType = z.infer<typeof CelColumnTypeSchema>;

/**
 * One routing value as it arrives, before it is coerced to its column's declared CEL type:
 * JSON-ish scalars, `bigint` for 64-bit integers, `Uint8Array` for bytes.
 */
export type RoutingScalar = string | number | bigint | boolean | Uint8Array;

/** A record's or query's routing context: column name -> value. */
export type RoutingContext = Record<string, RoutingScalar>;
