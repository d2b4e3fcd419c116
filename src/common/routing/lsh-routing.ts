/**
 * LSH routing (random-hyperplane / sign LSH, Charikar, STOC 2002): a vector's bucket code has one
 * bit per hyperplane, bit i = 1 iff <h_i, x - c> >= 0, code = Σ_i bit_i · 2^i, and its shard is
 * code mod num_dbs. The writer (assignment) and the router (query routing) call the same
 * {@link LshRouting.hashCode}, so a record always lives in the first shard its own query probes.
 *
 * Query-time multi-probe follows the query-directed probing sequence of Lv, Josephson, Wang,
 * Charikar and Li, "Multi-Probe LSH: Efficient Indexing for High-Dimensional Similarity Search",
 * VLDB 2007, section 4.3: flipping bit i costs margin_i² where margin_i = |<h_i, q - c>| / ||h_i||
 * is the query's Euclidean distance to hyperplane i; perturbation sets (sets of bits to flip) are
 * visited in increasing total cost, generated lazily with a min-heap and the shift / expand
 * operations over the bits sorted by margin. For sign LSH each bit has a single perturbation
 * (flip), so the paper's "invalid set" case (both ±1 of one hash function) cannot occur.
 *
 * Numerics: projections are accumulated in float64 in a fixed order (j = 0..dim-1, term
 * h[i, j] * (x[j] - c[j])); the bit decision uses `>= 0`, so a projection of exactly 0 (or -0)
 * gives bit 1. Hyperplanes and the centre are float32 and come from the manifest's .npy files, so
 * writer and router see identical inputs and compute identical bits.
 *
 * Balance note: when num_dbs is not a power of two, shards below 2^num_hash_bits mod num_dbs
 * receive one more code than the others (e.g. 8 codes over 5 shards: shards 0-2 get two codes
 * each, shards 3-4 one).
 */
import { ConfigValidationError, InputRecordError, InvalidQueryError } from '../errors.ts';
import { checkShardIds, rejectRoutingContext, resolveNumProbes } from './route-checks.ts';
import type { QueryToRoute, RecordToRoute, ShardRouting } from './shard-routing.ts';

/** Largest supported number of hash bits (codes must fit a 31-bit non-negative int; manifest max). */
export const MAX_LSH_HASH_BITS = 30;

/**
 * The default number of hash bits for `numDbs` shards: ceil(log2(numDbs)), at least 1, so that
 * 2^bits >= numDbs (every shard is reachable) with as few surplus codes as possible.
 * Computed with integer doubling (no floating-point log2).
 * @throws ConfigValidationError when numDbs is not an integer in 1..2^30.
 */
export function defaultNumHashBits(numDbs: number): number {
  if (!Number.isInteger(numDbs) || numDbs < 1 || numDbs > 2 ** MAX_LSH_HASH_BITS) {
    throw new ConfigValidationError(`num_dbs must be an integer in 1..${2 ** MAX_LSH_HASH_BITS} for LSH sharding, got ${numDbs}`);
  }
  let bits = 1;
  while (2 ** bits < numDbs) bits++;
  return bits;
}

/** Constructor parameters of {@link LshRouting}. */
export interface LshRoutingParams {
  /** `Float32Array` of length numHashBits * dim, row-major; row i is hyperplane normal h_i. */
  hyperplanes: Float32Array;
  /** Number of hyperplanes = bits of the code, 1..30, with 2^numHashBits >= numDbs. */
  numHashBits: number;
  /** Vector dimension. */
  dim: number;
  /** Mean-centring vector c, `Float32Array` of length dim, or null (c = 0). */
  center: Float32Array | null;
  /** Number of shards (num_dbs). */
  numDbs: number;
  /** The manifest's num_probes, used when a query asks for 0; 1..numDbs. */
  defaultNumProbes: number;
}

