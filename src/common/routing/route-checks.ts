/**
 * Query checks shared by every routing strategy: caller-named shard ids, num_probes, and a
 * routing_context sent to a strategy that does not read one.
 */
import { InvalidQueryError } from '../errors.ts';
import { listInputs } from '../bounded-text.ts';
import type { RoutingContext } from './routing-context.ts';

/**
 * Validates shard ids named by a caller: integers in 0..numDbs-1, none repeated.
 * @returns a copy of `shardIds` in the caller's order.
 * @throws InvalidQueryError naming the bad or repeated id and the valid range.
 */
export function checkShardIds(shardIds: readonly number[], numDbs: number): number[] {
  const seen = new Set<number>();
  for (const id of shardIds) {
    if (!Number.isInteger(id) || id < 0 || id >= numDbs) {
      throw new InvalidQueryError(`shard id ${id} does not exist; this snapshot has shards 0..${numDbs - 1}`);
    }
    if (seen.has(id)) throw new InvalidQueryError(`shard id ${id} is listed twice`);
    seen.add(id);
  }
  return [...shardIds];
}

/**
 * The number of shards a similarity-routed (CLUSTER, LSH) query probes: `numProbes`, or the
 * manifest default when 0.
 * @throws InvalidQueryError when the result exceeds numDbs or is not a non-negative integer.
 */
export function resolveNumProbes(numProbes: number, defaultNumProbes: number, numDbs: number): number {
  if (!Number.isInteger(numProbes) || numProbes < 0) throw new InvalidQueryError(`num_probes must be a non-negative integer, got ${numProbes}`);
  const probes = numProbes === 0 ? defaultNumProbes : numProbes;
  if (probes > numDbs) throw new InvalidQueryError(`num_probes ${probes} exceeds the number of shards (${numDbs})`);
  return probes;
}

/**
 * Rejects num_probes > 1 for strategies that route a query to exactly one shard (EXPLICIT, CEL),
 * as shardyfusion does.
 * @throws InvalidQueryError naming the strategy.
 */
export function rejectMultiProbe(numProbes: number, strategy: string): void {
  if (numProbes > 1) {
    throw new InvalidQueryError(`num_probes ${numProbes} is not supported by the ${strategy} strategy: a query maps to exactly one shard (leave num_probes 0 or 1)`);
  }
}

/**
 * Rejects a non-empty `routing_context` for strategies that never read it (CLUSTER, LSH,
 * EXPLICIT, HASH): silently ignoring it would hide a client that believes it routes by key.
 * @throws InvalidQueryError naming the columns sent and the strategy.
 */
export function rejectRoutingContext(context: RoutingContext | undefined, strategy: string): void {
  const columns = context === undefined ? [] : Object.keys(context);
  if (columns.length === 0) return;
  throw new InvalidQueryError(
    `routing_context (column${columns.length > 1 ? 's' : ''} ${listInputs(columns)}) is only read by CEL-sharded snapshots; ` +
      `this snapshot uses ${strategy} sharding: leave routing_context empty`,
  );
}
