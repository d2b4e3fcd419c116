/**
 * Request limits shared by routers and shard nodes (issue 20, defects 4 and 7): one definition of
 * what a single request may carry, used by the router's validation AND the node's, so a router
 * never sends what a node refuses, and a caller reaching a node port directly meets the same
 * bounds as one going through a router. Each limit has a CLI flag (also `SHARDFLEET_<FLAG>`) on
 * `serve router` and `serve node`; set the same value on both.
 *
 * Every refusal is an {@link InvalidQueryError} (INVALID_ARGUMENT) whose message names the limit,
 * the value found and the flag that raises it, and never echoes the offending input.
 */
import { ConfigValidationError, InvalidQueryError } from './errors.ts';

/** What one request may carry. Counts are items; lengths are stated per field. */
export interface RequestLimits {
  /** Longest filter text (CEL), UTF-16 characters; the compiled form may be up to 64 x this. */
  maxFilterLength: number;
  /** Deepest filter nesting: parentheses, `!` / `-`, and the compiled tree's and / or / not levels. */
  maxFilterDepth: number;
  /** Most terms of a compiled filter (comparisons, `in`s, constants, and / or / not). */
  maxFilterTerms: number;
  /** Most values over all `in` lists of one filter. */
  maxFilterInValues: number;
  /** Most keys one MultiGet may carry (router); most keys per lookup query and per combined node call (node). */
  maxGetKeys: number;
  /** Longest key, bytes (its canonical bytes: UTF-8 of a string key, the bytes of a bytes key). */
  maxKeyBytes: number;
  /** Most run leases one Status / Refresh call may carry (node; a router sends at most 3). */
  maxRunLeases: number;
}

/** Defaults: generous for every legal, reasonable request. */
export const DEFAULT_REQUEST_LIMITS: Readonly<RequestLimits> = Object.freeze({
  maxFilterLength: 4096,
  maxFilterDepth: 64,
  maxFilterTerms: 1024,
  maxFilterInValues: 1024,
  maxGetKeys: 1000,
  maxKeyBytes: 64 * 1024,
  maxRunLeases: 16,
});

/** The CLI flag of each limit (named in every refusal). */
export const REQUEST_LIMIT_FLAGS: Readonly<Record<keyof RequestLimits, string>> = Object.freeze({
  maxFilterLength: '--max-filter-length',
  maxFilterDepth: '--max-filter-depth',
  maxFilterTerms: '--max-filter-terms',
  maxFilterInValues: '--max-filter-in-values',
  maxGetKeys: '--max-get-keys',
  maxKeyBytes: '--max-key-bytes',
  maxRunLeases: '--max-run-leases',
});

/** How much longer than the filter text its compiled JSON (what a node receives) may be. */
export const COMPILED_FILTER_EXPANSION = 64;

/**
 * `limits` with every unset field at its default.
 * @throws ConfigValidationError naming the flag for a value that is not an integer >= 1.
 */
export function resolveRequestLimits(limits: Partial<RequestLimits> = {}): RequestLimits {
  const out: RequestLimits = { ...DEFAULT_REQUEST_LIMITS };
  for (const key of Object.keys(DEFAULT_REQUEST_LIMITS) as Array<keyof RequestLimits>) {
    const v = limits[key];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v < 1) throw new ConfigValidationError(`${REQUEST_LIMIT_FLAGS[key]} must be an integer >= 1, got ${v}`);
    out[key] = v;
  }
  return out;
}

/**
 * The refusal of a request over limit `key`: INVALID_ARGUMENT naming what, the value, the limit
 * and its flag, e.g. `filter nests 2001 levels deep; at most 64 (--max-filter-depth)`.
 * @param what the subject and verb, e.g. `filter nests`, `key 3 is`.
 * @param value the measured value with its unit, e.g. `2001 levels deep`.
 */
export function limitError(key: keyof RequestLimits, limits: RequestLimits, what: string, value: string): InvalidQueryError {
  return new InvalidQueryError(`${what} ${value}; at most ${limits[key]} (${REQUEST_LIMIT_FLAGS[key]})`);
}

/**
 * Checks one key's length.
 * @param where names the key in the message (`key`, `keys[3]`, `query 0 key 5`).
 * @throws InvalidQueryError naming `where`, its length, the limit and `--max-key-bytes`.
 */
export function checkKeyBytes(byteLength: number, limits: RequestLimits, where: string): void {
  if (byteLength > limits.maxKeyBytes) throw limitError('maxKeyBytes', limits, `${where} is`, `${byteLength} bytes long`);
}

/**
 * Checks the number of run leases a Status / Refresh call carries (distinct run ids).
 * @throws InvalidQueryError naming the count, the limit and `--max-run-leases`.
 */
export function checkRunLeaseCount(distinct: number, limits: RequestLimits): void {
  if (distinct > limits.maxRunLeases) throw limitError('maxRunLeases', limits, 'the call carries', `${distinct} distinct run leases`);
}