/** A pending perturbation set in the probing heap. */
interface PerturbationSet {
  /** Σ margin² over the set. */
  score: number;
  /** The set, as a bit mask over positions in the margin-sorted order (bit j = j-th smallest margin). */
  sortedMask: number;
  /** Largest position in the set (the one shift / expand move). */
  max: number;
}

/** Heap order: lower score first, ties by the lower sorted mask (deterministic). */
function before(a: PerturbationSet, b: PerturbationSet): boolean {
  return a.score < b.score || (a.score === b.score && a.sortedMask < b.sortedMask);
}

/** A minimal binary min-heap of perturbation sets. */
class PerturbationHeap {
  private readonly items: PerturbationSet[] = [];

  get size(): number {
    return this.items.length;
  }

  push(item: PerturbationSet): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(a[i], a[parent])) break;
      [a[i], a[parent]] = [a[parent], a[i]];
      i = parent;
    }
  }

  /** Removes and returns the minimum; the heap must not be empty. */
  pop(): PerturbationSet {
    const a = this.items;
    const top = a[0];
    const last = a.pop() as PerturbationSet;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l], a[m])) m = l;
        if (r < a.length && before(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}

/** LSH routing of one run. */
export class LshRouting implements ShardRouting {
  readonly strategy = 'lsh' as const;
  readonly numDbs: number;
  /** Number of hyperplanes (bits of the code). */
  readonly numHashBits: number;
  /** Vector dimension. */
  readonly dim: number;
  /** The manifest's default num_probes. */
  readonly defaultNumProbes: number;
  /** `Float32Array` of length numHashBits * dim (row i = h_i). */
  private readonly hyperplanes: Float32Array;
  /** `Float32Array` of length dim, or null. */
  private readonly center: Float32Array | null;
  /** ||h_i|| in float64, length numHashBits. */
  private readonly hyperplaneNorms: Float64Array;

  /**
   * @throws ConfigValidationError when numHashBits is not an integer in 1..30, dim is not a
   *   positive integer, the hyperplanes are not numHashBits * dim long or contain a non-finite
   *   value or an all-zero row, the centre is not dim long or is non-finite, numDbs is not a
   *   positive integer or exceeds 2^numHashBits, or defaultNumProbes is not in 1..numDbs.
   */
  constructor(params: LshRoutingParams) {
    const { hyperplanes, numHashBits, dim, center, numDbs, defaultNumProbes } = params;
    if (!Number.isInteger(numHashBits) || numHashBits < 1 || numHashBits > MAX_LSH_HASH_BITS) {
      throw new ConfigValidationError(`LSH num_hash_bits must be an integer in 1..${MAX_LSH_HASH_BITS}, got ${numHashBits}`);
    }
    if (!Number.isInteger(dim) || dim < 1) throw new ConfigValidationError(`LSH dim must be a positive integer, got ${dim}`);
    if (hyperplanes.length !== numHashBits * dim) {
      throw new ConfigValidationError(
        `LSH hyperplanes have ${hyperplanes.length} values; expected num_hash_bits * dim = ${numHashBits} * ${dim} = ${numHashBits * dim}`,
      );
    }
    if (center !== null && center.length !== dim) {
      throw new ConfigValidationError(`LSH center has ${center.length} values; expected dim = ${dim}`);
    }
    if (!Number.isInteger(numDbs) || numDbs < 1) throw new ConfigValidationError(`LSH num_dbs must be a positive integer, got ${numDbs}`);
    if (2 ** numHashBits < numDbs) {
      throw new ConfigValidationError(
        `LSH num_hash_bits ${numHashBits} gives ${2 ** numHashBits} codes, fewer than num_dbs ${numDbs}; use at least ${defaultNumHashBits(numDbs)} bits`,
      );
    }
    if (!Number.isInteger(defaultNumProbes) || defaultNumProbes < 1 || defaultNumProbes > numDbs) {
      throw new ConfigValidationError(`LSH default num_probes must be an integer in 1..${numDbs}, got ${defaultNumProbes}`);
    }
    const norms = new Float64Array(numHashBits);
    for (let i = 0; i < numHashBits; i++) {
      let s = 0;
      for (let j = 0; j < dim; j++) {
        const v = hyperplanes[i * dim + j];
        if (!Number.isFinite(v)) throw new ConfigValidationError(`LSH hyperplane ${i} has a non-finite value ${v} at column ${j}`);
        s += v * v;
      }
      if (s === 0) throw new ConfigValidationError(`LSH hyperplane ${i} is all zeros`);
      norms[i] = Math.sqrt(s);
    }
    if (center !== null) {
      const bad = center.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw new ConfigValidationError(`LSH center has a non-finite value ${center[bad]} at column ${bad}`);
    }
    this.hyperplanes = hyperplanes;
    this.numHashBits = numHashBits;
    this.dim = dim;
    this.center = center;
    this.numDbs = numDbs;
    this.defaultNumProbes = defaultNumProbes;
    this.hyperplaneNorms = norms;
  }

  /**
   * Projections <h_i, x - c> for every hyperplane, in float64 (fixed summation order). The single
   * place where bits are decided from; writer and router both go through it.
   * @param vector `Float32Array` of length dim (checked by the callers).
   * @returns `Float64Array` of length numHashBits.
   */
  private project(vector: Float32Array): Float64Array {
    const { dim, hyperplanes, center } = this;
    const out = new Float64Array(this.numHashBits);
    for (let i = 0; i < this.numHashBits; i++) {
      const o = i * dim;
      let s = 0;
      if (center === null) {
        for (let j = 0; j < dim; j++) s += hyperplanes[o + j] * vector[j];
      } else {
        for (let j = 0; j < dim; j++) s += hyperplanes[o + j] * (vector[j] - center[j]);
      }
      out[i] = s;
    }
    return out;
  }

  /** Code from projections: bit i set iff projection i >= 0. */
  private codeOf(projections: Float64Array): number {
    let code = 0;
    for (let i = 0; i < projections.length; i++) if (projections[i] >= 0) code += 2 ** i;
    return code;
  }

  private checkDim(vector: Float32Array, what: string): void {
    if (vector.length !== this.dim) throw new InvalidQueryError(`${what} has dimension ${vector.length}; this snapshot has dim ${this.dim}`);
  }

  /**
   * The bucket code Σ_i bit_i · 2^i (0..2^numHashBits - 1), bit_i = 1 iff <h_i, x - c> >= 0.
   * @param vector `Float32Array` of length dim.
   * @throws InvalidQueryError when the length is not dim.
   */
  hashCode(vector: Float32Array): number {
    this.checkDim(vector, 'vector');
    return this.codeOf(this.project(vector));
  }

  /**
   * The shard of `record.vector`: hashCode mod numDbs.
   * @throws InputRecordError naming `record.location` when the vector's length is not dim.
   */
  assign(record: RecordToRoute): number {
    if (record.vector.length !== this.dim) {
      throw new InputRecordError(record.location, `vector has dimension ${record.vector.length}; the LSH hyperplanes have dim ${this.dim}`);
    }
    return this.codeOf(this.project(record.vector)) % this.numDbs;
  }

  /**
   * Caller-named shards when `query.shardIds` is non-empty (validated, caller's order); otherwise
   * the first `num_probes` (0 = manifest default) shards of {@link probeSequence}, home shard first.
   * @throws InvalidQueryError for a bad or repeated shard id, num_probes > num_dbs or negative,
   *   or a query whose length is not dim.
   */
  route(query: QueryToRoute): number[] {
    rejectRoutingContext(query.routingContext, 'lsh');
    if (query.shardIds.length > 0) return checkShardIds(query.shardIds, this.numDbs);
    const probes = resolveNumProbes(query.numProbes, this.defaultNumProbes, this.numDbs);
    return this.probeSequence(query.vector, probes);
  }

  /**
   * The first `numShards` distinct shards in query-directed multi-probe order (Lv et al., VLDB
   * 2007, §4.3): the home bucket's shard, then the shards of the codes obtained by flipping the
   * perturbation sets of bits in non-decreasing Σ margin_i², margin_i = |<h_i, q - c>| / ||h_i||.
   *
   * Generation: bits are sorted by margin ascending (ties by bit index) into positions
   * 0..B-1; the heap starts with {0}; each pop yields a set A, and pushes shift(A) (replace
   * max(A) by max(A)+1) and expand(A) (add max(A)+1) when max(A)+1 < B. Every non-empty subset
   * of positions has exactly one parent under these operations, so each is generated exactly
   * once, and since the sorted costs are non-negative and non-decreasing a child never costs
   * less than its parent, so pops come out in non-decreasing cost. Ties are broken by the lower
   * position mask.
   *
   * Termination: the home code plus all 2^B - 1 non-empty sets enumerate every code
   * 0..2^B - 1 exactly once, and since numDbs <= 2^B, code s maps to shard s for every
   * s < numDbs: all shards are reachable, so numShards <= numDbs distinct shards are always
   * found. (Codes that map to an already returned shard are skipped; when numDbs is much smaller
   * than 2^B with many shared low bits, e.g. numDbs = 2^20 with B = 30, finding all shards can
   * take many pops, but routing asks for few probes.)
   *
   * @param vector the query, `Float32Array` of length dim.
   * @param numShards how many distinct shards to return, 1..numDbs.
   * @returns distinct shard ids, best first, length numShards.
   * @throws InvalidQueryError when the vector's length is not dim or numShards is out of range.
   */
  probeSequence(vector: Float32Array, numShards: number): number[] {
    this.checkDim(vector, 'query');
    if (!Number.isInteger(numShards) || numShards < 1 || numShards > this.numDbs) {
      throw new InvalidQueryError(`number of shards to probe must be an integer in 1..${this.numDbs}, got ${numShards}`);
    }
    const proj = this.project(vector);
    const home = this.codeOf(proj);
    const out: number[] = [home % this.numDbs];
    if (numShards === 1) return out;
    const seen = new Set<number>(out);

    const bits = this.numHashBits;
    const cost = new Float64Array(bits);
    for (let i = 0; i < bits; i++) {
      const margin = Math.abs(proj[i]) / this.hyperplaneNorms[i];
      cost[i] = margin * margin;
    }
    const order = Array.from({ length: bits }, (_, i) => i);
    order.sort((a, b) => cost[a] - cost[b] || a - b);
    const sortedCost = Float64Array.from(order, (i) => cost[i]);
    /** Σ cost over a set, summed in ascending position order (same value for the same set). */
    const scoreOf = (sortedMask: number): number => {
      let s = 0;
      for (let p = 0; p < bits; p++) if (sortedMask & (1 << p)) s += sortedCost[p];
      return s;
    };
    /** The code obtained by flipping the bits of a set. */
    const codeOf = (sortedMask: number): number => {
      let flip = 0;
      for (let p = 0; p < bits; p++) if (sortedMask & (1 << p)) flip |= 1 << order[p];
      return (home ^ flip) >>> 0;
    };

    const heap = new PerturbationHeap();
    heap.push({ score: sortedCost[0], sortedMask: 1, max: 0 });
    while (out.length < numShards && heap.size > 0) {
      const set = heap.pop();
      const shard = codeOf(set.sortedMask) % this.numDbs;
      if (!seen.has(shard)) {
        seen.add(shard);
        out.push(shard);
      }
      const next = set.max + 1;
      if (next < bits) {
        const shifted = (set.sortedMask & ~(1 << set.max)) | (1 << next);
        heap.push({ score: scoreOf(shifted), sortedMask: shifted, max: next });
        const expanded = set.sortedMask | (1 << next);
        heap.push({ score: scoreOf(expanded), sortedMask: expanded, max: next });
      }
    }
    return out;
  }
}
