/**
 * shardyfusion's LSH routing (shardyfusion/vector/sharding.py at b5ad9a1), as a shardfleet
 * {@link ShardRouting}. It differs from shardfleet's native LSH (src/common/routing/lsh-routing.ts)
 * in three ways: no mean-centring, bit i is set only when the projection is strictly positive
 * (`> 0`, not `>= 0`), and multi-probe flips single bits in index order instead of following the
 * query-directed (margin-ordered) probing sequence.
 *
 * - projections p_i = H_i · x, a float32 sgemv (`hyperplanes @ vector`, :184-190): computed here as
 *   the exact products accumulated in float64; only the sign is used, so the result can differ from
 *   numpy's only when |p_i| is within a few float32 ulps of 0 (float32-math.ts);
 * - bit i = p_i > 0; code = Σ bit_i << i (:186-190); shard = code % num_dbs (`lsh_assign`, :193-203);
 * - probes (`lsh_probe_shards`, :223-251): the home shard, then for bit = 0, 1, 2, ... the shard of
 *   `code ^ (1 << bit)` unless already listed, stopping once num_probes shards are listed. Only the
 *   shards reachable by one flip are ever probed: with num_dbs 4 and 8 bits, bits 2..7 do not change
 *   code % 4, so at most 3 shards are probed however large num_probes is.
 */
import { ConfigValidationError, InputRecordError } from '../../common/errors.ts';
import { checkShardIds, rejectRoutingContext } from '../../common/routing/route-checks.ts';
import type { QueryToRoute, RecordToRoute, ShardRouting } from '../../common/routing/shard-routing.ts';
import { checkQueryDim, shardyfusionProbeCount } from './probes.ts';

/** shardyfusion's default number of hash bits (shardyfusion/vector/config.py:58). */
export const SHARDYFUSION_DEFAULT_HASH_BITS = 8;

/** Constructor parameters of {@link ShardyfusionLshRouting}. */
export interface ShardyfusionLshParams {
  /** hyperplanes.npy: `Float32Array` of length numHashBits * dim, row i = H_i. */
  hyperplanes: Float32Array;
  /** Rows of `hyperplanes` (the manifest's `num_hash_bits`, default 8), >= 1. */
  numHashBits: number;
  /** Vector dimension. */
  dim: number;
  /** Number of shards (num_dbs), >= 1. */
  numDbs: number;
  /** The manifest's num_probes (`custom.vector.num_probes`), >= 1. */
  defaultNumProbes: number;
}

/** shardyfusion's LSH routing of one run. */
export class ShardyfusionLshRouting implements ShardRouting {
  readonly strategy = 'lsh' as const;
  readonly numDbs: number;
  readonly numHashBits: number;
  readonly dim: number;
  readonly defaultNumProbes: number;
  private readonly hyperplanes: Float32Array;
  private readonly numDbsBig: bigint;

  /**
   * @throws ConfigValidationError when numHashBits, dim, numDbs or defaultNumProbes is not a
   *   positive integer, or the hyperplanes are not numHashBits * dim long.
   */
  constructor(params: ShardyfusionLshParams) {
    const { hyperplanes, numHashBits, dim, numDbs, defaultNumProbes } = params;
    for (const [name, v] of [['num_hash_bits', numHashBits], ['dim', dim], ['num_dbs', numDbs], ['num_probes', defaultNumProbes]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new ConfigValidationError(`shardyfusion LSH: ${name} must be a positive integer, got ${v}`);
    }
    if (hyperplanes.length !== numHashBits * dim) {
      throw new ConfigValidationError(
        `shardyfusion LSH: hyperplanes have ${hyperplanes.length} values; expected num_hash_bits * dim = ${numHashBits} * ${dim} = ${numHashBits * dim}`,
      );
    }
    this.hyperplanes = hyperplanes;
    this.numHashBits = numHashBits;
    this.dim = dim;
    this.numDbs = numDbs;
    this.numDbsBig = BigInt(numDbs);
    this.defaultNumProbes = defaultNumProbes;
  }

  /**
   * The projections H_i · x (float64 accumulation of the exact float32 products, index order).
   * @param vector `Float32Array` of length dim (not checked here).
   * @returns `Float64Array` of length numHashBits.
   */
  projections(vector: Float32Array): Float64Array {
    const { dim, hyperplanes } = this;
    const out = new Float64Array(this.numHashBits);
    for (let i = 0; i < this.numHashBits; i++) {
      const o = i * dim;
      let s = 0;
      for (let j = 0; j < dim; j++) s += hyperplanes[o + j] * vector[j];
      out[i] = s;
    }
    return out;
  }

  /**
   * The bucket code Σ_i (p_i > 0) << i (`lsh_hash`, sharding.py:184-190), as a bigint (any number
   * of bits, as Python's int).
   * @param vector `Float32Array` of length dim (not checked here).
   */
  hashCode(vector: Float32Array): bigint {
    const p = this.projections(vector);
    let code = 0n;
    for (let i = 0; i < p.length; i++) if (p[i] > 0) code |= 1n << BigInt(i);
    return code;
  }

  /**
   * The shard of a record: code % num_dbs (`lsh_assign`, sharding.py:193-203; the writer calls it
   * per vector, vector/_distributed.py:224).
   * @throws InputRecordError naming `record.location` when the vector's length is not dim.
   */
  assign(record: RecordToRoute): number {
    if (record.vector.length !== this.dim) {
      throw new InputRecordError(record.location, `vector has dimension ${record.vector.length}; this snapshot has dim ${this.dim}`);
    }
    return Number(this.hashCode(record.vector) % this.numDbsBig);
  }

  /**
   * Caller-named `shardIds` as given, else the home shard followed by the single-bit-flip
   * neighbours in bit order (see the module docstring), at most num_probes of them (0 = the
   * manifest's), possibly fewer when fewer shards are reachable.
   * @throws InvalidQueryError for a routing_context, a negative num_probes, a vector of the wrong
   *   dimension, or an unknown or repeated shard id.
   */
  route(query: QueryToRoute): number[] {
    rejectRoutingContext(query.routingContext, 'lsh');
    if (query.shardIds.length > 0) return checkShardIds(query.shardIds, this.numDbs);
    const probes = shardyfusionProbeCount(query.numProbes, this.defaultNumProbes);
    checkQueryDim(query.vector, this.dim);
    const code = this.hashCode(query.vector);
    const shards = [Number(code % this.numDbsBig)];
    for (let bit = 0; bit < this.numHashBits && shards.length < probes; bit++) {
      const shard = Number((code ^ (1n << BigInt(bit))) % this.numDbsBig);
      if (!shards.includes(shard)) shards.push(shard);
    }
    return shards.slice(0, probes);
  }
}
