/**
 * shardyfusion's EXPLICIT routing (shardyfusion/vector/sharding.py:275-276,291-294 and
 * vector/_distributed.py:200-207 at b5ad9a1), as a shardfleet {@link ShardRouting}: a record names
 * its shard, a query must name the shards to search. Unlike shardfleet's native ExplicitRouting,
 * num_probes is ignored (shardyfusion returns `shard_ids` before reading it), so any num_probes
 * is accepted with shard_ids.
 */
import { InputRecordError, InvalidQueryError } from '../../common/errors.ts';
import { checkShardIds, rejectRoutingContext } from '../../common/routing/route-checks.ts';
import type { QueryToRoute, RecordToRoute, ShardRouting } from '../../common/routing/shard-routing.ts';

/** shardyfusion's message for a query without shard_ids (sharding.py:292-294). */
export const EXPLICIT_NEEDS_SHARD_IDS = 'EXPLICIT sharding requires shard_ids to be provided at query time';

/** shardyfusion's EXPLICIT routing over `numDbs` shards. */
export class ShardyfusionExplicitRouting implements ShardRouting {
  readonly strategy = 'explicit' as const;

  constructor(readonly numDbs: number) {}

  /**
   * The record's own shard id (`VectorRecord.shard_id`, _distributed.py:200-207).
   * @throws InputRecordError naming the record when it has none or it is outside 0..numDbs-1.
   */
  assign(record: RecordToRoute): number {
    const id = record.shardId;
    if (id === undefined) throw new InputRecordError(record.location, 'EXPLICIT sharding requires shard_id');
    if (!Number.isInteger(id) || id < 0 || id >= this.numDbs) throw new InputRecordError(record.location, `shard_id ${id} out of range [0, ${this.numDbs})`);
    return id;
  }

  /**
   * The caller's `shardIds`, in the caller's order; num_probes is not read.
   * @throws InvalidQueryError with shardyfusion's message when no shard ids are given; for an
   *   unknown or repeated shard id, or a routing_context.
   */
  route(query: QueryToRoute): number[] {
    rejectRoutingContext(query.routingContext, 'explicit');
    if (query.shardIds.length === 0) throw new InvalidQueryError(`${EXPLICIT_NEEDS_SHARD_IDS} (this snapshot has shards 0..${this.numDbs - 1})`);
    return checkShardIds(query.shardIds, this.numDbs);
  }
}
