/**
 * shardyfusion's CEL routing (shardyfusion/cel.py, vector/sharding.py:296-311, routing.py:311-400,
 * reader/unified_reader.py:269-278 at b5ad9a1), as a shardfleet {@link ShardRouting}, evaluated with
 * @marcbachmann/cel-js (shardyfusion uses Google's cel-cpp through cel-expr-python; both implement
 * the CEL spec, so an expression over declared columns gives the same value).
 *
 * Same as shardfleet's CelRouting (src/common/routing/cel-routing.ts): declared columns
 * (`cel_columns`: int, uint, string, bytes, double, bool), `shard_hash(x)` = xxh3_64 (seed 0) of the
 * canonical bytes, direct mode (the result is the shard id) and categorical mode (shard i holds
 * `routing_values[i]`), one shard per query. It differs where shardyfusion's rule differs:
 * - the result must be an int, uint, string or bytes (cel.py:173-189); bool and double are refused;
 * - categorical tokens are ints, strings or bytes (sharding_types.py:11-40; bytes are stored as
 *   `{"__bytes_hex__": hex}` in vector manifests, vector/_distributed.py:469-473) and match by exact
 *   Python equality (cel.py:327-345): an int never equals a string, bytes only equal bytes;
 * - direct mode takes `int(result)` (cel.py:347): an integer as is, and a string or bytes holding a
 *   decimal integer (`"2"` -> 2) too;
 * - `shard_hash` of a uint above 2^63-1 is an error (routing.py:46-66 range-checks every int);
 * - columns of the context that the expression does not declare are ignored (cel-cpp binds only
 *   declared variables), for queries as for records;
 * - num_probes is not read (vector/sharding.py:296-311 returns one shard whatever it is);
 * - a KV (unified) snapshot searched without a routing context searches every shard
 *   (unified_reader.py:275-278); a vector-only one refuses with shardyfusion's message
 *   (vector/sharding.py:297-300).
 * A direct-mode result outside 0..num_dbs-1 is an error here; shardyfusion's vector reader would
 * silently search no shard for it (reader.py:213 drops ids without data) and its writer refuses it
 * (_distributed.py:236-246), so no record can live there.
 */
import { Environment, EvaluationError, ParseError, type ParseResult } from '@marcbachmann/cel-js';

import { ConfigValidationError, InputRecordError, InvalidQueryError } from '../../common/errors.ts';
import { shardHash } from '../../common/routing/cel-routing.ts';
import { CEL_COERCIONS, CelCoercionError, type CelValue, UnsignedInt, describeValue, formatCelValue } from '../../common/routing/cel-values.ts';
import { checkShardIds } from '../../common/routing/route-checks.ts';
import type { CelColumnType, RoutingContext } from '../../common/routing/routing-context.ts';
import type { QueryToRoute, RecordToRoute, ShardRouting } from '../../common/routing/shard-routing.ts';

/** A categorical token of shardyfusion (`RoutingValue = int | str | bytes`). */
export type ShardyfusionRoutingValue = bigint | string | Uint8Array;

/** shardyfusion's message for a vector query without routing context (vector/sharding.py:297-300). */
export const CEL_NEEDS_ROUTING_CONTEXT = 'CEL sharding requires routing_context to be provided at query time';

/** What {@link ShardyfusionCelRouting.compile} needs. */
export interface ShardyfusionCelSpec {
  /** `cel_expr`. */
  celExpr: string;
  /** `cel_columns`: name -> type (int, uint, string, bytes, double, bool). */
  celColumns: Record<string, string>;
  /** Decoded `routing_values` ({@link decodeShardyfusionRoutingValues}); null = direct mode. */
  routingValues: readonly ShardyfusionRoutingValue[] | null;
  /** num_dbs. */
  numDbs: number;
  /** True for a unified KV+vector snapshot (a search without routing context searches every shard). */
  unified: boolean;
}

const INT64_MAX = 2n ** 63n - 1n;
const COLUMN_TYPES: ReadonlySet<string> = new Set(['int', 'uint', 'string', 'bytes', 'double', 'bool']);
/** Result types the checker may infer that shardyfusion can route (cel.py:185-189); `dyn` is checked per evaluation. */
const RESULT_TYPES: ReadonlySet<string> = new Set(['int', 'uint', 'string', 'bytes', 'dyn']);
/** Python's `int(str)` for base 10: optional whitespace and sign, digits with single underscores. */
const PY_INT_TEXT = /^\s*[+-]?\d+(?:_\d+)*\s*$/;

