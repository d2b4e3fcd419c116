/**
 * The shard node process: a gRPC `ShardNode` service over the shards that placement assigns to
 * this node. On start it binds its port (health NOT_SERVING), reads `_CURRENT`, downloads and
 * verifies its shards into the cache folder, opens them and reports SERVING. Until a snapshot
 * exists it retries every `pollIntervalMs`.
 */
import type * as grpc from '@grpc/grpc-js';
import { ConfigValidationError, InvalidQueryError, errorMessage } from '../common/errors.ts';
import { bindServer, newServer, setServing, shutdownServer } from '../common/grpc-server.ts';
import { toServiceError } from '../common/grpc-status.ts';
import { startLoadLoop } from '../common/load-retry.ts';
import type { ReaderProcessConfig } from '../common/reader-config.ts';
import { placeShards, shardsOfNode } from '../common/placement.ts';
import { loadShardNodeProto } from '../common/proto.ts';
import type { SearchShardsRequest__Output } from '../common/proto-gen/shardfleet/v1/SearchShardsRequest.ts';
import type { SearchShardsResponse } from '../common/proto-gen/shardfleet/v1/SearchShardsResponse.ts';
import type { StatusResponse } from '../common/proto-gen/shardfleet/v1/StatusResponse.ts';
import { loadSnapshot } from '../common/snapshot-loader.ts';
import { decodeVector } from '../common/vector-codec.ts';
import { LoadedRun, requireRun } from './shard-node-state.ts';

/** Largest top_k a node accepts. */
export const MAX_TOP_K = 10_000;
const SERVICE = 'shardfleet.v1.ShardNode';

/** Shard node configuration. */
export interface ShardNodeConfig extends ReaderProcessConfig {
  /** This node's id in the placement; must appear in `nodes`. */
  nodeId: string;
  /** Local folder for downloaded shards. */
  cacheDir: string;
}

/** A running shard node. */
export interface ShardNodeHandle {
  /** Bound `host:port`. */
  address: string;
  /** Resolves once the first load attempt finished (loaded, or failed and retrying). */
  firstLoad: Promise<void>;
  /** The run currently served, if any. */
  run(): LoadedRun | undefined;
  /** Graceful stop: drains in-flight calls, closes shards. */
  stop(): Promise<void>;
}

/**
 * Starts a shard node.
 * @throws ConfigValidationError when `nodeId` is not in `nodes` or `listen` is malformed.
 */
export async function startShardNode(config: ShardNodeConfig): Promise<ShardNodeHandle> {
  const { store, log } = config;
  if (!config.nodes.some((n) => n.id === config.nodeId)) {
    throw new ConfigValidationError(`node id "${config.nodeId}" is not in the node list (${config.nodes.map((n) => n.id).join(', ')})`);
  }
  let current: LoadedRun | undefined;
  let lastLoadError = '';
  const proto = loadShardNodeProto();
  const server = newServer();
  server.addService(proto.shardfleet.v1.ShardNode.service, {
    SearchShards: (
      call: grpc.ServerUnaryCall<SearchShardsRequest__Output, SearchShardsResponse>,
      callback: grpc.sendUnaryData<SearchShardsResponse>,
    ) => {
      handleSearch(call.request).then(
        (res) => callback(null, res),
        (err) => callback(toServiceError(err)),
      );
    },
    Status: (_call: grpc.ServerUnaryCall<unknown, StatusResponse>, callback: grpc.sendUnaryData<StatusResponse>) => {
      const run = current;
      callback(null, {
        node_id: config.nodeId,
        run_id: run?.runId ?? '',
        shards_loaded: run ? [...run.shards.keys()].sort((a, b) => a - b) : [],
        shards_failed: run ? [...run.failures].map(([db_id, reason]) => ({ db_id, reason })) : [],
        shards_assigned: run ? [...run.assigned] : [],
        load_error: run ? '' : lastLoadError || 'loading',
      });
    },
  });

  async function handleSearch(req: SearchShardsRequest__Output): Promise<SearchShardsResponse> {
    const run = requireRun(current, req.run_id);
    const queries = req.queries.map((q, i) => {
      if (q.top_k < 1 || q.top_k > MAX_TOP_K) throw new InvalidQueryError(`query ${i}: top_k must be in 1..${MAX_TOP_K}, got ${q.top_k}`);
      return { q, vector: decodeVector(q.query, run.manifest.index.dim) };
    });
    const perQuery = await Promise.all(
      queries.map(({ q, vector }) =>
        run.search(vector, q.top_k, q.shard_ids, q.include_payload, {
          nprobes: q.nprobes || undefined,
          ef: q.ef || undefined,
          refineFactor: q.refine_factor || undefined,
        }),
      ),
    );
    return {
      run_id: run.runId,
      shards: perQuery.flatMap((outcomes, queryIndex) =>
        outcomes.map((o) => ({ db_id: o.dbId, hits: o.hits ?? [], error: o.error ?? '', query_index: queryIndex })),
      ),
    };
  }

  const bound = await bindServer(server, config.listen, [SERVICE]);
  log.info({ address: bound.address, node_id: config.nodeId }, 'shard node listening');

  let stopped = false;
  const loadOnce = async (): Promise<boolean> => {
    try {
      const snapshot = await loadSnapshot(store, log);
      const placement = placeShards(
        snapshot.manifest.shards.map((s) => s.db_id),
        config.nodes.map((n) => n.id),
        { replication: config.replication },
      );
      const assigned = shardsOfNode(placement, config.nodeId);
      const run = new LoadedRun(snapshot.manifest, assigned);
      log.info({ run_id: run.runId, assigned }, 'loading assigned shards');
      await run.load(store, config.cacheDir, log);
      if (stopped) {
        run.close();
        return true;
      }
      current = run;
      lastLoadError = '';
      setServing(bound.health, [SERVICE], true);
      log.info({ run_id: run.runId, loaded: run.shards.size, failed: run.failures.size }, 'shard node serving');
      return true;
    } catch (err) {
      lastLoadError = errorMessage(err);
      log.error({ err: lastLoadError, store: store.url }, 'cannot load snapshot; will retry');
      return false;
    }
  };
  const loop = startLoadLoop(loadOnce, config.pollIntervalMs ?? 5000);

  return {
    address: bound.address,
    firstLoad: loop.firstAttempt,
    run: () => current,
    stop: async () => {
      stopped = true;
      loop.stop();
      setServing(bound.health, [SERVICE], false);
      await shutdownServer(server);
      current?.close();
      await store.close();
    },
  };
}
