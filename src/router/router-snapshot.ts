/**
 * The snapshot a router serves: manifest, routing function and shard placement, loaded together so
 * that one request is always routed within one run.
 */
import type { Logger } from 'pino';
import type { Manifest } from '../common/manifest.ts';
import { placeShards, type Placement } from '../common/placement.ts';
import { loadShardRouting } from '../common/routing/load-routing.ts';
import type { ShardRouting } from '../common/routing/shard-routing.ts';
import { loadSnapshot } from '../common/snapshot-loader.ts';
import type { ObjectStore } from '../common/storage/object-store.ts';

/** Everything needed to route and fan out a query for one run. */
export interface RouterSnapshot {
  manifest: Manifest;
  manifestKey: string;
  publishedAt: string;
  /** The run's routing function (CLUSTER, LSH, EXPLICIT or CEL), identical to the writer's. */
  routing: ShardRouting;
  /** db id -> owning node ids, preferred first. */
  placement: Placement;
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
  const loaded = await loadSnapshot(store, log);
  const { manifest } = loaded;
  const routing = await loadShardRouting(store, manifest);
  const placement = placeShards(
    manifest.shards.map((s) => s.db_id),
    nodeIds,
    { replication },
  );
  return { manifest, manifestKey: loaded.manifestKey, publishedAt: loaded.publishedAt, routing, placement };
}