/**
 * `shard_hash(int|uint)`: xxh3_64 of the 8-byte little-endian signed value (routing.py:46-76).
 * @throws RangeError for a value above 2^63-1 (Python raises ValueError there).
 */
function shardHashInt(value: bigint): bigint {
  if (value > INT64_MAX) throw new RangeError(`shard_hash: integer ${value} out of range [-9223372036854775808, 9223372036854775807]`);
  return shardHash(value);
}

let environment: Environment | undefined;
/** cel-js standard library plus shardyfusion's four `shard_hash` overloads (cel.py:93-128). */
function baseEnvironment(): Environment {
  environment ??= new Environment()
    .registerFunction('shard_hash(int): uint', (i: bigint) => new UnsignedInt(shardHashInt(i)))
    .registerFunction('shard_hash(uint): uint', (u: UnsignedInt) => new UnsignedInt(shardHashInt(u.value)))
    .registerFunction('shard_hash(string): uint', (s: string) => new UnsignedInt(shardHash(s)))
    .registerFunction('shard_hash(bytes): uint', (b: Uint8Array) => new UnsignedInt(shardHash(b)));
  return environment;
}

/** Lookup key of a token or result under Python equality of int / str / bytes, or undefined. */
function pyKey(value: unknown): string | undefined {
  if (typeof value === 'bigint') return `i${value}`;
  if (value instanceof UnsignedInt) return `i${value.value}`;
  if (typeof value === 'string') return `s${value}`;
  if (value instanceof Uint8Array) return `b${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
  return undefined;
}

/**
 * Decodes `routing_values` as a shardyfusion manifest stores them (JSON): integers, strings, and
 * `{"__bytes_hex__": "<hex>"}` for bytes (vector/reader.py:505-515).
 * @param raw the parsed JSON array, or null/undefined for direct mode.
 * @returns the tokens (integers as bigint), or null.
 * @throws ConfigValidationError naming the index of a token that is none of these, an integer
 *   beyond 2^53-1 given as a JSON number (already rounded), or bad hex.
 */
export function decodeShardyfusionRoutingValues(raw: unknown): ShardyfusionRoutingValue[] | null {
  if (raw === null || raw === undefined) return null;
  if (!Array.isArray(raw)) throw new ConfigValidationError(`shardyfusion CEL: routing_values is ${describeValue(raw)}, not a list`);
  return raw.map((v: unknown, i): ShardyfusionRoutingValue => {
    if (typeof v === 'string') return v;
    if (typeof v === 'bigint') return v;
    if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as Record<string, unknown>).__bytes_hex__ === 'string') {
      const hex = (v as Record<string, string>).__bytes_hex__;
      if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new ConfigValidationError(`shardyfusion CEL: routing_values[${i}] has bad __bytes_hex__ ${JSON.stringify(hex.slice(0, 40))}`);
      return new Uint8Array(Buffer.from(hex, 'hex'));
    }
    throw new ConfigValidationError(`shardyfusion CEL: routing_values[${i}] = ${JSON.stringify(v)} is not an int (within 2^53), a string or {"__bytes_hex__": ...}`);
  });
}

/** Why a context could not be routed; wrapped in the caller's error type. */
class CelProblem extends Error {}

/** A compiled shardyfusion CEL routing function. Build it with {@link ShardyfusionCelRouting.compile}. */
export class ShardyfusionCelRouting implements ShardRouting {
  readonly strategy = 'cel' as const;
  readonly numDbs: number;
  readonly celExpr: string;
  readonly mode: 'direct' | 'categorical';
  /** True for a unified KV+vector snapshot. */
  readonly unified: boolean;
  readonly #program: ParseResult;
  readonly #columns: ReadonlyArray<readonly [string, CelColumnType]>;
  readonly #tokens: ReadonlyMap<string, number> | null;
  readonly #quoted: string;

  private constructor(spec: ShardyfusionCelSpec, program: ParseResult, columns: Array<[string, CelColumnType]>, tokens: Map<string, number> | null) {
    this.numDbs = spec.numDbs;
    this.celExpr = spec.celExpr;
    this.mode = tokens === null ? 'direct' : 'categorical';
    this.unified = spec.unified;
    this.#program = program;
    this.#columns = columns;
    this.#tokens = tokens;
    this.#quoted = JSON.stringify(spec.celExpr.length > 200 ? `${spec.celExpr.slice(0, 197)}...` : spec.celExpr);
  }

  /**
   * Parses and type-checks the expression once (cel.py:196-240 compiles with the declared types).
   * @throws ConfigValidationError naming the expression: an unsupported column type, a syntax or
   *   type error, a result type shardyfusion cannot route (bool, double, list, map), routing_values
   *   whose count is not num_dbs, or repeated or mixed-type tokens (sharding_types.py:19-61).
   */
  static compile(spec: ShardyfusionCelSpec): ShardyfusionCelRouting {
    const { celExpr, celColumns, routingValues, numDbs } = spec;
    if (!Number.isSafeInteger(numDbs) || numDbs < 1) throw new ConfigValidationError(`shardyfusion CEL: num_dbs must be a positive integer, got ${numDbs}`);
    if (typeof celExpr !== 'string' || celExpr.trim() === '') throw new ConfigValidationError('shardyfusion CEL: cel_expr is empty');
    const columns: Array<[string, CelColumnType]> = [];
    let env = baseEnvironment().clone();
    for (const [name, type] of Object.entries(celColumns)) {
      if (!COLUMN_TYPES.has(type)) {
        throw new ConfigValidationError(`Unsupported CEL column type: ${JSON.stringify(type)} for column ${JSON.stringify(name)}. Allowed: bool, bytes, double, int, string, uint`);
      }
      try {
        env = env.registerVariable(name, type);
      } catch (err) {
        throw new ConfigValidationError(`shardyfusion CEL: column ${JSON.stringify(name)} cannot be declared: ${err instanceof Error ? err.message : String(err)}`);
      }
      columns.push([name, type as CelColumnType]);
    }
    let program: ParseResult;
    try {
      program = env.parse(celExpr);
    } catch (err) {
      if (err instanceof ParseError) throw new ConfigValidationError(`Failed to compile CEL expression ${JSON.stringify(celExpr)}: ${err.summary}`, { cause: err });
      throw err;
    }
    const checked = program.check();
    if (!checked.valid || checked.type === undefined) {
      throw new ConfigValidationError(`Failed to compile CEL expression ${JSON.stringify(celExpr)}: ${checked.error?.summary ?? 'type error'}`, { cause: checked.error });
    }
    if (!RESULT_TYPES.has(checked.type)) {
      throw new ConfigValidationError(`CEL expression ${JSON.stringify(celExpr)} returns ${checked.type}; shardyfusion routes only an int, uint, string or bytes result`);
    }
    let tokens: Map<string, number> | null = null;
    if (routingValues !== null) {
      if (routingValues.length !== numDbs) {
        throw new ConfigValidationError(`shardyfusion CEL: routing_values has ${routingValues.length} entries but num_dbs is ${numDbs} (shard i holds routing_values[i])`);
      }
      tokens = new Map();
      routingValues.forEach((token, i) => {
        const key = pyKey(token) as string;
        if (i > 0 && key[0] !== (pyKey(routingValues[0]) as string)[0]) {
          throw new ConfigValidationError(`shardyfusion CEL: routing values must all share the same type; routing_values[${i}] differs from routing_values[0]`);
        }
        if (tokens?.has(key)) throw new ConfigValidationError(`shardyfusion CEL: routing values must be unique; routing_values[${i}] repeats routing_values[${tokens.get(key)}]`);
        tokens?.set(key, i);
      });
    }
    return new ShardyfusionCelRouting(spec, program, columns, tokens);
  }

  /**
   * The shard of a routing context, or undefined when the result is a categorical token not in
   * routing_values (shardyfusion's KV reader answers such a Get as a miss, routing.py:282-300).
   * @param where names the record, query or key in messages.
   * @throws InvalidQueryError naming `where` when a declared column is missing or does not fit its
   *   type, evaluation fails, the result is not an int, uint, string or bytes, or a direct-mode
   *   result is not a shard id in 0..numDbs-1.
   */
  lookupShard(context: RoutingContext, where: string): number | undefined {
    try {
      return this.#shardOf(context);
    } catch (err) {
      if (err instanceof CelProblem) throw new InvalidQueryError(`${where}: ${err.message}`);
      throw err;
    }
  }

  /**
   * KV key-only mode (`cel_columns` is exactly `{key: ...}`; routing.py:340-350): the shard of a
   * key, evaluating the expression with `key` bound to it; undefined for an unknown categorical token.
   * @throws InvalidQueryError when the columns are not key-only ("Multi-column CEL sharding requires
   *   routing_context"), or as {@link lookupShard}.
   */
  shardOfKey(key: bigint | string | Uint8Array): number | undefined {
    const shown = typeof key === 'string' ? JSON.stringify(key.slice(0, 100)) : key instanceof Uint8Array ? `bytes of length ${key.length}` : `${key}`;
    if (this.#columns.length !== 1 || this.#columns[0][0] !== 'key') {
      throw new InvalidQueryError(`key ${shown}: multi-column CEL sharding requires routing_context (cel_columns: ${this.#declared()})`);
    }
    return this.lookupShard({ key }, `key ${shown}`);
  }

  /**
   * The shard of a record from its routing context (`assign_vector_shard`, _distributed.py:228-246).
   * @throws InputRecordError naming `record.location` when it cannot be routed, including an
   *   unknown categorical token.
   */
  assign(record: RecordToRoute): number {
    if (record.routingContext === undefined) throw new InputRecordError(record.location, 'CEL sharding requires routing_context');
    try {
      const shard = this.#shardOf(record.routingContext);
      if (shard === undefined) throw new CelProblem(`CEL expression ${this.#quoted} returned a token not present in routing_values`);
      return shard;
    } catch (err) {
      if (err instanceof CelProblem) throw new InputRecordError(record.location, err.message);
      throw err;
    }
  }

  /**
   * Caller-named `shardIds` as given; else the one shard the query's routing context selects;
   * else, on a unified snapshot, every shard (0..numDbs-1). num_probes is not read.
   * @throws InvalidQueryError: a vector-only snapshot without routing context or shard ids
   *   (shardyfusion's message), an unknown categorical token ("is not present in this snapshot",
   *   cel.py:337-345), or as {@link lookupShard}; an unknown or repeated shard id.
   */
  route(query: QueryToRoute): number[] {
    if (query.shardIds.length > 0) return checkShardIds(query.shardIds, this.numDbs);
    const context = query.routingContext;
    if (context === undefined || Object.keys(context).length === 0) {
      if (this.unified) return Array.from({ length: this.numDbs }, (_, i) => i);
      throw new InvalidQueryError(`${CEL_NEEDS_ROUTING_CONTEXT} (CEL expression ${this.#quoted}, columns: ${this.#declared()})`);
    }
    const shard = this.lookupShard(context, 'routing_context');
    if (shard === undefined) throw new InvalidQueryError(`routing_context: categorical CEL routing token from ${this.#quoted} is not present in this snapshot`);
    return [shard];
  }

  #declared(): string {
    return this.#columns.map(([n, t]) => `${n} (${t})`).join(', ');
  }

  /** Coerces, evaluates, resolves (cel.py:316-347). @throws CelProblem. */
  #shardOf(context: RoutingContext): number | undefined {
    const values: Record<string, CelValue> = {};
    for (const [name, type] of this.#columns) {
      const raw: unknown = Object.hasOwn(context, name) ? context[name] : undefined;
      if (raw === undefined) throw new CelProblem(`routing_context is missing column "${name}" (${type}) of CEL expression ${this.#quoted}`);
      try {
        values[name] = CEL_COERCIONS[type](raw);
      } catch (err) {
        if (err instanceof CelCoercionError) throw new CelProblem(`routing_context column "${name}" (${type}): ${err.message}`);
        throw err;
      }
    }
    let result: unknown;
    try {
      result = this.#program(values);
    } catch (err) {
      if (err instanceof EvaluationError) throw new CelProblem(`CEL expression ${this.#quoted} failed: ${err.summary}`);
      if (err instanceof RangeError) throw new CelProblem(`CEL expression ${this.#quoted} failed: ${err.message}`);
      throw err;
    }
    const key = pyKey(result);
    if (key === undefined) throw new CelProblem(`CEL expression must return int, str, or bytes; got ${describeValue(result)} from ${this.#quoted}`);
    if (this.#tokens !== null) return this.#tokens.get(key);
    let id: bigint;
    if (typeof result === 'bigint') id = result;
    else if (result instanceof UnsignedInt) id = result.value;
    else {
      const text = typeof result === 'string' ? result : new TextDecoder('utf-8', { fatal: false }).decode(result as Uint8Array);
      if (!PY_INT_TEXT.test(text)) throw new CelProblem(`CEL expression ${this.#quoted} returned ${formatCelValue(result)}, which int() cannot read as a shard id`);
      id = BigInt(text.trim().replaceAll('_', ''));
    }
    if (id < 0n || id >= BigInt(this.numDbs)) {
      throw new CelProblem(`CEL expression ${this.#quoted} returned shard id ${id}, outside 0..${this.numDbs - 1} (num_dbs ${this.numDbs})`);
    }
    return Number(id);
  }
}
