/**
 * The router's point-lookup path (Get and MultiGet): validate the keys, find each key's shard,
 * group the keys per shard (one lookup query per shard; the fan-out then sends ONE node call per
 * node carrying all of that node's shards, with the replica choice, retry, hedging, coalescing
 * and run pinning of Search, see fan-out.ts), and assemble one result per key in request order.
 *
 * Where a key lives:
 * - HASH snapshots: `shardOfKey(canonical key bytes)` (xxh3_64 seed 0 modulo num_dbs);
 * - CEL snapshots: the shard the call's routing_context selects (required for KV snapshots; a
 *   vector-only CEL snapshot without a context falls back to the id filters);
 * - CLUSTER / LSH / EXPLICIT (vector-only) snapshots: the shards whose per-shard id filter
 *   (a Bloom filter written by the build, id-filter.ts) may hold the id; a key no filter admits
 *   is absent without a node call. A false positive costs one extra shard lookup.
 *
 * Partial results: a key whose shard(s) could not answer carries `error` and is never reported
 * as not found; below the call's min_coverage (fraction of keys answered; Get: the one key) the
 * call fails UNAVAILABLE (or DEADLINE_EXCEEDED when the caller's deadline ended it).
 */
import { DeadlineExceededError, InvalidQueryError, ShardCoverageError } from '../common/errors.ts';
import { DEFAULT_REQUEST_LIMITS, checkKeyBytes, type RequestLimits } from '../common/request-limits.ts';
import { quoteInput } from '../common/bounded-text.ts';
import { shardDirName, type Manifest } from '../common/manifest.ts';
import type { KeyLookup } from '../common/packed-lookups.ts';
import type { GetRequest__Output } from '../common/proto-gen/shardfleet/v1/GetRequest.ts';
import type { GetResponse } from '../common/proto-gen/shardfleet/v1/GetResponse.ts';
import type { GetResult } from '../common/proto-gen/shardfleet/v1/GetResult.ts';
import type { Key__Output } from '../common/proto-gen/shardfleet/v1/Key.ts';
import type { MultiGetRequest__Output } from '../common/proto-gen/shardfleet/v1/MultiGetRequest.ts';
import type { MultiGetResponse } from '../common/proto-gen/shardfleet/v1/MultiGetResponse.ts';
import type { RoutingValue__Output } from '../common/proto-gen/shardfleet/v1/RoutingValue.ts';
import { canonicalKeyBytes, shardOfKey } from '../common/routing/key-hash-routing.ts';
import { decodeRoutingContext } from '../common/routing/routing-value-codec.ts';
import { withSpan } from '../common/telemetry/spans.ts';
import { fanOut, type FanOutQuery, type QueryOutcome } from './fan-out.ts';
import type { RouterSnapshot } from './router-snapshot.ts';
import { outcomeLabel, recordFanOut, rejectionOf, type SearchBackend } from './search-service.ts';
import { collectionLabel } from './router-metrics.ts';

/** Keys a MultiGet accepts when the router is not configured otherwise (`--max-get-keys`). */
export const DEFAULT_MAX_GET_KEYS = DEFAULT_REQUEST_LIMITS.maxGetKeys;

/** What the lookup path needs from the router: the search backend plus the key limit. */
export interface GetBackend extends SearchBackend {
  /** Most keys one MultiGet may carry. */
  maxGetKeys: number;
}

/** A validated key: its canonical bytes and the shards to ask. */
interface RoutedKey {
  bytes: Buffer;
  /** Shards that may hold the key (one for HASH / CEL; 0..n for id filters). */
  shards: number[];
}

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/** The key type a snapshot's keys have: its kv.key_type, or `string` (record ids) without KV. */
function keyTypeOf(manifest: Manifest): 'string' | 'int' | 'bytes' {
  return manifest.kv?.key_type ?? 'string';
}

/**
 * The canonical bytes of request key `key` for `manifest`.
 * @throws InvalidQueryError naming `where` for a missing key, a key of another type than the
 *   snapshot's, an empty key, an int_key beyond +-(2^53-1), a bad int_key_decimal, a key longer
 *   than `limits.maxKeyBytes` (naming `--max-key-bytes`; checked before the key is encoded).
 */
