/**
 * The snapshot a router serves: manifest, routing function and shard placement, loaded together so
 * that one request is always routed within one run. A request captures one RouterSnapshot object
 * at its start and uses it to the end; a run switch or a membership change swaps in a new object.
 */
import type { Logger } from 'pino';
import type { Manifest } from '../common/manifest.ts';
import { placeShards, type Placement } from '../common/placement.ts';
import { loadShardRouting } from '../common/routing/load-routing.ts';
import type { ShardRouting } from '../common/routing/shard-routing.ts';
import { loadSnapshot, type LoadedSnapshot } from '../common/snapshot-loader.ts';
import type { ObjectStore } from '../common/storage/object-store.ts';

/** Everything needed to route and fan out a query for one run. */
export interface RouterSnapshot {
  manifest: Manifest;
  manifestKey: string;
  /** RFC 3339 publication time. */
  publishedAt: string;
  /** The run's routing function (CLUSTER, LSH, EXPLICIT or CEL), identical to the writer's. */
  routing: ShardRouting;
  /** db id -> owning node ids, preferred first (empty when there is no node). */
  placement: Placement;
  /**
   * Get by id on CLUSTER / LSH / EXPLICIT / CEL snapshots: the shards whose id filter may hold
   * an id (see id-filter-set.ts); absent for HASH and KV snapshots (the key names its shard).
   */
  idFilters?: { candidates(id: string): number[] };
}

/**
 * Placement of a manifest's shards over `nodeIds` (rendezvous, bounded load); an empty placement
 * when there is no node yet (every shard then has no replica).
 * @throws ConfigValidationError for a replication factor < 1.
 */
export function placeRun(manifest: Manifest, nodeIds: readonly string[], replication: number): Placement {
  if (nodeIds.length === 0) return new Map();
  return placeShards(
    manifest.shards.map((s) => s.db_id),
    nodeIds,
    { replication },
  );
}

/**
 * Builds the router snapshot of an already loaded manifest: loads its routing function and
 * computes its placement over `nodeIds`.
 * @throws ShardIntegrityError / ManifestParseError (routing metadata), ConfigValidationError (a
 *   CEL expression that does not type-check), StorageError.
 */
export async function routerSnapshotOf(
  store: ObjectStore,
  loaded: Pick<LoadedSnapshot, 'manifest' | 'manifestKey' | 'publishedAt'>,
  nodeIds: readonly string[],
  replication: number,
): Promise<RouterSnapshot> {
  const routing = await loadShardRouting(store, loaded.manifest);
  return {
    manifest: loaded.manifest,
    manifestKey: loaded.manifestKey,
    publishedAt: loaded.publishedAt,
    routing,
    placement: placeRun(loaded.manifest, nodeIds, replication),
  };
}

/**
 * Loads the current snapshot, its routing function and its placement over `nodeIds`.
 * @throws SnapshotNotFoundError, ManifestParseError, ShardIntegrityError (routing metadata),
 *   ConfigValidationError (a CEL expression that does not type-check), StorageError.
 */
export async function loadRouterSnapshot(
  store: ObjectStore,
  nodeIds: readonly string[],
  replication: number,
  log: Logger,
): Promise<RouterSnapshot> {
  return routerSnapshotOf(store, await loadSnapshot(store, log), nodeIds, replication);
}
