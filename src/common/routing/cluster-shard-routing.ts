/**
 * CLUSTER routing as a {@link ShardRouting}: records go to the nearest centroid's shard, queries
 * probe the `num_probes` nearest centroids (see CentroidRouter). A balanced build adds per-centroid
 * distance offsets (the manifest's `centroid_offsets`), used alike for records and queries; a
 * legacy balanced plan without offsets places capped records in a non-nearest shard
 * (src/writer/balanced-assignment.ts) while queries keep the plain nearest-centroid order.
 */
import { CentroidRouter } from '../cluster-routing.ts';
import type { Metric } from '../distance.ts';
import { checkShardIds, rejectRoutingContext, resolveNumProbes } from './route-checks.ts';
import type { QueryToRoute, RecordToRoute, ShardRouting } from './shard-routing.ts';

/** CLUSTER routing over a run's centroids. */
export class ClusterRouting implements ShardRouting {
  readonly strategy = 'cluster' as const;
  readonly numDbs: number;
  /** The underlying centroid math (shared with the writer's k-means assignment). */
  readonly centroids: CentroidRouter;

  /**
   * @param centroids `Float32Array` of length num_dbs * dim, row i = shard i's centroid.
   * @param defaultNumProbes the manifest's num_probes.
   * @param offsets balanced builds: the manifest's `centroid_offsets` (one per centroid).
   * @throws ConfigValidationError when the centroids do not form rows of `dim` or the offsets
   *   are not one finite number per centroid.
   */
  constructor(centroids: Float32Array, dim: number, metric: Metric, private readonly defaultNumProbes: number, offsets?: ArrayLike<number>) {
    this.centroids = new CentroidRouter(centroids, dim, metric, offsets);
    this.numDbs = this.centroids.numCentroids;
  }

  /** The nearest centroid's shard (first minimum on ties). */
  assign(record: RecordToRoute): number {
    return this.centroids.assign(record.vector, 0);
  }

  /** Caller-named shards, or the nearest `num_probes` centroids' shards, nearest first. */
  route(query: QueryToRoute): number[] {
    rejectRoutingContext(query.routingContext, 'cluster');
    if (query.shardIds.length > 0) return checkShardIds(query.shardIds, this.numDbs);
    return this.centroids.nearest(query.vector, 0, resolveNumProbes(query.numProbes, this.defaultNumProbes, this.numDbs));
  }
}