export function keyBytesOf(manifest: Manifest, key: Key__Output | null | undefined, where: string, limits: RequestLimits = DEFAULT_REQUEST_LIMITS): Buffer {
  const want = keyTypeOf(manifest);
  const kind = key?.kind;
  if (key == null || kind === undefined) throw new InvalidQueryError(`${where}: no key (set string_key, int_key, int_key_decimal or bytes_key)`);
  const field = { string: 'string_key', int: 'int_key or int_key_decimal', bytes: 'bytes_key' }[want];
  const snapshotKind = manifest.kv ? `the snapshot's keys are ${want} (kv.key_type)` : 'a vector-only snapshot is looked up by record id (string_key)';
  const given = kind === 'int_key_decimal' ? 'int' : kind === 'int_key' ? 'int' : kind === 'bytes_key' ? 'bytes' : 'string';
  if (given !== want) throw new InvalidQueryError(`${where}: ${kind} given, but ${snapshotKind}: use ${field}`);
  let value: string | bigint | Uint8Array;
  if (kind === 'string_key') {
    value = key.string_key ?? '';
    checkKeyBytes(Buffer.byteLength(value, 'utf8'), limits, where);
  } else if (kind === 'bytes_key') {
    value = key.bytes_key ?? Buffer.alloc(0);
    checkKeyBytes(value.byteLength, limits, where);
  }
  else if (kind === 'int_key') {
    const n = key.int_key ?? 0;
    if (!Number.isSafeInteger(n)) throw new InvalidQueryError(`${where}: int_key ${n} is beyond +-(2^53-1) and lost precision in transit: send it as int_key_decimal`);
    value = BigInt(n);
  } else {
    const text = key.int_key_decimal ?? '';
    if (!/^-?\d{1,20}$/.test(text)) throw new InvalidQueryError(`${where}: int_key_decimal ${quoteInput(text)} is not a decimal integer (at most 20 digits, optional leading -)`);
    value = BigInt(text);
    if (value < INT64_MIN || value > INT64_MAX) throw new InvalidQueryError(`${where}: int_key_decimal ${text} is outside the signed 64-bit range`);
  }
  if (typeof value === 'bigint' && value < 0n && manifest.kv?.key_encoding === 'u64be') {
    throw new InvalidQueryError(`${where}: int key ${value} cannot exist: this snapshot stores int keys as u64be (unsigned 64-bit big-endian, shardyfusion's key_encoding), so keys are in [0, 2^63-1]`);
  }
  try {
    const bytes = canonicalKeyBytes(value);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  } catch (err) {
    throw new InvalidQueryError(`${where}: ${(err as Error).message}`);
  }
}

/**
 * The shards that may hold each key of a call.
 * @throws InvalidQueryError for a missing routing context on a KV CEL snapshot, or a bad one.
 */
function routeKeys(snapshot: RouterSnapshot, keys: readonly Buffer[], routingContext: Record<string, RoutingValue__Output>): RoutedKey[] {
  const { manifest, routing } = snapshot;
  const strategy = manifest.sharding.strategy;
  const numDbs = routing.numDbs;
  const hasContext = Object.keys(routingContext).length > 0;
  if (strategy === 'hash') {
    if (hasContext) throw new InvalidQueryError('routing_context is only for CEL-sharded snapshots; this snapshot is hash-sharded (a key names its shard)');
    return keys.map((bytes) => ({ bytes, shards: [shardOfKey(bytes, numDbs)] }));
  }
  if (strategy === 'cel' && !hasContext && manifest.kv !== undefined) {
    const columns = manifest.sharding.strategy === 'cel' ? Object.entries(manifest.sharding.cel_columns).map(([c, t]) => `${c} (${t})`).join(', ') : '';
    throw new InvalidQueryError(`routing_context: this KV snapshot is CEL-sharded; a lookup needs the routing context of its keys (cel_columns: ${columns})`);
  }
  if (strategy === 'cel' && hasContext) {
    const [shard] = routing.route({ vector: new Float32Array(0), numProbes: 0, shardIds: [], routingContext: decodeRoutingContext(routingContext) });
    return keys.map((bytes) => ({ bytes, shards: [shard] }));
  }
  if (hasContext) throw new InvalidQueryError(`routing_context is only for CEL-sharded snapshots; this snapshot uses ${strategy} sharding`);
  const filters = snapshot.idFilters;
  const nonEmpty = manifest.shards.filter((s) => s.vector_count > 0).map((s) => s.db_id);
  return keys.map((bytes) => ({ bytes, shards: filters ? filters.candidates(bytes.toString('utf8')) : nonEmpty }));
}

