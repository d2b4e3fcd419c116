/**
 * The routing function of a shardyfusion snapshot (issue 21, "Routing parity"): a
 * {@link ShardRouting} that sends each query to exactly the shards shardyfusion's reader would,
 * in the same order, and assigns each record to the shard shardyfusion's writer did.
 *
 * | strategy | class | shardyfusion source (b5ad9a1) |
 * |---|---|---|
 * | cluster | {@link ShardyfusionClusterRouting} | vector/sharding.py:13-101 |
 * | lsh | {@link ShardyfusionLshRouting} | vector/sharding.py:173-251 |
 * | explicit | {@link ShardyfusionExplicitRouting} | vector/sharding.py:275-294 |
 * | cel | {@link ShardyfusionCelRouting} | cel.py, vector/sharding.py:296-311, routing.py:311-400 |
 * | hash | shardfleet's HashRouting (the same rule) | routing.py:41-156 |
 */
import { ConfigValidationError } from '../../common/errors.ts';
import { HashRouting } from '../../common/routing/key-hash-routing.ts';
import type { RoutingSource } from '../../common/routing/load-routing.ts';
import type { ShardRouting } from '../../common/routing/shard-routing.ts';
import { loadVectorMeta } from '../../common/routing/vector-meta.ts';
import type { ObjectStore } from '../../common/storage/object-store.ts';
import { ShardyfusionCelRouting, decodeShardyfusionRoutingValues } from './cel-routing.ts';
import { ShardyfusionClusterRouting } from './cluster-routing.ts';
import { ShardyfusionExplicitRouting } from './explicit-routing.ts';
import { ShardyfusionLshRouting } from './lsh-routing.ts';

export { ShardyfusionCelRouting, decodeShardyfusionRoutingValues } from './cel-routing.ts';
export { ShardyfusionClusterRouting } from './cluster-routing.ts';
export { ShardyfusionExplicitRouting } from './explicit-routing.ts';
export { ShardyfusionLshRouting } from './lsh-routing.ts';

/** What the translated Manifest does not carry but shardyfusion's routing needs. */
export interface ShardyfusionRoutingOptions {
  /**
   * CEL: `routing_values` exactly as the shardyfusion manifest's JSON holds them (ints, strings,
   * `{"__bytes_hex__": hex}`), from `custom.vector.routing_values` (vector) or `build_meta.sharding`
   * (KV). When absent, `source.sharding.routing_values` is used (it cannot hold bytes tokens).
   */
  celRoutingValues?: unknown;
  /** True for a unified KV+vector snapshot: CEL searches without routing context go to every shard. */
  unified?: boolean;
}

/**
 * Builds the routing of a shardyfusion run from its translated manifest: reads centroids.npy /
 * hyperplanes.npy through the sharding spec's refs (size and npy shape checked; no sha256, which
 * shardyfusion does not record) and builds the class of `source.sharding.strategy`.
 * @param store the store rooted at the snapshot prefix (refs are relative to it).
 * @param source run_id, index (dim, metric) and sharding (num_dbs, num_probes, refs,
 *   num_hash_bits, cel_expr / cel_columns / routing_values) of the translated manifest.
 * @throws ConfigValidationError for an LSH spec with a centre (shardyfusion never centres), a CEL
 *   expression that does not compile or bad routing_values; ShardIntegrityError /
 *   ManifestParseError when a metadata array's size or shape does not match the manifest;
 *   ObjectNotFoundError / StorageError from the store.
 */
export async function loadShardyfusionRouting(store: ObjectStore, source: RoutingSource, options: ShardyfusionRoutingOptions = {}): Promise<ShardRouting> {
  const { sharding, index, run_id: runId } = source;
  switch (sharding.strategy) {
    case 'cluster': {
      const centroids = await loadVectorMeta(store, sharding.centroids, [sharding.num_dbs, index.dim], runId);
      return new ShardyfusionClusterRouting(centroids, index.dim, index.metric, sharding.num_probes);
    }
    case 'lsh': {
      if (sharding.center !== null) {
        throw new ConfigValidationError(`shardyfusion run ${runId}: LSH sharding has a centre ${sharding.center.ref}, but shardyfusion never centres before projecting`);
      }
      const hyperplanes = await loadVectorMeta(store, sharding.hyperplanes, [sharding.num_hash_bits, index.dim], runId);
      return new ShardyfusionLshRouting({ hyperplanes, numHashBits: sharding.num_hash_bits, dim: index.dim, numDbs: sharding.num_dbs, defaultNumProbes: sharding.num_probes });
    }
    case 'explicit':
      return new ShardyfusionExplicitRouting(sharding.num_dbs);
    case 'cel':
      return ShardyfusionCelRouting.compile({
        celExpr: sharding.cel_expr,
        celColumns: sharding.cel_columns,
        routingValues: decodeShardyfusionRoutingValues(options.celRoutingValues !== undefined ? options.celRoutingValues : sharding.routing_values),
        numDbs: sharding.num_dbs,
        unified: options.unified ?? false,
      });
    case 'hash':
      return new HashRouting(sharding.num_dbs);
  }
}
