/**
 * The snapshot a router serves: manifest, routing function and shard placement, loaded together so
 * that one request is always routed within one run. A request captures one RouterSnapshot object
 * at its start and uses it to the end; a run switch or a membership change swaps in a new object.
 */
import type { Logger } from 'pino';
import type { Manifest } from '../common/manifest.ts';
import { placeRun, type Placement } from '../common/placement.ts';
import { loadShardRouting } from '../common/routing/load-routing.ts';
import type { ShardRouting } from '../common/routing/shard-routing.ts';
import { loadSnapshot, type LoadedSnapshot } from '../common/snapshot-loader.ts';
import type { ObjectStore } from '../common/storage/object-store.ts';
import { errorMessage } from '../common/errors.ts';
import { loadIdFilters } from '../common/routing/id-filter-set.ts';

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
  log?: Logger,
  placementKey?: string,
): Promise<RouterSnapshot> {
  const routing = await loadShardRouting(store, loaded.manifest);
  return {
    manifest: loaded.manifest,
    manifestKey: loaded.manifestKey,
    publishedAt: loaded.publishedAt,
    routing,
    placement: placeRun(loaded.manifest, nodeIds, replication, placementKey),
    idFilters: await idFiltersOf(store, loaded.manifest, log),
  };
}

/**
 * The id filters of a non-HASH run (Get by id). A filter that cannot be loaded (missing, corrupt)
 * is logged and the run is served without filters: a Get then asks every non-empty shard, slower
 * but correct, and Search is unaffected.
 */
async function idFiltersOf(store: ObjectStore, manifest: Manifest, log: Logger | undefined): Promise<RouterSnapshot['idFilters']> {
  if (manifest.sharding.strategy === 'hash') return undefined;
  try {
    return await loadIdFilters(store, manifest);
  } catch (err) {
    log?.warn({ run_id: manifest.run_id, err: errorMessage(err) }, 'id filters could not be loaded: Get by id asks every non-empty shard of this run');
    return undefined;
  }
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
  return routerSnapshotOf(store, await loadSnapshot(store, log), nodeIds, replication, log);
}
