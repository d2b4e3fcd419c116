/**
 * Placement of shards on shard nodes: rendezvous (highest-random-weight) hashing with a
 * bounded-load cap and replication factor R.
 *
 * Sources: Thaler & Ravishankar, "Using name-based mappings to increase hit rates", IEEE/ACM ToN
 * 1998 (rendezvous hashing); Mirrokni, Thorup & Zadimoghaddam, "Consistent Hashing with Bounded
 * Loads", SODA 2018 (the load cap).
 *
 * The result is a pure, deterministic function of (shard ids, node ids, R, load factor, shard
 * bytes): every router and node computes the same owners with no coordination. The hash is xxh3-64
 * with a fixed seed (never Math.random), so processes and versions agree. When a node joins or
 * leaves, only the shards whose top-R set changes (plus the few pushed by the cap) move.
 *
 * Two load measures: without `bytes` every replica counts 1 (the cap is in replicas); with
 * `bytes` (the manifest's shard sizes, see {@link shardBytesOf}) the cap is in bytes, so a node
 * holds about its share of the data however uneven the shards are. Weighted placement takes the
 * shards largest first (ties by id), each on its R highest-weight nodes that stay within the cap,
 * and, when fewer than R nodes have room, on the least-loaded of the others (largest-first
 * list scheduling: Graham, "Bounds on multiprocessing timing anomalies", SIAM J. Appl. Math.
 * 1969): with R = 1 the fullest node holds at most max(c x ideal, ideal + largest shard) bytes,
 * (ideal = total bytes * R / nodes); with R > 1 a fallback replica goes to the least-loaded node
 * that does not hold the shard yet, a weaker guarantee (bounded by nodes / (nodes - R + 1) times
 * that) but in practice as tight (test/placement.test.ts, bench/placement-bytes.ts).
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
  /**
   * Bytes of each shard (db id -> bytes, e.g. {@link shardBytesOf} of the manifest): the cap then
   * counts bytes, c * (total bytes * R / nodes), and the default load factor is
   * {@link DEFAULT_BYTES_LOAD_FACTOR}. A shard missing from the map weighs 0. Absent: every
   * replica counts 1.
   */
  bytes?: ReadonlyMap<number, number>;
  /**
   * The collection the shards belong to, in a catalog of several (issue 24): the rendezvous
   * weights are then keyed by (collection, db id) ({@link rendezvousWeight}), so shard 0 of every
   * collection does not land on the same nodes. Unset (single-collection mode): today's weights,
   * so an existing cluster places exactly as before.
   */
  collection?: string;
}

/** Default load factor of byte-weighted placement (see the README's placement notes and test/placement.test.ts). */
export const DEFAULT_BYTES_LOAD_FACTOR = 1.1;

/** Owners of each shard: db id -> node ids, preferred replica first. */
export type Placement = Map<number, string[]>;

/**
 * The rendezvous weight of (shard, node): xxh3-64 of `"<dbId>/<nodeId>"`, seed 0; of a shard of
 * collection `collection` (catalog mode): xxh3-64 of `"<collection>\u0000<dbId>/<nodeId>"` (NUL
 * never occurs in a collection name, so no two inputs collide).
 */
export function rendezvousWeight(dbId: number, nodeId: string, collection?: string): bigint {
  return xxh3.xxh64(collection === undefined ? `${dbId}/${nodeId}` : `${collection}\u0000${dbId}/${nodeId}`, 0n);
}

