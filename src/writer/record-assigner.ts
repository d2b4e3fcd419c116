/**
 * The writer's assignment of records to shards for a run: the run's routing function (for a
 * balanced CLUSTER run it includes the fitted centroid offsets, so it is a pure function of the
 * vector), except for a legacy balanced CLUSTER plan without offsets, where a
 * {@link CapacityAssigner} caps every shard in input order (a vector whose nearest shard is full
 * goes to its next-nearest with room); that one is stateful: feed records in input order, once each.
 */
import type { ShardingSpec } from '../common/manifest.ts';
import { ClusterRouting } from '../common/routing/cluster-shard-routing.ts';
import type { RecordToRoute, ShardRouting } from '../common/routing/shard-routing.ts';
import { CapacityAssigner } from './balanced-assignment.ts';

/**
 * Returns the assignment function of a run.
 * @param totalVectors the number of records that will be assigned (balanced capacity).
 * @throws ConfigValidationError for a bad balance factor.
 */
export function createRecordAssigner(sharding: ShardingSpec, routing: ShardRouting, totalVectors: number): (record: RecordToRoute) => number {
  // A legacy balanced plan (balance factor, no centroid offsets): the streaming capacity cap.
  if (sharding.strategy === 'cluster' && sharding.balance_factor !== null && sharding.centroid_offsets === undefined && routing instanceof ClusterRouting) {
    const capped = new CapacityAssigner(routing.centroids, totalVectors, sharding.balance_factor);
    return (record) => capped.assign(record.vector, 0);
  }
  return (record) => routing.assign(record);
}