/** The lookup of one shard within a call: its distinct keys, and once fanned out its answer. */
interface ShardLookup {
  /** Distinct keys, in first-request order; `slot` maps a key (latin1 of its bytes) to its index. */
  keys: Buffer[];
  slot: Map<string, number>;
  /** The shard's outcome after the fan-out; `rows` when it answered (one per key). */
  outcome?: QueryOutcome;
  rows?: KeyLookup[];
}

/** Groups the keys of a call per shard, deduplicated (one lookup query per shard). */
function planLookup(keys: readonly RoutedKey[]): Map<number, ShardLookup> {
  const shards = new Map<number, ShardLookup>();
  for (const k of keys) {
    const name = k.bytes.toString('latin1');
    for (const dbId of k.shards) {
      let s = shards.get(dbId);
      if (!s) {
        s = { keys: [], slot: new Map() };
        shards.set(dbId, s);
      }
      if (!s.slot.has(name)) {
        s.slot.set(name, s.keys.length);
        s.keys.push(k.bytes);
      }
    }
  }
  return shards;
}

/** The fan-out query of one shard's lookup (`top_k` and the query vector are unused by lookups). */
function lookupQuery(dbId: number, s: ShardLookup, includeVector: boolean): FanOutQuery {
  return { queryBytes: Buffer.alloc(0), topK: 1, shardIds: [dbId], includePayload: true, includeVector, options: { nprobes: 0, ef: 0, refine_factor: 0 }, keys: s.keys };
}

/** Copies a request key for the response. */
function echoKey(key: Key__Output | null | undefined): GetResult['key'] {
  if (!key?.kind) return null;
  return { [key.kind]: key[key.kind] };
}

/** Why shard `dbId` did not answer: every replica's reason. */
function shardFailure(dbId: number, o: QueryOutcome | undefined): string {
  return `shard ${dbId} (${shardDirName(dbId)}): ${(o?.failed.get(dbId) ?? ['no answer']).join('; ')}`;
}

/** One key's result from the lookups of its shards (found wins; any failure without a find is an error). */
function resultOf(key: Key__Output | null | undefined, routed: RoutedKey, shards: ReadonlyMap<number, ShardLookup>): GetResult {
  const name = routed.bytes.toString('latin1');
  const failures: string[] = [];
  let failedShard: number | undefined;
  let notFoundShard: number | undefined;
  for (const dbId of routed.shards) {
    const s = shards.get(dbId);
    if (!s?.rows) {
      failures.push(shardFailure(dbId, s?.outcome));
      failedShard ??= dbId;
      continue;
    }
    const row = s.rows[s.slot.get(name) ?? -1];
    if (row?.found) {
      return { key: echoKey(key), found: true, value: row.value, payload_json: row.payload_json, vector: row.vector, id: row.id, db_id: dbId, error: '' };
    }
    notFoundShard ??= dbId;
  }
  if (failures.length > 0) return { key: echoKey(key), found: false, db_id: failedShard ?? 0, error: failures.join(' | ') };
  return { key: echoKey(key), found: false, db_id: notFoundShard ?? routed.shards[0] ?? 0, id: '', error: '' };
}

/**
 * Looks up `keys` (request order) in `snapshot`.
 * @throws InvalidQueryError, ShardCoverageError, DeadlineExceededError as described above.
 */
async function lookUp(
  backend: SearchBackend,
  snapshot: RouterSnapshot,
  reqKeys: readonly (Key__Output | null)[],
  routingContext: Record<string, RoutingValue__Output>,
  includeVector: boolean,
  minCoverage: number,
  deadline: number,
  rpc: string,
): Promise<{ results: GetResult[]; shardsAsked: number }> {
  const { manifest } = snapshot;
  const bytes = reqKeys.map((k, i) => keyBytesOf(manifest, k, rpc === 'Get' ? 'key' : `keys[${i}]`, backend.limits));
  const routed = routeKeys(snapshot, bytes, routingContext);
  const shards = planLookup(routed);
  const ordered = [...shards];
  let expired = false;
  if (ordered.length > 0) {
    const result = await fanOut(backend.fanOutDeps(snapshot), { runId: manifest.run_id, queries: ordered.map(([dbId, s]) => lookupQuery(dbId, s, includeVector)), deadline });
    recordFanOut(backend.metrics, rpc, result);
    ordered.forEach(([dbId, s], i) => {
      s.outcome = result.queries[i];
      s.rows = s.outcome.lookups.get(dbId);
      expired ||= s.outcome.expired.size > 0;
    });
    for (const [, s] of ordered) {
      const rejection = s.outcome && rejectionOf(s.outcome, manifest.run_id);
      if (rejection) throw rejection;
    }
  }
  const results = routed.map((r, i) => resultOf(reqKeys[i], r, shards));
  const failed = results.filter((r) => r.error !== '');
  if (results.length > 0 && (results.length - failed.length) / results.length < minCoverage - 1e-9) {
    expired ||= Date.now() >= deadline;
    const failedShards = ordered.filter(([, s]) => !s.rows).map(([dbId]) => dbId).sort((a, b) => a - b);
    const reasons = failedShards.map((dbId) => shardFailure(dbId, shards.get(dbId)?.outcome)).join(' | ');
    const message = `${failed.length} of ${results.length} keys of run ${manifest.run_id} could not be looked up (min_coverage ${minCoverage}): ${reasons}`;
    if (expired) throw new DeadlineExceededError(`deadline passed: ${message}`, failedShards);
    throw new ShardCoverageError(message, failedShards);
  }
  return { results, shardsAsked: shards.size };
}

