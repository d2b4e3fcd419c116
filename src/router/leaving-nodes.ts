/**
 * Nodes that leave, as the router handles them, so that no shard loses its last ready replica
 * while its new owners load:
 *
 * - A node that reports `draining` (it was asked to stop) stays in the pool and keeps being
 *   asked for the shards it has loaded (as a non-owner, after the ready owners), but placement
 *   is computed without it ({@link placementMembers}), so its shards get new owners at once.
 * - A node that left the membership (e.g. removed from DNS) while it still answers Status and
 *   holds shards whose new owners are not all ready stays in the pool as a retiring replica
 *   ({@link retainedLeavers}) until they are, or until it stops answering.
 * - Every Status call tells each node which of the shards it reports releasing the router still
 *   needs from it ({@link keepShardsFor}), and which nodes are draining; a node releases a shard
 *   only once no router needs it (src/shard-node/shard-keep-leases.ts).
 *
 * "Needed" is strict: a shard is needed from a node while the node is one of its owners, or while
 * any of its owners (placement without the node) is not ready: loaded, reachable, not ejected.
 */
import type { NodeEndpoint } from '../common/node-list.ts';
import type { Placement } from '../common/placement.ts';
import type { NodeView } from './node-status-poller.ts';
import type { RouterSnapshot } from './router-snapshot.ts';

/** Whether `nodeId` can answer shard `dbId` of run `runId` now (ReplicaState.isReady). */
export type ReadyCheck = (nodeId: string, runId: string, dbId: number) => boolean;

/** Ids of the nodes whose last Status said draining, in view order. */
export function drainingNodeIds(views: readonly NodeView[]): string[] {
  return views.filter((v) => v.draining).map((v) => v.id);
}

/**
 * The node ids placement is computed over: the members that are not draining, or every member
 * when all of them drain (a shard always has owners while any member is left).
 */
export function placementMembers(memberIds: readonly string[], draining: ReadonlySet<string>): string[] {
  const staying = memberIds.filter((id) => !draining.has(id));
  return staying.length > 0 ? staying : [...memberIds];
}

/**
 * The shards among `dbIds` of `s` that the router still needs from `nodeId` (see the module
 * comment), ascending.
 */
export function neededShards(nodeId: string, s: RouterSnapshot, dbIds: Iterable<number>, isReady: ReadyCheck): number[] {
  const runId = s.manifest.run_id;
  const out: number[] = [];
  for (const dbId of dbIds) if (isNeeded(nodeId, runId, dbId, s.placement, isReady)) out.push(dbId);
  return out.sort((a, b) => a - b);
}

function isNeeded(nodeId: string, runId: string, dbId: number, placement: Placement, isReady: ReadyCheck): boolean {
  const owners = placement.get(dbId) ?? [];
  if (owners.length === 0 || owners.includes(nodeId)) return true;
  return owners.some((owner) => !isReady(owner, runId, dbId));
}

/**
 * What to tell node `view` about the shards it reports releasing: those of the router's runs
 * (`snapshots`: served, pending, fallback) the router still needs from it.
 */
export function keepShardsFor(view: NodeView | undefined, snapshots: readonly RouterSnapshot[], isReady: ReadyCheck): Array<{ run_id: string; db_ids: number[] }> {
  if (view === undefined) return [];
  const out: Array<{ run_id: string; db_ids: number[] }> = [];
  for (const s of snapshots) {
    const run = view.runs.get(s.manifest.run_id);
    if (run === undefined || run.releasing.size === 0) continue;
    const dbIds = neededShards(view.id, s, run.releasing, isReady);
    if (dbIds.length > 0) out.push({ run_id: s.manifest.run_id, db_ids: dbIds });
  }
  return out;
}

/**
 * The pool nodes that left the membership but stay as retiring replicas: they answered their
 * last Status and have loaded shards of the router's runs that are still needed from them.
 * @param pool the current pool endpoints; @param memberIds the membership's node ids.
 */
export function retainedLeavers(
  pool: readonly NodeEndpoint[],
  memberIds: ReadonlySet<string>,
  view: (id: string) => NodeView | undefined,
  snapshots: readonly RouterSnapshot[],
  isReady: ReadyCheck,
): NodeEndpoint[] {
  return pool.filter((endpoint) => {
    if (memberIds.has(endpoint.id)) return false;
    const v = view(endpoint.id);
    if (v?.reachable !== true) return false;
    return snapshots.some((s) => {
      const run = v.runs.get(s.manifest.run_id);
      return run !== undefined && neededShards(endpoint.id, s, run.loaded, isReady).length > 0;
    });
  });
}
