/**
 * Per-collection request limits of a router (issue 24): a rate limit and a largest top_k for one
 * collection, on top of the router-wide `--rate-limit-qps` and `--max-top-k`.
 *
 * CLI: `--collection-limit <collection>:<key>=<value>[,<key>=<value>...]`, repeatable (or several
 * separated by `;`, e.g. in `SHARDFLEET_COLLECTION_LIMIT`), keys
 * `qps` (queries per second, > 0; a BatchSearch costs one per query, a Get or MultiGet one),
 * `burst` (token-bucket size, >= 1; default ceil(qps)) and `max_top_k` (>= 1, at most the
 * router's --max-top-k). Example: `--collection-limit items:qps=200,burst=400,max_top_k=100`.
 * A limit of a collection the router does not serve (yet) applies once it is served; an alias is
 * limited as the collection it names.
 */
import { ConfigValidationError } from '../common/errors.ts';
import { assertCollectionName } from '../common/catalog/collection-name.ts';
import { quoteInput } from '../common/bounded-text.ts';

/** Limits of one collection; an unset field means the router-wide value. */
export interface CollectionLimits {
  /** Rate limit, queries per second (> 0). */
  rateLimitQps?: number;
  /** Token-bucket size, queries (>= 1; default max(1, ceil(rateLimitQps))). */
  rateLimitBurst?: number;
  /** Largest top_k of a query (>= 1). */
  maxTopK?: number;
}

const KEYS: Record<string, keyof CollectionLimits> = { qps: 'rateLimitQps', burst: 'rateLimitBurst', max_top_k: 'maxTopK' };

/** The `--collection-limit` spelling of `limits` for `collection` (messages point users at the flag they set). */
export function describeCollectionLimit(collection: string, key: 'qps' | 'burst' | 'max_top_k', value: number): string {
  return `--collection-limit ${collection}:${key}=${value}`;
}

/**
 * Parses one `--collection-limit` value.
 * @param spec `<collection>:<key>=<value>[,<key>=<value>...]`, keys `qps`, `burst`, `max_top_k`.
 * @returns the collection's name and its limits.
 * @throws ConfigValidationError naming `--collection-limit` and the bad part: a missing `:`, an
 *   invalid collection name, an unknown or repeated key, a value that is not a number in range,
 *   or `burst` without `qps`.
 */
export function parseCollectionLimit(spec: string): [string, CollectionLimits] {
  const flag = '--collection-limit';
  const at = spec.indexOf(':');
  if (at < 0) throw new ConfigValidationError(`${flag} ${quoteInput(spec)} must be <collection>:<key>=<value>[,...] with keys qps, burst, max_top_k`);
  const name = spec.slice(0, at);
  assertCollectionName(name, `${flag} collection`);
  const limits: CollectionLimits = {};
  const parts = spec.slice(at + 1).split(',');
  for (const part of parts) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const field = KEYS[key];
    if (field === undefined || eq < 0) throw new ConfigValidationError(`${flag} ${quoteInput(spec)}: ${quoteInput(part)} is not <key>=<value> with a key of qps, burst, max_top_k`);
    if (limits[field] !== undefined) throw new ConfigValidationError(`${flag} ${quoteInput(spec)}: ${key} is given twice`);
    const raw = part.slice(eq + 1);
    const value = Number(raw);
    const integer = key !== 'qps';
    if (raw.trim() === '' || !Number.isFinite(value) || (integer && !Number.isSafeInteger(value)) || (key === 'qps' ? value <= 0 : value < 1)) {
      throw new ConfigValidationError(`${flag} ${quoteInput(spec)}: ${key} must be ${key === 'qps' ? 'a number > 0' : 'an integer >= 1'}, got ${quoteInput(raw)}`);
    }
    limits[field] = value;
  }
  if (limits.rateLimitBurst !== undefined && limits.rateLimitQps === undefined) throw new ConfigValidationError(`${flag} ${quoteInput(spec)}: burst needs qps`);
  return [name, limits];
}

/**
 * Collects repeated `--collection-limit` values into one table (commander's option collector); one
 * value may also hold several collections' limits separated by `;` (how `SHARDFLEET_COLLECTION_LIMIT`
 * gives more than one).
 * @throws ConfigValidationError for a bad value (see {@link parseCollectionLimit}) or a collection given twice.
 */
export function collectCollectionLimit(spec: string, table: Record<string, CollectionLimits> = {}): Record<string, CollectionLimits> {
  const out = { ...table };
  for (const one of spec.split(';').map((x) => x.trim()).filter((x) => x !== '')) {
    const [name, limits] = parseCollectionLimit(one);
    if (out[name] !== undefined) throw new ConfigValidationError(`--collection-limit gives collection ${JSON.stringify(name)} twice: put its keys in one value (${name}:qps=...,max_top_k=...)`);
    out[name] = limits;
  }
  return out;
}

/**
 * Checks a router's per-collection limits against its router-wide `--max-top-k`.
 * @throws ConfigValidationError for an invalid collection name, a value out of range, or a
 *   max_top_k above `routerMaxTopK`.
 */
export function checkCollectionLimits(table: Readonly<Record<string, CollectionLimits>>, routerMaxTopK: number): void {
  for (const [name, l] of Object.entries(table)) {
    assertCollectionName(name, '--collection-limit collection');
    if (l.rateLimitQps !== undefined && !(Number.isFinite(l.rateLimitQps) && l.rateLimitQps > 0)) throw new ConfigValidationError(`--collection-limit ${name}: qps must be a number > 0, got ${l.rateLimitQps}`);
    if (l.rateLimitBurst !== undefined && !(Number.isSafeInteger(l.rateLimitBurst) && l.rateLimitBurst >= 1)) throw new ConfigValidationError(`--collection-limit ${name}: burst must be an integer >= 1, got ${l.rateLimitBurst}`);
    if (l.maxTopK !== undefined && !(Number.isSafeInteger(l.maxTopK) && l.maxTopK >= 1 && l.maxTopK <= routerMaxTopK)) {
      throw new ConfigValidationError(`--collection-limit ${name}: max_top_k must be an integer in 1..${routerMaxTopK} (--max-top-k), got ${l.maxTopK}`);
    }
  }
}
