/**
 * Synthetic benchmark input: `n` float32 vectors of dimension `dim` drawn from a seeded mixture of
 * 64 Gaussian clusters (so k-means and LSH have structure to find), written as `.fvecs` in
 * chunks (memory stays small whatever n is). Reused from the cache folder when present.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { once } from 'node:events';
import { SeededRandom } from '../src/writer/seeded-random.ts';


/**
 * Writes (or reuses) `path`: n records of `[int32 dim][dim x float32]`, little-endian.
 * @returns the file size in bytes.
 */
export async function ensureSyntheticFvecs(path: string, n: number, dim: number, seed = 1): Promise<number> {
  const expected = n * (4 + 4 * dim);
  try {
    if ((await stat(path)).size === expected) return expected;
  } catch {
    // not cached yet
  }
  await mkdir(dirname(path), { recursive: true });
  const rng = new SeededRandom(seed);
  const clusters = 64;
  const centers = Float32Array.from({ length: clusters * dim }, () => rng.nextGaussian() * 4);
  const out = createWriteStream(path);
  const chunkRows = 8192;
  const record = 4 + 4 * dim;
  for (let start = 0; start < n; start += chunkRows) {
    const rows = Math.min(chunkRows, n - start);
    const buf = Buffer.alloc(rows * record);
    for (let r = 0; r < rows; r++) {
      const c = rng.nextInt(clusters);
      buf.writeInt32LE(dim, r * record);
      for (let d = 0; d < dim; d++) buf.writeFloatLE(centers[c * dim + d] + rng.nextGaussian(), r * record + 4 + 4 * d);
    }
    if (!out.write(buf)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return expected;
}
