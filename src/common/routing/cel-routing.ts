/**
 * CEL routing: a CEL expression (`cel_expr`) over declared routing columns (`cel_columns`) picks
 * exactly one shard. The writer calls {@link CelRouting.assign} on each record's
 * `routing_context`, the router calls {@link CelRouting.route} on each query's, both through the
 * same compiled expression, so a query lands on the shard its records were written to.
 *
 * Modes:
 * - direct (`routing_values` null): the expression returns the shard id, an int or uint in
 *   0..num_dbs-1, e.g. `int(label) % 4` or `shard_hash(user_id) % 8u`.
 * - categorical: the expression returns a token and shard i holds token `routing_values[i]`.
 *   Tokens are strings, numbers or booleans (manifest JSON). A number result (int, uint or double)
 *   matches a number token of the same value (int 3 == 3u == 3.0 == token 3); a string never
 *   matches a number (`"3"` is not 3).
 *
 * Functions: the cel-js standard library (integer `/` truncates: `7 / 2` is 3) plus
 * `shard_hash(x): uint`, xxh3-64 (seed 0) of: a string's UTF-8 bytes, raw bytes, or an int/uint
 * as 8 bytes little-endian two's complement (so `shard_hash(-1) == shard_hash(18446744073709551615u)`
 * and `shard_hash(5) == shard_hash(5u)`).
 *
 * Type checking happens once in {@link CelRouting.compile} (when a build starts and when a router
 * loads a manifest) with cel-js's checker and the declared column types. The result type must be
 * int or uint (direct) or int, uint, string, bool or double (categorical); in categorical mode
 * every token must be of a kind the result type can equal (an unreachable shard is a mistake).
 * A `dyn` result (the checker cannot know, e.g. `dyn(x)` or a value from `bytes.json()`) is
 * accepted, and the run-time result is then checked against the same rules per record/query.
 *
 * Routing contexts: every declared column must be present and coercible to its type (rules in
 * cel-values.ts: e.g. 3.5 or "x" for int, -1 for uint, a number for string are errors; bytes take
 * a Uint8Array or a canonical base64 string). Keys that are not declared columns are ignored,
 * so callers may pass a record's whole metadata.
 */
import { Environment, EvaluationError, type ParseResult, ParseError } from '@marcbachmann/cel-js';
import { xxh3 } from '@node-rs/xxhash';

import { listInputs } from '../bounded-text.ts';
import { ConfigValidationError, InputRecordError, InvalidQueryError } from '../errors.ts';
import { CEL_COERCIONS, CelCoercionError, type CelCoercion, type CelValue, type RoutingToken, UnsignedInt, describeValue, formatCelValue, tokenKey } from './cel-values.ts';
import { checkShardIds, rejectMultiProbe } from './route-checks.ts';
import type { CelColumnType, RoutingContext } from './routing-context.ts';
import type { QueryToRoute, RecordToRoute, ShardRouting } from './shard-routing.ts';

/** What {@link CelRouting.compile} needs: the manifest's CEL sharding fields. */
export interface CelRoutingSpec {
  /** The CEL expression (`cel_expr`). */
  celExpr: string;
  /** Declared routing columns, name -> CEL type (`cel_columns`). */
  celColumns: Record<string, CelColumnType>;
  /** Categorical tokens, shard i holds routingValues[i]; null = direct mode. */
  routingValues: RoutingToken[] | null;
  /** Number of shards (`num_dbs`). */
  numDbs: number;
}

/** Result types the checker may infer for each mode (`dyn` = checked per evaluation). */
const DIRECT_RESULT_TYPES: ReadonlySet<string> = new Set(['int', 'uint', 'dyn']);
const CATEGORICAL_RESULT_TYPES: ReadonlySet<string> = new Set(['int', 'uint', 'string', 'bool', 'double', 'dyn']);

