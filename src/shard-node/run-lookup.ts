/**
 * Answering the point lookups of a SearchShards request (ShardQuery.keys, from Router Get /
 * MultiGet) from one run: lease each shard the lookups name (loading it when needed, as for a
 * search), look the keys up, release the leases.
 *
 * A KV snapshot's key (its canonical bytes) is found when the shard's KV store has it; the
 * record's payload and vector are those of the id {@link kvKeyId} names. A vector-only
 * snapshot's key is the UTF-8 of a record id, found when the shard has that record.
 */
import { InvalidQueryError, errorMessage } from '../common/errors.ts';
import { DEFAULT_REQUEST_LIMITS, REQUEST_LIMIT_FLAGS, checkKeyBytes, limitError, type RequestLimits } from '../common/request-limits.ts';
import { kvKeyId } from '../common/kv-layout.ts';
import { MAX_LOOKUP_KEYS } from '../common/wire-limits.ts';
import type { Manifest } from '../common/manifest.ts';
import type { PackableLookup } from '../common/packed-lookups.ts';
import type { ShardQuery__Output } from '../common/proto-gen/shardfleet/v1/ShardQuery.ts';
import { withSpan } from '../common/telemetry/spans.ts';
import type { NodeRun } from './node-run.ts';
import type { ShardIndexReader } from './shard-index-reader.ts';

/** Most keys one SearchShards request may look up (over all its queries; also checked before decoding). */
export { MAX_LOOKUP_KEYS };

/** The outcome of one (lookup query, shard): one row per key, or why the shard could not answer. */
export interface LookupOutcome {
  dbId: number;
  queryIndex: number;
  rows: PackableLookup[];
  /** "" on success. */
  error: string;
}

const EMPTY = new Uint8Array(0);

/**
 * Checks the lookup queries of a request (those with keys) against the shared request limits
 * (request-limits.ts), which a router never exceeds:
 * - every key is non-empty and at most `maxKeyBytes` long;
 * - a query carries at most `maxGetKeys` keys (a router's lookup query holds the distinct keys of
 *   one Get / MultiGet for one shard);
 * - the call looks up at most `maxGetKeys` x (distinct shards of the run its lookups name)
 *   (key, shard) pairs: one MultiGet asks each shard for at most all of its keys, and a router
 *   combines lookups of several calls into one node call only up to `maxGetKeys` pairs.
 * @param numDbs the run's shard count (shard ids outside it do not raise the pair limit).
 * @throws InvalidQueryError naming the query and key, the count or length, the limit and its flag.
 */
export function checkLookups(queries: readonly ShardQuery__Output[], numDbs: number, limits: RequestLimits = DEFAULT_REQUEST_LIMITS): void {
  let pairs = 0;
  const shards = new Set<number>();
  queries.forEach((q, i) => {
    if (q.keys.length > limits.maxGetKeys) throw limitError('maxGetKeys', limits, `query ${i} looks up`, `${q.keys.length} keys`);
    q.keys.forEach((k, j) => {
      if (k.length === 0) throw new InvalidQueryError(`query ${i}: key ${j} is empty`);
      checkKeyBytes(k.length, limits, `query ${i}: key ${j}`);
    });
    if (q.keys.length === 0) return;
    pairs += q.keys.length * q.shard_ids.length;
    for (const s of q.shard_ids) if (s < numDbs) shards.add(s);
  });
  const allowed = limits.maxGetKeys * Math.max(1, shards.size);
  if (pairs > allowed) {
    throw new InvalidQueryError(
      `the call looks up ${pairs} (key, shard) pairs over ${shards.size} shard(s) of the run; at most ${limits.maxGetKeys} per shard (${REQUEST_LIMIT_FLAGS.maxGetKeys})`,
    );
  }
}

/**
 * Looks the keys of one lookup query up in one open shard.
 * @throws VectorIndexError when the KV store or the index fails.
 */
async function lookupShard(manifest: Manifest, reader: ShardIndexReader, keys: readonly Uint8Array[], includePayload: boolean, includeVector: boolean): Promise<PackableLookup[]> {
  const kvSpec = manifest.kv;
  if (kvSpec !== undefined) {
    if (reader.kv === undefined) {
      // An empty shard of a KV snapshot: no store, no keys.
      return keys.map(() => ({ found: false, value: EMPTY, id: '', payload_json: '' }));
    }
    const values = await reader.kv.getMany(keys);
    const ids = keys.map((k) => safeKeyId(k, kvSpec.key_type));
    const wanted = ids.filter((id, i): id is string => id !== undefined && values[i] !== undefined);
    const rows = includePayload || includeVector ? await reader.fetchByIds(wanted, includePayload, includeVector) : [];
    const byId = new Map(wanted.map((id, j) => [id, rows[j]]));
    return keys.map((_, i) => {
      const value = values[i];
      const id = ids[i];
      if (value === undefined || id === undefined) return { found: false, value: EMPTY, id: '', payload_json: '' };
      const row = byId.get(id);
      return { found: true, value, id, payload_json: row?.payload_json ?? '', vector: row?.vector };
    });
  }
  const ids = keys.map((k) => safeKeyId(k, 'string'));
  const present = ids.filter((id): id is string => id !== undefined);
  const rows = await reader.fetchByIds(present, includePayload, includeVector);
  const byId = new Map(present.map((id, j) => [id, rows[j]]));
  return ids.map((id) => {
    const row = id === undefined ? undefined : byId.get(id);
    if (id === undefined || row === undefined) return { found: false, value: EMPTY, id: '', payload_json: '' };
    return { found: true, value: EMPTY, id, payload_json: row.payload_json, vector: row.vector };
  });
}

/** A key's record id (kvKeyId; a vector-only key is a UTF-8 id, type `string`), or undefined when the bytes cannot be one. */
function safeKeyId(key: Uint8Array, keyType: 'string' | 'int' | 'bytes'): string | undefined {
  try {
    return kvKeyId(key, keyType);
  } catch {
    return undefined; // a key that cannot be of this type is not in the store either
  }
}

/**
 * Answers the lookup queries `queries` (request indexes `indexes`) from `run`: one outcome per
 * (query, requested shard), in order. A shard that cannot be loaded or read yields an outcome
 * whose `error` names the shard and why. Never rejects.
 */
export async function lookupRun(run: NodeRun, queries: readonly ShardQuery__Output[], indexes: readonly number[]): Promise<LookupOutcome[]> {
  const outcomes: LookupOutcome[] = [];
  await Promise.all(
    indexes.flatMap((queryIndex) => {
      const q = queries[queryIndex];
      return q.shard_ids.map(async (dbId) => {
        const outcome: LookupOutcome = { dbId, queryIndex, rows: [], error: '' };
        outcomes.push(outcome);
        let lease;
        try {
          lease = await run.lease(dbId);
        } catch (err) {
          outcome.error = errorMessage(err);
          return;
        }
        try {
          outcome.rows = await withSpan('shard.lookup', { db_id: dbId, run_id: run.runId, keys: q.keys.length }, () =>
            lookupShard(run.manifest, lease.reader, q.keys, q.include_payload, q.include_vector),
          );
        } catch (err) {
          outcome.error = `run ${run.runId}: shard ${dbId}: ${errorMessage(err)}`;
        } finally {
          lease.release();
        }
      });
    }),
  );
  return outcomes;
}
