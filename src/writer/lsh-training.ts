/**
 * Training of LSH sharding (see src/common/routing/lsh-routing.ts): seeded Gaussian hyperplanes
 * (random-hyperplane LSH, Charikar, STOC 2002) and the optional mean centre of the training
 * sample.
 *
 * Why centre: sign LSH splits space by hyperplanes through the origin. Data far from the origin
 * on one side (e.g. raw pixels, all >= 0) falls almost entirely on one side of most hyperplanes,
 * so nearly every vector gets the same few codes and lands in few shards. Subtracting the mean
 * moves the hyperplanes through the data's centre.
 *
 * Determinism: the same (numHashBits, dim, seed) give the same hyperplanes on a given Node/V8
 * (SeededRandom is exact integer arithmetic; Box–Muller uses Math.log / cos / sin, which V8
 * computes with its fdlibm port). Routers never regenerate them: they read the float32
 * hyperplanes the writer stored in `hyperplanes.npy`.
 */
import { ConfigValidationError } from '../common/errors.ts';
import { MAX_LSH_HASH_BITS } from '../common/routing/lsh-routing.ts';
import { SeededRandom } from './seeded-random.ts';

/**
 * Hyperplane normals with i.i.d. N(0, 1) entries from a seeded generator (Box–Muller transform
 * over {@link SeededRandom}, both outputs of each pair used, row-major fill order).
 * @param numHashBits number of hyperplanes (rows), 1..30.
 * @param dim vector dimension (columns), positive.
 * @param seed PRNG seed (low 32 bits used).
 * @returns `Float32Array` of length numHashBits * dim, row i = h_i.
 * @throws ConfigValidationError when numHashBits or dim is out of range or seed is not an integer.
 */
export function generateHyperplanes(numHashBits: number, dim: number, seed: number): Float32Array {
  if (!Number.isInteger(numHashBits) || numHashBits < 1 || numHashBits > MAX_LSH_HASH_BITS) {
    throw new ConfigValidationError(`LSH num_hash_bits must be an integer in 1..${MAX_LSH_HASH_BITS}, got ${numHashBits}`);
  }
  if (!Number.isInteger(dim) || dim < 1) throw new ConfigValidationError(`LSH dim must be a positive integer, got ${dim}`);
  if (!Number.isInteger(seed)) throw new ConfigValidationError(`LSH seed must be an integer, got ${seed}`);
  const rng = new SeededRandom(seed);
  const out = new Float32Array(numHashBits * dim);
  for (let k = 0; k < out.length; k += 2) {
    // u1 in (0, 1] so log(u1) is finite; u2 in [0, 1).
    const u1 = 1 - rng.next();
    const u2 = rng.next();
    const r = Math.sqrt(-2 * Math.log(u1));
    const theta = 2 * Math.PI * u2;
    out[k] = r * Math.cos(theta);
    if (k + 1 < out.length) out[k + 1] = r * Math.sin(theta);
  }
  return out;
}

/**
 * The mean of a training sample, used as the LSH centre c (subtracted before projecting).
 * Accumulated in float64 in row order, then rounded to float32.
 * @param sample `Float32Array` of length n * dim, row-major, n >= 1.
 * @param dim vector dimension.
 * @returns `Float32Array` of length dim.
 * @throws ConfigValidationError when the sample is empty, not a multiple of dim, or non-finite.
 */
export function meanCenter(sample: Float32Array, dim: number): Float32Array {
  if (!Number.isInteger(dim) || dim < 1) throw new ConfigValidationError(`LSH dim must be a positive integer, got ${dim}`);
  if (sample.length === 0 || sample.length % dim !== 0) {
    throw new ConfigValidationError(`LSH training sample of length ${sample.length} does not form one or more rows of dimension ${dim}`);
  }
  const n = sample.length / dim;
  const sum = new Float64Array(dim);
  for (let r = 0; r < n; r++) {
    const o = r * dim;
    for (let j = 0; j < dim; j++) sum[j] += sample[o + j];
  }
  const out = new Float32Array(dim);
  for (let j = 0; j < dim; j++) {
    const m = sum[j] / n;
    if (!Number.isFinite(m)) throw new ConfigValidationError(`LSH training sample has a non-finite mean ${m} in column ${j}`);
    out[j] = m;
  }
  return out;
}