/** CEL reserved words (cel-spec langdef): a column with such a name could not be referenced. */
const CEL_RESERVED = new Set([
  'true', 'false', 'null', 'in', 'as', 'break', 'const', 'continue', 'else', 'for', 'function', 'if',
  'import', 'let', 'loop', 'package', 'namespace', 'return', 'var', 'void', 'while',
]);
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;
const INT_BYTES = new Uint8Array(8);
const INT_VIEW = new DataView(INT_BYTES.buffer);

/**
 * xxh3-64 (seed 0) of a routing key, unsigned: a string hashes its UTF-8 bytes, a Uint8Array its
 * raw bytes, a bigint (int or uint) its 8-byte little-endian two's-complement encoding.
 * This is the CEL function `shard_hash(x)`.
 * @param value string, bytes, or an integer in -2^63..2^64-1.
 * @returns the hash in 0..2^64-1.
 * @throws RangeError when a bigint is outside -2^63..2^64-1.
 */
export function shardHash(value: string | Uint8Array | bigint): bigint {
  if (typeof value === 'bigint') {
    if (value < INT64_MIN || value > UINT64_MAX) throw new RangeError(`shard_hash: ${value} is outside the 64-bit integer range`);
    INT_VIEW.setBigUint64(0, BigInt.asUintN(64, value), true);
    return xxh3.xxh64(INT_BYTES);
  }
  return xxh3.xxh64(value);
}

/** The base environment: the CEL standard library plus `shard_hash` (cloned per expression). */
let baseEnvironment: Environment | undefined;
function celBaseEnvironment(): Environment {
  baseEnvironment ??= new Environment()
    .registerFunction('shard_hash(string): uint', (s: string) => new UnsignedInt(shardHash(s)), { description: 'xxh3-64 of the UTF-8 bytes' })
    .registerFunction('shard_hash(bytes): uint', (b: Uint8Array) => new UnsignedInt(shardHash(b)), { description: 'xxh3-64 of the bytes' })
    .registerFunction('shard_hash(int): uint', (i: bigint) => new UnsignedInt(shardHash(i)), { description: 'xxh3-64 of the 8-byte little-endian value' })
    .registerFunction('shard_hash(uint): uint', (u: UnsignedInt) => new UnsignedInt(shardHash(u.value)), { description: 'xxh3-64 of the 8-byte little-endian value' });
  return baseEnvironment;
}

/** Why a routing context could not be routed; wrapped in the caller's error type. */
class RoutingProblem extends Error {}

/** One declared column, with its coercion. */
interface Column {
  readonly name: string;
  readonly type: CelColumnType;
  readonly coerce: CelCoercion;
}

/** Quotes an expression for messages, shortened when long. */
function quoteExpr(expr: string): string {
  const oneLine = expr.replace(/\s+/g, ' ').trim();
  return JSON.stringify(oneLine.length > 200 ? `${oneLine.slice(0, 197)}...` : oneLine);
}

/** A compiled CEL routing function (see the module docstring). Build it with {@link CelRouting.compile}. */
export class CelRouting implements ShardRouting {
  readonly strategy = 'cel' as const;
  /** Number of shards. */
  readonly numDbs: number;
  /** The expression as written in the manifest. */
  readonly celExpr: string;
  /** `direct` (the expression returns the shard id) or `categorical` (via routing_values). */
  readonly mode: 'direct' | 'categorical';
  /** The result type cel-js's checker inferred (`int`, `uint`, `string`, `bool`, `double` or `dyn`). */
  readonly resultType: string;

  readonly #program: ParseResult;
  readonly #columns: readonly Column[];
  readonly #numDbsBig: bigint;
  /** Categorical: token key (cel-values.ts tokenKey) -> shard id; null in direct mode. */
  readonly #tokenToShard: ReadonlyMap<string, number> | null;
  readonly #routingValues: readonly RoutingToken[] | null;
  readonly #quoted: string;