/** Observes one call's duration and outcome. */
function observe(backend: SearchBackend, rpc: string, started: number, outcome: string): void {
  backend.metrics?.requestDuration.observe({ rpc, outcome, collection: collectionLabel(backend) }, (performance.now() - started) / 1000);
}

/**
 * Answers one Get.
 * @throws ReaderStateError (no run served), InvalidQueryError (bad key or routing context),
 *   ShardCoverageError (the key's shard could not answer), DeadlineExceededError.
 */
export async function get(backend: SearchBackend, req: GetRequest__Output, deadline: number): Promise<GetResponse> {
  const started = performance.now();
  try {
    const res = await withSpan('router.get', {}, async () => {
      const snapshot = backend.snapshot();
      const { results } = await lookUp(backend, snapshot, [req.key], req.routing_context, req.include_vector, 1, deadline, 'Get');
      return { result: results[0], run_id: snapshot.manifest.run_id, latency_ms: performance.now() - started };
    });
    observe(backend, 'Get', started, 'ok');
    return res;
  } catch (err) {
    if (err instanceof ShardCoverageError) backend.metrics?.coverageFailures.inc({ rpc: 'Get', collection: collectionLabel(backend) });
    observe(backend, 'Get', started, outcomeLabel(err));
    throw err;
  }
}

/**
 * Answers one MultiGet.
 * @throws ReaderStateError, InvalidQueryError (no keys, more than `maxGetKeys`, a bad key,
 *   min_coverage outside [0, 1], bad routing context), ShardCoverageError (fewer keys answered
 *   than min_coverage), DeadlineExceededError.
 */
export async function multiGet(backend: GetBackend, req: MultiGetRequest__Output, deadline: number): Promise<MultiGetResponse> {
  const started = performance.now();
  try {
    const res = await withSpan('router.multi_get', { 'shardfleet.keys': req.keys.length }, async () => {
      if (req.keys.length === 0) throw new InvalidQueryError('keys: a MultiGet needs at least one key');
      if (req.keys.length > backend.maxGetKeys) {
        throw new InvalidQueryError(`keys: ${req.keys.length} keys is more than this router's limit of ${backend.maxGetKeys} per MultiGet (--max-get-keys)`);
      }
      const mc = req.min_coverage;
      if (!Number.isFinite(mc) || mc < 0 || mc > 1) throw new InvalidQueryError(`min_coverage must be in [0, 1] (0 = every key), got ${mc}`);
      const snapshot = backend.snapshot();
      const { results, shardsAsked } = await lookUp(backend, snapshot, req.keys, req.routing_context, req.include_vector, mc === 0 ? 1 : mc, deadline, 'MultiGet');
      const partial = results.some((r) => r.error !== '');
      return { results, run_id: snapshot.manifest.run_id, latency_ms: performance.now() - started, partial, num_shards_queried: shardsAsked };
    });
    if (res.partial) backend.metrics?.partialResponses.inc({ rpc: 'MultiGet', collection: collectionLabel(backend) });
    observe(backend, 'MultiGet', started, res.partial ? 'partial' : 'ok');
    return res;
  } catch (err) {
    if (err instanceof ShardCoverageError) backend.metrics?.coverageFailures.inc({ rpc: 'MultiGet', collection: collectionLabel(backend) });
    observe(backend, 'MultiGet', started, outcomeLabel(err));
    throw err;
  }
}