/**
 * Places every shard on R distinct nodes.
 * Shards are processed in ascending id; each takes its R highest-weight nodes among those below
 * the load cap; if fewer than R are below it, a full node's earlier replica is moved to make room
 * (see {@link borrowSlot}). Nodes are deduplicated; their order in the input does not matter.
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
  if (options.loadFactor !== undefined && !(options.loadFactor >= 1)) throw new ConfigValidationError(`placement load factor must be >= 1, got ${options.loadFactor}`);
  const replication = Math.min(options.replication, nodes.length);
  const shards = [...new Set(dbIds)].sort((a, b) => a - b);
  if (options.bytes !== undefined) {
    for (const [dbId, b] of options.bytes) {
      if (!(Number.isFinite(b) && b >= 0)) throw new ConfigValidationError(`shard ${dbId}: bytes must be a finite number >= 0, got ${b}`);
    }
    const weights = shards.map((dbId) => options.bytes?.get(dbId) ?? 0);
    if (weights.some((w) => w > 0)) return placeWeighted(shards, weights, nodes, replication, options.loadFactor ?? DEFAULT_BYTES_LOAD_FACTOR, options.collection);
    // Every shard weighs 0 (all empty or sizes unknown): count replicas instead.
  }
  const loadFactor = options.loadFactor ?? 1.25;
  const cap = Math.max(1, Math.ceil((loadFactor * shards.length * replication) / nodes.length));
  const load = new Map<string, number>(nodes.map((n) => [n, 0]));
  const placement: Placement = new Map();
  for (const dbId of shards) {
    const ranked = nodes
      .map((node) => ({ node, weight: rendezvousWeight(dbId, node, options.collection) }))
      .sort((a, b) => (a.weight === b.weight ? (a.node < b.node ? -1 : 1) : a.weight > b.weight ? -1 : 1));
    const owners: string[] = [];
    for (const { node } of ranked) {
      if (owners.length === replication) break;
      const used = load.get(node) ?? 0;
      if (used >= cap) continue;
      owners.push(node);
      load.set(node, used + 1);
    }
    // The greedy pass can leave a shard short when every node it lacks is already full (e.g.
    // 3 shards, 3 nodes, R = 2, c = 1). Then take a slot from a full node by moving one of that
    // node's earlier replicas to a node below the cap. Such a move always exists while
    // nodes * cap >= shards * R: an under-cap node (it is an owner of this shard already) cannot
    // hold every shard a full node holds, or its load would exceed the cap.
    for (const { node: full } of ranked) {
      if (owners.length === replication) break;
      if (owners.includes(full)) continue;
      borrowSlot(placement, load, cap, full, nodes, options.collection);
      owners.push(full); // `full` gave one replica away and takes this one: its load is unchanged
    }
    placement.set(dbId, owners);
  }
  return placement;
}

/** Nodes ranked for a shard: rendezvous weight descending, ties by node id. */
function rankNodes(dbId: number, nodes: readonly string[], collection: string | undefined): string[] {
  return nodes
    .map((node) => ({ node, weight: rendezvousWeight(dbId, node, collection) }))
    .sort((a, b) => (a.weight === b.weight ? (a.node < b.node ? -1 : 1) : a.weight > b.weight ? -1 : 1))
    .map((x) => x.node);
}

/**
 * Byte-weighted placement (see the module comment). `shards` ascending, `weights[i]` the bytes of
 * `shards[i]`, `nodes` sorted and distinct, 1 <= replication <= nodes. The result iterates in
 * ascending shard id like the unweighted one.
 */
function placeWeighted(
  shards: readonly number[],
  weights: readonly number[],
  nodes: readonly string[],
  replication: number,
  loadFactor: number,
  collection: string | undefined,
): Placement {
  const total = weights.reduce((a, b) => a + b, 0);
  const cap = (loadFactor * total * replication) / nodes.length;
  const load = new Map<string, number>(nodes.map((n) => [n, 0]));
  const order = shards.map((_, i) => i).sort((a, b) => weights[b] - weights[a] || shards[a] - shards[b]);
  const owned = new Map<number, string[]>();
  for (const i of order) {
    const w = weights[i];
    const ranked = rankNodes(shards[i], nodes, collection);
    const owners: string[] = [];
    for (const node of ranked) {
      if (owners.length === replication) break;
      if ((load.get(node) ?? 0) + w <= cap) owners.push(node);
    }
    // Fewer than R nodes have room: the least-loaded others (ties by rank), which keeps the fullest
    // node within the largest-first list-scheduling bound.
    while (owners.length < replication) {
      let pick: string | undefined;
      for (const node of ranked) {
        if (owners.includes(node)) continue;
        if (pick === undefined || (load.get(node) ?? 0) < (load.get(pick) ?? 0)) pick = node;
      }
      owners.push(pick!);
    }
    for (const node of owners) load.set(node, (load.get(node) ?? 0) + w);
    owned.set(shards[i], owners);
  }
  return new Map(shards.map((dbId) => [dbId, owned.get(dbId)!]));
}