  private constructor(spec: CelRoutingSpec, program: ParseResult, resultType: string, columns: readonly Column[], tokenToShard: Map<string, number> | null) {
    this.numDbs = spec.numDbs;
    this.celExpr = spec.celExpr;
    this.mode = spec.routingValues === null ? 'direct' : 'categorical';
    this.resultType = resultType;
    this.#program = program;
    this.#columns = columns;
    this.#numDbsBig = BigInt(spec.numDbs);
    this.#tokenToShard = tokenToShard;
    this.#routingValues = spec.routingValues === null ? null : [...spec.routingValues];
    this.#quoted = quoteExpr(spec.celExpr);
  }

  /**
   * Parses and type-checks a CEL sharding spec once.
   * @param spec the manifest's `cel_expr`, `cel_columns`, `routing_values`, `num_dbs`.
   * @returns a routing function for the writer and the router.
   * @throws ConfigValidationError naming the expression and the problem: a syntax error, a type
   *   error, an unknown CEL column (a name not in cel_columns), a result type the mode cannot use
   *   (e.g. string in direct mode), an invalid column name or type, or bad routing_values (count
   *   != num_dbs, duplicates, unsafe integers, tokens the result type can never equal).
   */
  static compile(spec: CelRoutingSpec): CelRouting {
    const { celExpr, celColumns, routingValues, numDbs } = spec;
    if (!Number.isSafeInteger(numDbs) || numDbs < 1) throw new ConfigValidationError(`CEL sharding: num_dbs must be a positive integer, got ${numDbs}`);
    if (typeof celExpr !== 'string' || celExpr.trim() === '') throw new ConfigValidationError('CEL sharding: cel_expr is empty');
    const quoted = quoteExpr(celExpr);

    const columns: Column[] = [];
    let env = celBaseEnvironment().clone();
    for (const [name, type] of Object.entries(celColumns)) {
      if (!IDENTIFIER.test(name)) throw new ConfigValidationError(`CEL sharding: column name ${JSON.stringify(name)} is not an identifier ([A-Za-z_][A-Za-z0-9_]*)`);
      if (CEL_RESERVED.has(name)) throw new ConfigValidationError(`CEL sharding: column name "${name}" is a CEL reserved word`);
      if (!Object.hasOwn(CEL_COERCIONS, type)) {
        throw new ConfigValidationError(`CEL sharding: column "${name}" has type ${JSON.stringify(type)}; expected one of ${Object.keys(CEL_COERCIONS).join(', ')}`);
      }
      try {
        env = env.registerVariable(name, type);
      } catch (err) {
        throw new ConfigValidationError(`CEL sharding: column "${name}" cannot be declared: ${err instanceof Error ? err.message : String(err)}`);
      }
      columns.push({ name, type, coerce: CEL_COERCIONS[type] });
    }
    const declared = columns.length === 0 ? '(none)' : columns.map((c) => `${c.name} (${c.type})`).join(', ');

    let program: ParseResult;
    try {
      program = env.parse(celExpr);
    } catch (err) {
      if (err instanceof ParseError) {
        throw new ConfigValidationError(`CEL expression ${quoted} does not parse: ${err.summary}${err.range ? ` at offset ${err.range.start}` : ''}`, { cause: err });
      }
      throw err;
    }
    const checked = program.check();
    if (!checked.valid || checked.type === undefined) {
      const error = checked.error;
      const at = error?.range ? ` at offset ${error.range.start}` : '';
      if (error?.code === 'unknown_variable') {
        const name = /Unknown variable: (\S+)/.exec(error.summary)?.[1] ?? '?';
        throw new ConfigValidationError(`CEL expression ${quoted} references unknown CEL column "${name}"${at}; declared cel_columns: ${declared}`, { cause: error });
      }
      throw new ConfigValidationError(`CEL expression ${quoted} does not type-check: ${error?.summary ?? 'unknown error'}${at} (cel_columns: ${declared})`, { cause: error });
    }
    const resultType = checked.type;

    if (routingValues === null) {
      if (!DIRECT_RESULT_TYPES.has(resultType)) {
        throw new ConfigValidationError(`CEL expression ${quoted} returns ${resultType}; direct mode (routing_values null) needs an int or uint shard id in 0..${numDbs - 1}`);
      }
      return new CelRouting(spec, program, resultType, columns, null);
    }
    if (!CATEGORICAL_RESULT_TYPES.has(resultType)) {
      throw new ConfigValidationError(`CEL expression ${quoted} returns ${resultType}; categorical mode needs an int, uint, string, bool or double token`);
    }
    return new CelRouting(spec, program, resultType, columns, CelRouting.#tokenMap(routingValues, numDbs, resultType, quoted));
  }

  /**
   * Validates routing_values and maps each token's key to its shard.
   * @throws ConfigValidationError for a bad count, a bad or repeated token, or a token the result
   *   type can never equal.
   */
  static #tokenMap(routingValues: readonly RoutingToken[], numDbs: number, resultType: string, quoted: string): Map<string, number> {
    if (routingValues.length !== numDbs) {
      throw new ConfigValidationError(`CEL sharding: routing_values has ${routingValues.length} entries but num_dbs is ${numDbs} (shard i holds routing_values[i])`);
    }
    const map = new Map<string, number>();
    routingValues.forEach((token, i) => {
      const where = `routing_values[${i}] = ${JSON.stringify(token)}`;
      if (typeof token === 'number' && Number.isInteger(token) && !Number.isSafeInteger(token)) {
        throw new ConfigValidationError(`CEL sharding: ${where} is an integer beyond 2^53-1, which JSON numbers cannot hold exactly; use smaller tokens or string tokens`);
      }
      const key = typeof token === 'string' || typeof token === 'number' || typeof token === 'boolean' ? tokenKey(token) : undefined;
      if (key === undefined) throw new ConfigValidationError(`CEL sharding: ${where} is not a string, finite number or boolean`);
      const reachable =
        resultType === 'dyn' ||
        (resultType === 'string' && typeof token === 'string') ||
        (resultType === 'bool' && typeof token === 'boolean') ||
        (resultType === 'double' && typeof token === 'number') ||
        (resultType === 'int' && typeof token === 'number' && Number.isInteger(token)) ||
        (resultType === 'uint' && typeof token === 'number' && Number.isInteger(token) && token >= 0);
      if (!reachable) throw new ConfigValidationError(`CEL sharding: ${where} can never be selected: CEL expression ${quoted} returns ${resultType}`);
      const previous = map.get(key);
      if (previous !== undefined) throw new ConfigValidationError(`CEL sharding: ${where} repeats routing_values[${previous}]`);
      map.set(key, i);
    });
    return map;
  }

