/**
 * The snapshot a router serves: manifest, centroid router and shard placement, loaded together so
 * that one request is always routed within one run.
 */
import type { Logger } from 'pino';
import { loadCentroids } from '../common/centroids.ts';
import { CentroidRouter } from '../common/cluster-routing.ts';
import type { Manifest } from '../common/manifest.ts';
import { placeShards, type Placement } from '../common/placement.ts';
import { loadSnapshot } from '../common/snapshot-loader.ts';
import type { ObjectStore } from '../common/storage/object-store.ts';

/** Everything needed to route and fan out a query for one run. */
export interface RouterSnapshot {
  manifest: Manifest;
  manifestKey: string;
  publishedAt: string;
  centroids: CentroidRouter;
  /** db id -> owning node ids, preferred first. */
  placement: Placement;
}

/**
 * Loads the current snapshot and computes its placement over `nodeIds`.
 * @throws SnapshotNotFoundError, ManifestParseError, ShardIntegrityError (centroids), StorageError.
 */
export async function loadRouterSnapshot(
  store: ObjectStore,
  nodeIds: readonly string[],
  replication: number,
  log: Logger,
): Promise<RouterSnapshot> {
  const loaded = await loadSnapshot(store, log);
  const { manifest } = loaded;
  const centroids = new CentroidRouter(await loadCentroids(store, manifest), manifest.index.dim, manifest.index.metric);
  const placement = placeShards(
    manifest.shards.map((s) => s.db_id),
    nodeIds,
    { replication },
  );
  return { manifest, manifestKey: loaded.manifestKey, publishedAt: loaded.publishedAt, centroids, placement };
}