/** What placement reads of a manifest's shard entry: its id, vector count and file sizes in bytes. */
export interface ShardSizes {
  db_id: number;
  vector_count: number;
  files: readonly { bytes: number }[];
}

/**
 * Bytes per shard of a manifest, for {@link placeShards}' `bytes`: the sum of each shard's file
 * sizes. A non-empty shard whose files give no size (0 bytes) is estimated from its vector count
 * at the mean bytes per vector of the shards whose sizes are known (or, when none is known, weighs
 * its vector count); an empty shard weighs 0. When every shard then weighs 0, placeShards counts
 * replicas instead.
 */
export function shardBytesOf(shards: readonly ShardSizes[]): Map<number, number> {
  const sizes = shards.map((s) => s.files.reduce((a, f) => a + f.bytes, 0));
  let knownBytes = 0;
  let knownVectors = 0;
  shards.forEach((s, i) => {
    if (sizes[i] > 0 && s.vector_count > 0) {
      knownBytes += sizes[i];
      knownVectors += s.vector_count;
    }
  });
  const perVector = knownVectors > 0 ? knownBytes / knownVectors : 1;
  return new Map(shards.map((s, i) => [s.db_id, sizes[i] > 0 ? sizes[i] : Math.round(s.vector_count * perVector)]));
}

/**
 * Placement of a run's shards over `nodeIds` as every router and node computes it: rendezvous with
 * the load cap in bytes, the bytes being {@link shardBytesOf} of the manifest's shards (R =
 * `replication`). Benches and tests that predict owners use it to get the same answer.
 *
 * Several collections (issue 24): each collection's run is placed on its own, keyed by
 * (`collection`, db id). Each placement bounds every node's bytes of that collection by the cap
 * above (c x that collection's mean bytes per node, or the list-scheduling bound when one shard is
 * larger than that), so summed over collections every node holds at most c x the mean of all
 * collections' bytes (plus, per collection, at most its largest shard where that bound applies):
 * bounded load by bytes across collections without placing them jointly, and one collection's
 * swap never moves another's shards. test/collection-placement.test.ts measures the fullest node
 * over the mean for collections of different sizes.
 * @param manifest the run's manifest (only `shards` is read).
 * @param collection the collection in catalog mode; unset in single-collection mode (today's placement).
 * @returns db id -> owners, preferred first; an empty placement when `nodeIds` is empty (every
 *   shard then has no replica).
 * @throws ConfigValidationError for a replication factor < 1.
 */
export function placeRun(manifest: { shards: readonly ShardSizes[] }, nodeIds: readonly string[], replication: number, collection?: string): Placement {
  if (nodeIds.length === 0) return new Map();
  return placeShards(
    manifest.shards.map((s) => s.db_id),
    nodeIds,
    { replication, bytes: shardBytesOf(manifest.shards), ...(collection === undefined ? {} : { collection }) },
  );
}

/**
 * Moves one replica held by the full node `full` (earliest shard first) to the highest-weight node
 * below `cap` that does not already own that shard, keeping the replica's position in the owner
 * list. Deterministic. Callers guarantee such a move exists.
 */
function borrowSlot(placement: Placement, load: Map<string, number>, cap: number, full: string, nodes: readonly string[], collection: string | undefined): void {
  for (const [dbId, owners] of placement) {
    const at = owners.indexOf(full);
    if (at < 0) continue;
    let best: { node: string; weight: bigint } | undefined;
    for (const node of nodes) {
      if ((load.get(node) ?? 0) >= cap || owners.includes(node)) continue;
      const weight = rendezvousWeight(dbId, node, collection);
      if (best === undefined || weight > best.weight) best = { node, weight };
    }
    if (best === undefined) continue;
    owners[at] = best.node;
    load.set(best.node, (load.get(best.node) ?? 0) + 1);
    return;
  }
  throw new Error(`placement invariant violated: no replica of ${full} can move below the load cap`);
}

/** The shards (ascending) that `nodeId` holds a replica of in `placement`. */
export function shardsOfNode(placement: Placement, nodeId: string): number[] {
  const out: number[] = [];
  for (const [dbId, owners] of placement) if (owners.includes(nodeId)) out.push(dbId);
  return out.sort((a, b) => a - b);
}
