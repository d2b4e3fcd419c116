/**
 * Loading a run's centroids (`centroids.npy`, float32 [num_dbs, dim]) from the store, verified
 * against the manifest's sha256.
 */
import { ManifestParseError, ShardIntegrityError } from './errors.ts';
import { sha256Hex } from './file-digest.ts';
import type { Manifest } from './manifest.ts';
import { decodeNpy } from './npy.ts';
import type { ObjectStore } from './storage/object-store.ts';

/**
 * Reads and checks the centroids of a CLUSTER run.
 * @returns `Float32Array` of length num_dbs * dim, row-major.
 * @throws ShardIntegrityError when the bytes do not match the manifest's sha256;
 *   ManifestParseError when the array's shape is not [num_dbs, dim];
 *   ObjectNotFoundError / StorageError from the store.
 */
export async function loadCentroids(store: ObjectStore, manifest: Manifest): Promise<Float32Array> {
  const ref = manifest.sharding.centroids;
  const bytes = await store.get(ref.ref);
  const digest = sha256Hex(bytes);
  if (digest !== ref.sha256 || bytes.length !== ref.bytes) {
    throw new ShardIntegrityError(
      `centroids ${ref.ref} of run ${manifest.run_id}: sha256 ${digest} (${bytes.length} bytes) does not match the manifest's ${ref.sha256} (${ref.bytes} bytes)`,
    );
  }
  const npy = decodeNpy(bytes, ref.ref);
  const { num_dbs } = manifest.sharding;
  const { dim } = manifest.index;
  if (npy.shape.length !== 2 || npy.shape[0] !== num_dbs || npy.shape[1] !== dim) {
    throw new ManifestParseError(`centroids ${ref.ref} have shape [${npy.shape.join(', ')}], expected [${num_dbs}, ${dim}]`);
  }
  return npy.data instanceof Float32Array ? npy.data : Float32Array.from(npy.data as ArrayLike<number>);
}
