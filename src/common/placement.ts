/**
 * Placement of shards on shard nodes: rendezvous (highest-random-weight) hashing with a
 * bounded-load cap and replication factor R.
 *
 * Sources: Thaler & Ravishankar, "Using name-based mappings to increase hit rates", IEEE/ACM ToN
 * 1998 (rendezvous hashing); Mirrokni, Thorup & Zadimoghaddam, "Consistent Hashing with Bounded
 * Loads", SODA 2018 (the load cap).
 *
 * The result is a pure, deterministic function of (shard ids, node ids, R, load factor): every
 * router and node computes the same owners with no coordination. The hash is xxh3-64 with a fixed
 * seed (never Math.random), so processes and versions agree. When a node joins or leaves, only the
 * shards whose top-R set changes (plus the few pushed by the cap) move.
 */
import { xxh3 } from '@node-rs/xxhash';
import { ConfigValidationError } from './errors.ts';

/** Options of {@link placeShards}. */
export interface PlacementOptions {
  /** Replicas per shard, R >= 1; clamped to the number of nodes. */
  replication: number;
  /**
   * Bounded-load factor c >= 1: no node holds more than ceil(c * shards * R / nodes) replicas.
   * Default 1.25.
   */
  loadFactor?: number;
}

/** Owners of each shard: db id -> node ids, preferred replica first. */
export type Placement = Map<number, string[]>;

/** The rendezvous weight of (shard, node): xxh3-64 of `"<dbId>/<nodeId>"`, seed 0. */
export function rendezvousWeight(dbId: number, nodeId: string): bigint {
  return xxh3.xxh64(`${dbId}/${nodeId}`, 0n);
}

/**
 * Places every shard on R distinct nodes.
 * Shards are processed in ascending id; each takes its R highest-weight nodes among those below
 * the load cap. Nodes are deduplicated; their order in the input does not matter.
 * @param dbIds shard ids (non-negative integers).
 * @param nodeIds node ids (names in the placement, e.g. `node-0` or `10.0.0.5:7001`).
 * @throws ConfigValidationError when there is no node, R < 1 or loadFactor < 1.
 */
export function placeShards(dbIds: readonly number[], nodeIds: readonly string[], options: PlacementOptions): Placement {
  const nodes = [...new Set(nodeIds)].sort();
  if (nodes.length === 0) throw new ConfigValidationError('placement needs at least one shard node');
  if (!Number.isInteger(options.replication) || options.replication < 1) {
    throw new ConfigValidationError(`replication factor must be an integer >= 1, got ${options.replication}`);
  }
  const loadFactor = options.loadFactor ?? 1.25;
  if (!(loadFactor >= 1)) throw new ConfigValidationError(`placement load factor must be >= 1, got ${loadFactor}`);
  const replication = Math.min(options.replication, nodes.length);
  const shards = [...new Set(dbIds)].sort((a, b) => a - b);
  const cap = Math.max(1, Math.ceil((loadFactor * shards.length * replication) / nodes.length));
  const load = new Map<string, number>(nodes.map((n) => [n, 0]));
  const placement: Placement = new Map();
  for (const dbId of shards) {
    const ranked = nodes
      .map((node) => ({ node, weight: rendezvousWeight(dbId, node) }))
      .sort((a, b) => (a.weight === b.weight ? (a.node < b.node ? -1 : 1) : a.weight > b.weight ? -1 : 1));
    const owners: string[] = [];
    for (const { node } of ranked) {
      if (owners.length === replication) break;
      const used = load.get(node) ?? 0;
      if (used >= cap) continue;
      owners.push(node);
      load.set(node, used + 1);
    }
    placement.set(dbId, owners);
  }
  return placement;
}

/** The shards (ascending) that `nodeId` holds a replica of in `placement`. */
export function shardsOfNode(placement: Placement, nodeId: string): number[] {
  const out: number[] = [];
  for (const [dbId, owners] of placement) if (owners.includes(nodeId)) out.push(dbId);
  return out.sort((a, b) => a - b);
}