  /**
   * The shard a routing context selects.
   * @param context column name -> value (undeclared keys are ignored).
   * @param where names the record or query in messages (e.g. `data.jsonl line 17`).
   * @returns a shard id in 0..numDbs-1.
   * @throws InputRecordError(where, ...) when a declared column is missing or cannot be coerced to
   *   its type, evaluation fails (e.g. division by zero), or the result is not a shard id (direct)
   *   or not one of routing_values (categorical).
   */
  evaluate(context: RoutingContext | undefined, where: string): number {
    try {
      return this.#shardOf(context);
    } catch (err) {
      if (err instanceof RoutingProblem) throw new InputRecordError(where, err.message);
      throw err;
    }
  }

  /**
   * The shard of a record, from its `routingContext`.
   * @throws InputRecordError naming `record.location` (see {@link CelRouting.evaluate}).
   */
  assign(record: RecordToRoute): number {
    return this.evaluate(record.routingContext, record.location);
  }

  /**
   * The one shard a query's `routingContext` selects; non-empty `shardIds` override routing (and
   * num_probes) and are returned as given after validation.
   * @throws InvalidQueryError for num_probes > 1 (or negative), a missing or bad routing context
   *   (see {@link CelRouting.evaluate}), a routing context column the expression does not use, or
   *   an unknown/repeated shard id.
   */
  route(query: QueryToRoute): number[] {
    if (query.shardIds.length > 0) return checkShardIds(query.shardIds, this.numDbs);
    if (!Number.isInteger(query.numProbes) || query.numProbes < 0) throw new InvalidQueryError(`num_probes must be a non-negative integer, got ${query.numProbes}`);
    rejectMultiProbe(query.numProbes, 'cel');
    if (query.routingContext === undefined) {
      throw new InvalidQueryError(`this snapshot uses CEL sharding (${this.#quoted}): pass routing_context with ${this.#declared()}, or shard_ids`);
    }
    // A query's context is all the caller means to route by: a column the expression does not
    // read is a mistake (a typo, another snapshot's schema), not something to ignore. Records may
    // carry more columns (see evaluate).
    const unused = Object.keys(query.routingContext).filter((name) => !this.#columns.some((c) => c.name === name));
    if (unused.length > 0) {
      throw new InvalidQueryError(
        `routing_context column${unused.length > 1 ? 's' : ''} ${listInputs(unused)} ${unused.length > 1 ? 'are' : 'is'} not used by CEL expression ${this.#quoted} (its columns: ${this.#declared()})`,
      );
    }
    try {
      return [this.#shardOf(query.routingContext)];
    } catch (err) {
      if (err instanceof RoutingProblem) throw new InvalidQueryError(`routing_context: ${err.message}`);
      throw err;
    }
  }

  #declared(): string {
    return this.#columns.length === 0 ? 'no columns' : this.#columns.map((c) => `${c.name} (${c.type})`).join(', ');
  }

  /** Coerces, evaluates, maps the result to a shard. @throws RoutingProblem. */
  #shardOf(context: RoutingContext | undefined): number {
    if (context === undefined) throw new RoutingProblem(`has no routing_context; CEL expression ${this.#quoted} needs ${this.#declared()}`);
    const values: Record<string, CelValue> = {};
    for (const column of this.#columns) {
      const raw: unknown = Object.hasOwn(context, column.name) ? context[column.name] : undefined;
      if (raw === undefined) throw new RoutingProblem(`routing_context is missing column "${column.name}" (${column.type}) used by CEL expression ${this.#quoted}`);
      try {
        values[column.name] = column.coerce(raw);
      } catch (err) {
        if (err instanceof CelCoercionError) throw new RoutingProblem(`routing_context column "${column.name}" (${column.type}): ${err.message}`);
        throw err;
      }
    }
    let result: unknown;
    try {
      result = this.#program(values);
    } catch (err) {
      if (err instanceof EvaluationError) throw new RoutingProblem(`CEL expression ${this.#quoted} failed: ${err.summary}`);
      throw err;
    }
    return this.#tokenToShard === null ? this.#directShard(result) : this.#categoricalShard(result, this.#tokenToShard);
  }

  #directShard(result: unknown): number {
    const id = typeof result === 'bigint' ? result : result instanceof UnsignedInt ? result.value : undefined;
    if (id === undefined) {
      throw new RoutingProblem(`CEL expression ${this.#quoted} returned ${describeValue(result)}, not an int or uint shard id`);
    }
    if (id < 0n || id >= this.#numDbsBig) {
      throw new RoutingProblem(`CEL expression ${this.#quoted} returned shard id ${formatCelValue(result)}, outside 0..${this.numDbs - 1} (num_dbs ${this.numDbs})`);
    }
    return Number(id);
  }

  #categoricalShard(result: unknown, tokens: ReadonlyMap<string, number>): number {
    const key = tokenKey(result);
    const shard = key === undefined ? undefined : tokens.get(key);
    if (shard === undefined) {
      const values = this.#routingValues ?? [];
      const shown = values.slice(0, 10).map((v) => JSON.stringify(v)).join(', ') + (values.length > 10 ? `, ... (${values.length} in all)` : '');
      throw new RoutingProblem(`CEL expression ${this.#quoted} returned ${formatCelValue(result)}, which is not one of routing_values [${shown}]`);
    }
    return shard;
  }
}
