/**
 * Fan-out of one query to the shard nodes: the probed shards are grouped by owning node and each
 * node gets ONE `SearchShards` call carrying all of its shards, all nodes in parallel, each call
 * with the request's deadline. Shards whose node fails (RPC error, or a per-shard error) are
 * retried on their next replica while the deadline allows. The result says, per shard, the hits
 * or why it could not answer.
 */
import type * as grpc from '@grpc/grpc-js';
import { describeGrpcError, unaryCall } from '../common/grpc-status.ts';
import type { Placement } from '../common/placement.ts';
import type { SearchShardsResponse__Output } from '../common/proto-gen/shardfleet/v1/SearchShardsResponse.ts';
import type { ScoredHit } from '../common/topk-merge.ts';
import type { NodePool } from './node-pool.ts';

/** One query's fan-out parameters. */
export interface FanOutRequest {
  runId: string;
  /** The query as little-endian float32 bytes (forwarded as received). */
  queryBytes: Buffer;
  topK: number;
  shardIds: readonly number[];
  includePayload: boolean;
  /** Index options forwarded to every shard (0 = shard default). */
  options: { nprobes: number; ef: number; refine_factor: number };
  /** Absolute deadline, ms since epoch. */
  deadline: number;
}

/** Per-shard outcome of a fan-out. */
export interface FanOutResult {
  /** Hit lists of the shards that answered, by db id. */
  answered: Map<number, ScoredHit[]>;
  /** Shards that could not answer, by db id, with every replica's reason. */
  failed: Map<number, string[]>;
}

/**
 * Runs the fan-out. Never throws for node failures: they are reported in `failed`.
 */
export async function fanOut(pool: NodePool, placement: Placement, req: FanOutRequest): Promise<FanOutResult> {
  const answered = new Map<number, ScoredHit[]>();
  const failed = new Map<number, string[]>();
  const attempt = new Map<number, number>(req.shardIds.map((id) => [id, 0]));
  let pending = [...req.shardIds];
  while (pending.length > 0) {
    // Group the pending shards by the replica they try next.
    const byNode = new Map<string, number[]>();
    const next: number[] = [];
    for (const dbId of pending) {
      const owners = placement.get(dbId) ?? [];
      const replica = owners[attempt.get(dbId) ?? 0];
      if (replica === undefined) continue; // replicas exhausted: stays in `failed`
      const list = byNode.get(replica) ?? [];
      list.push(dbId);
      byNode.set(replica, list);
    }
    await Promise.all(
      [...byNode].map(async ([nodeId, shardIds]) => {
        const reasons = await callNode(pool, nodeId, shardIds, req, answered);
        for (const [dbId, reason] of reasons) {
          const list = failed.get(dbId) ?? [];
          list.push(`node ${nodeId}: ${reason}`);
          failed.set(dbId, list);
          attempt.set(dbId, (attempt.get(dbId) ?? 0) + 1);
          next.push(dbId);
        }
      }),
    );
    pending = Date.now() < req.deadline ? next : [];
  }
  for (const dbId of answered.keys()) failed.delete(dbId);
  for (const dbId of req.shardIds) {
    if (!answered.has(dbId) && !failed.has(dbId)) failed.set(dbId, ['no node holds this shard']);
  }
  return { answered, failed };
}

/** Calls one node; fills `answered`; returns the shards that failed with their reason. */
async function callNode(
  pool: NodePool,
  nodeId: string,
  shardIds: number[],
  req: FanOutRequest,
  answered: Map<number, ScoredHit[]>,
): Promise<Map<number, string>> {
  const failures = new Map<number, string>();
  const client = pool.client(nodeId);
  if (!client) {
    for (const id of shardIds) failures.set(id, 'not in the node list');
    return failures;
  }
  let res: SearchShardsResponse__Output;
  try {
    res = await unaryCall(
      client.SearchShards.bind(client) as Parameters<typeof unaryCall<unknown, SearchShardsResponse__Output>>[0],
      {
        run_id: req.runId,
        queries: [{ query: req.queryBytes, top_k: req.topK, shard_ids: shardIds, include_payload: req.includePayload, ...req.options }],
      },
      { deadline: req.deadline } satisfies grpc.CallOptions,
    );
  } catch (err) {
    for (const id of shardIds) failures.set(id, describeGrpcError(err));
    return failures;
  }
  const seen = new Set<number>();
  for (const shard of res.shards) {
    seen.add(shard.db_id);
    if (shard.error) failures.set(shard.db_id, shard.error);
    else answered.set(shard.db_id, shard.hits);
  }
  for (const id of shardIds) if (!seen.has(id)) failures.set(id, 'missing from the node response');
  return failures;
}
