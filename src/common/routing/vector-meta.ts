/**
 * Loading a run's routing metadata arrays (`centroids.npy`, `hyperplanes.npy`, `center.npy`,
 * float32, numpy-readable) from the store, verified against the manifest's size and sha256 (the
 * size alone when the reference has no sha256, as in shardyfusion manifests, which record none).
 */
import { ManifestParseError, ObjectTooLargeError, ShardIntegrityError } from '../errors.ts';
import { sha256Hex } from '../file-digest.ts';
import type { ObjectRef } from '../manifest.ts';
import { decodeNpy } from '../npy.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { oversizedFileError } from '../verified-shard-file.ts';

/** A manifest's reference to a metadata array; `sha256` is absent for shardyfusion snapshots. */
export type VectorMetaRef = Omit<ObjectRef, 'sha256'> & { sha256?: string };

/**
 * Reads a float32 array referenced by a manifest and checks its bytes and shape.
 * @param ref the manifest's reference (key, bytes, sha256 when recorded: the digest is checked
 *   only when the reference has one; the size and the npy shape always).
 * @param shape the expected shape, e.g. [num_dbs, dim] for centroids.
 * @param runId for messages.
 * @returns `Float32Array` of length product(shape), row-major.
 * Reads at most the manifest's size + 1 bytes.
 * @throws ShardIntegrityError when size or sha256 differ from the manifest; ManifestParseError when
 *   the array's shape differs; ObjectNotFoundError / StorageError from the store.
 */
export async function loadVectorMeta(store: ObjectStore, ref: VectorMetaRef, shape: readonly number[], runId: string): Promise<Float32Array> {
  let bytes: Buffer;
  try {
    bytes = await store.get(ref.ref, { maxBytes: ref.bytes });
  } catch (err) {
    if (err instanceof ObjectTooLargeError) throw oversizedFileError(`${ref.ref} of run ${runId}`, err);
    throw err;
  }
  if (ref.sha256 === undefined) {
    if (bytes.length !== ref.bytes) {
      throw new ShardIntegrityError(`${ref.ref} of run ${runId}: ${bytes.length} bytes, but the manifest says ${ref.bytes} bytes (it records no sha256)`);
    }
  } else {
    const digest = sha256Hex(bytes);
    if (digest !== ref.sha256 || bytes.length !== ref.bytes) {
      throw new ShardIntegrityError(
        `${ref.ref} of run ${runId}: sha256 ${digest} (${bytes.length} bytes) does not match the manifest's ${ref.sha256} (${ref.bytes} bytes)`,
      );
    }
  }
  const npy = decodeNpy(bytes, ref.ref);
  if (npy.shape.length !== shape.length || npy.shape.some((n, i) => n !== shape[i])) {
    throw new ManifestParseError(`${ref.ref} of run ${runId} has shape [${npy.shape.join(', ')}], expected [${shape.join(', ')}]`);
  }
  const data = npy.data instanceof Float32Array ? npy.data : Float32Array.from(npy.data as ArrayLike<number>);
  if (data.some((x) => !Number.isFinite(x))) throw new ManifestParseError(`${ref.ref} of run ${runId} contains NaN or Inf`);
  return data;
}
