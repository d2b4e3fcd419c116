/**
 * EXPLICIT routing: every record names its shard (`shard_id`) and every query names the shards
 * to search (`shard_ids`), as in shardyfusion's explicit strategy.
 */
import { InputRecordError, InvalidQueryError } from '../errors.ts';
import { checkShardIds, rejectMultiProbe, rejectRoutingContext } from './route-checks.ts';
import type { QueryToRoute, RecordToRoute, ShardRouting } from './shard-routing.ts';

/** EXPLICIT routing over `numDbs` shards. */
export class ExplicitRouting implements ShardRouting {
  readonly strategy = 'explicit' as const;

  constructor(readonly numDbs: number) {}

  /**
   * The record's own `shardId`.
   * @throws InputRecordError naming the record when shard_id is missing, not an integer, or not in 0..numDbs-1.
   */
  assign(record: RecordToRoute): number {
    const id = record.shardId;
    if (id === undefined) throw new InputRecordError(record.location, 'has no shard_id (the explicit strategy needs one per record)');
    if (!Number.isInteger(id) || id < 0 || id >= this.numDbs) {
      throw new InputRecordError(record.location, `shard_id ${id} is out of range: num_dbs is ${this.numDbs}, so shard ids are 0..${this.numDbs - 1}`);
    }
    return id;
  }

  /**
   * The caller's `shard_ids`.
   * @throws InvalidQueryError when none are given, one is unknown or repeated, or num_probes > 1.
   */
  route(query: QueryToRoute): number[] {
    rejectRoutingContext(query.routingContext, 'explicit');
    rejectMultiProbe(query.numProbes, 'explicit');
    if (query.shardIds.length === 0) {
      throw new InvalidQueryError(`this snapshot uses explicit sharding: pass shard_ids (0..${this.numDbs - 1}) with every query`);
    }
    return checkShardIds(query.shardIds, this.numDbs);
  }
}
