/**
 * How many shards a shardyfusion CLUSTER or LSH query probes, and the checks shared by its
 * routing classes.
 */
import { InvalidQueryError } from '../../common/errors.ts';

/**
 * The probe count of a query: the manifest's `num_probes` when the caller asks for 0 (shardfleet's
 * "default"), else the caller's count. shardyfusion slices its probe list with it
 * (`np.argsort(...)[:num_probes]`, `shards[:num_probes]`; shardyfusion/vector/sharding.py:100,251,
 * vector/reader.py:196,275), so a count above num_dbs is not an error there: it reaches every
 * shard (CLUSTER) or every reachable one (LSH). It is kept as is here for the same result.
 * @throws InvalidQueryError naming the value when it is negative or not an integer.
 */
export function shardyfusionProbeCount(numProbes: number, defaultNumProbes: number): number {
  if (!Number.isInteger(numProbes) || numProbes < 0) throw new InvalidQueryError(`num_probes must be a non-negative integer, got ${numProbes}`);
  return numProbes === 0 ? defaultNumProbes : numProbes;
}

/**
 * Checks a query vector's length.
 * @throws InvalidQueryError naming the lengths.
 */
export function checkQueryDim(vector: Float32Array, dim: number): void {
  if (vector.length !== dim) throw new InvalidQueryError(`query vector has dimension ${vector.length}; this snapshot has dim ${dim}`);
}
