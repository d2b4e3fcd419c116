/**
 * The router process: a gRPC `Router` service. It loads the current snapshot (manifest,
 * routing function, placement over the static node list) and answers `Search` and `SnapshotInfo`.
 * Health is SERVING once a snapshot is loaded; until then Search fails with FAILED_PRECONDITION
 * and the router retries loading every `pollIntervalMs`.
 */
import type * as grpc from '@grpc/grpc-js';
import { ReaderStateError, errorMessage } from '../common/errors.ts';
import { bindServer, newServer, setServing, shutdownServer } from '../common/grpc-server.ts';
import { toServiceError } from '../common/grpc-status.ts';
import { startLoadLoop } from '../common/load-retry.ts';
import type { ReaderProcessConfig } from '../common/reader-config.ts';
import { loadRouterProto } from '../common/proto.ts';
import type { SearchRequest__Output } from '../common/proto-gen/shardfleet/v1/SearchRequest.ts';
import type { SearchResponse } from '../common/proto-gen/shardfleet/v1/SearchResponse.ts';
import type { SnapshotInfoResponse } from '../common/proto-gen/shardfleet/v1/SnapshotInfoResponse.ts';
import { NodePool } from './node-pool.ts';
import { loadRouterSnapshot, type RouterSnapshot } from './router-snapshot.ts';
import { search } from './search-service.ts';

const SERVICE = 'shardfleet.v1.Router';

/** Router configuration. */
export interface RouterConfig extends ReaderProcessConfig {
  /** Deadline applied to calls that carry none, ms (default 10,000). */
  defaultTimeoutMs?: number;
}

/** A running router. */
export interface RouterHandle {
  address: string;
  /** Resolves once the first load attempt finished. */
  firstLoad: Promise<void>;
  snapshot(): RouterSnapshot | undefined;
  stop(): Promise<void>;
}

/** Starts a router. @throws ConfigValidationError when `listen` is malformed. */
export async function startRouter(config: RouterConfig): Promise<RouterHandle> {
  const { store, log } = config;
  const pool = new NodePool(config.nodes);
  let current: RouterSnapshot | undefined;
  let lastLoadError = 'not loaded yet';
  const requireSnapshot = (): RouterSnapshot => {
    if (!current) throw new ReaderStateError(`router has no snapshot loaded from ${store.url}: ${lastLoadError}`);
    return current;
  };
  const deadlineOf = (call: grpc.ServerUnaryCall<unknown, unknown>): number => {
    const d = call.getDeadline();
    const ms = d instanceof Date ? d.getTime() : Number(d);
    return Number.isFinite(ms) ? ms : Date.now() + (config.defaultTimeoutMs ?? 10_000);
  };

  const server = newServer();
  server.addService(loadRouterProto().shardfleet.v1.Router.service, {
    Search: (call: grpc.ServerUnaryCall<SearchRequest__Output, SearchResponse>, callback: grpc.sendUnaryData<SearchResponse>) => {
      Promise.resolve()
        .then(() => search(requireSnapshot(), pool, call.request, deadlineOf(call)))
        .then(
          (res) => callback(null, res),
          (err) => {
            log.debug({ err: errorMessage(err) }, 'search failed');
            callback(toServiceError(err));
          },
        );
    },
    SnapshotInfo: (_call: grpc.ServerUnaryCall<unknown, SnapshotInfoResponse>, callback: grpc.sendUnaryData<SnapshotInfoResponse>) => {
      try {
        const s = requireSnapshot();
        const m = s.manifest;
        callback(null, {
          run_id: m.run_id,
          manifest_ref: s.manifestKey,
          published_at: s.publishedAt,
          dim: m.index.dim,
          metric: m.index.metric,
          backend: m.index.backend,
          strategy: m.sharding.strategy,
          num_dbs: m.sharding.num_dbs,
          default_num_probes: m.sharding.num_probes,
          total_vectors: m.build_stats.total_vectors,
          store_url: store.url,
          index_type: m.index.index_type,
          cel_expr: m.sharding.strategy === 'cel' ? m.sharding.cel_expr : '',
          cel_columns: m.sharding.strategy === 'cel' ? m.sharding.cel_columns : {},
        });
      } catch (err) {
        callback(toServiceError(err));
      }
    },
  });
  const bound = await bindServer(server, config.listen, [SERVICE]);
  log.info({ address: bound.address, nodes: config.nodes }, 'router listening');

  const loadOnce = async (): Promise<boolean> => {
    try {
      const snapshot = await loadRouterSnapshot(store, pool.nodeIds, config.replication, log);
      current = snapshot;
      setServing(bound.health, [SERVICE], true);
      log.info({ run_id: snapshot.manifest.run_id, num_dbs: snapshot.manifest.sharding.num_dbs }, 'router serving');
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
    snapshot: () => current,
    stop: async () => {
      loop.stop();
      setServing(bound.health, [SERVICE], false);
      await shutdownServer(server);
      pool.close();
      await store.close();
    },
  };
}
