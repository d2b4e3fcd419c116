/**
 * Builds a run's {@link ShardRouting} from its manifest: reads and verifies the routing metadata
 * arrays the sharding spec references, and compiles (type-checks) a CEL expression. A
 * shardyfusion snapshot routes by shardyfusion's rules (src/formats/shardyfusion/routing.ts). Routers and
 * the distributed writer's workers call this, so every process routes with the same function.
 */
import type { Manifest } from '../manifest.ts';
import { ManifestParseError } from '../errors.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { CelRouting } from './cel-routing.ts';
import { ClusterRouting } from './cluster-shard-routing.ts';
import { ExplicitRouting } from './explicit-routing.ts';
import { HashRouting } from './key-hash-routing.ts';
import { LshRouting } from './lsh-routing.ts';
import type { ShardRouting } from './shard-routing.ts';
import { loadVectorMeta } from './vector-meta.ts';
import { loadShardyfusionRouting } from '../../formats/shardyfusion/routing.ts';

/**
 * The parts of a manifest routing depends on (a manifest, or a distributed build's plan); `format`
 * and `kv` only matter for a shardyfusion snapshot, whose routing rules are shardyfusion's.
 */
export type RoutingSource = Pick<Manifest, 'run_id' | 'index' | 'sharding'> & Partial<Pick<Manifest, 'format' | 'kv'>>;

/**
 * Loads the routing function of a run.
 * @throws ShardIntegrityError / ManifestParseError when a metadata array does not match the
 *   manifest; ConfigValidationError when a CEL expression does not compile or type-check;
 *   ObjectNotFoundError / StorageError from the store.
 */
export async function loadShardRouting(store: ObjectStore, source: RoutingSource): Promise<ShardRouting> {
  if (source.format === 'shardyfusion') return loadShardyfusionRouting(store, source, { unified: source.kv !== undefined });
  const { sharding, index, run_id: runId } = source;
  switch (sharding.strategy) {
    case 'cluster': {
      const centroids = await loadVectorMeta(store, sharding.centroids, [sharding.num_dbs, index.dim], runId);
      const offsets = sharding.centroid_offsets;
      if (offsets !== undefined && offsets.length !== sharding.num_dbs) {
        throw new ManifestParseError(`run ${runId}: sharding.centroid_offsets has ${offsets.length} values for ${sharding.num_dbs} shards`);
      }
      return new ClusterRouting(centroids, index.dim, index.metric, sharding.num_probes, offsets);
    }
    case 'lsh': {
      const hyperplanes = await loadVectorMeta(store, sharding.hyperplanes, [sharding.num_hash_bits, index.dim], runId);
      const center = sharding.center ? await loadVectorMeta(store, sharding.center, [index.dim], runId) : null;
      return new LshRouting({
        hyperplanes,
        numHashBits: sharding.num_hash_bits,
        dim: index.dim,
        center,
        numDbs: sharding.num_dbs,
        defaultNumProbes: sharding.num_probes,
      });
    }
    case 'explicit':
      return new ExplicitRouting(sharding.num_dbs);
    case 'cel':
      return CelRouting.compile({
        celExpr: sharding.cel_expr,
        celColumns: sharding.cel_columns,
        routingValues: sharding.routing_values,
        numDbs: sharding.num_dbs,
      });
    case 'hash':
      return new HashRouting(sharding.num_dbs);
  }
}
