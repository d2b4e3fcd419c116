/**
 * shardyfusion writes absolute URLs everywhere (`_CURRENT.manifest_ref`, `s3_prefix`, `db_url`,
 * `centroids_ref`, `hyperplanes_ref`). shardfleet reads a snapshot from wherever it is now (another
 * bucket, a local copy), so each URL becomes a key relative to the served prefix.
 */
import { quoteInput } from '../../common/bounded-text.ts';
import { ManifestParseError } from '../../common/errors.ts';
import { objectKeyProblem } from '../../common/storage/object-store.ts';

/** The folder of a manifest under a shardyfusion prefix (manifest_store.py:39,127). */
export const SHARDYFUSION_MANIFESTS_DIR = 'manifests/';

/**
 * The key of `url` relative to `prefixUrl` (shardyfusion's `s3_prefix`, with or without a
 * trailing `/`): `s3://b/p/shards/x` under `s3://b/p` is `shards/x`.
 * @param what names the field in errors, e.g. `shards.db_url of db 3`.
 * @throws ManifestParseError naming `what` when `url` is not under `prefixUrl` or the relative
 *   key is not a valid object key (e.g. contains `..`).
 */
export function keyUnderPrefix(url: string, prefixUrl: string, what: string): string {
  const prefix = prefixUrl.endsWith('/') ? prefixUrl : `${prefixUrl}/`;
  if (!url.startsWith(prefix)) {
    throw new ManifestParseError(`${what} ${quoteInput(url)} is not under the snapshot's s3_prefix ${quoteInput(prefixUrl)} (every URL in a shardyfusion manifest is read relative to it)`);
  }
  return checkedKey(url.slice(prefix.length), url, what);
}

/**
 * The key of a manifest URL relative to its snapshot prefix, from the URL alone (the pointer
 * carries no prefix): the part from the last `/manifests/` on, e.g.
 * `s3://b/p/manifests/<ts>_run_id=<id>/manifest` -> `manifests/<ts>_run_id=<id>/manifest`.
 * @throws ManifestParseError when the URL has no `/manifests/` folder.
 */
export function manifestKeyOfUrl(url: string, what: string): string {
  const at = url.lastIndexOf(`/${SHARDYFUSION_MANIFESTS_DIR}`);
  if (at < 0) {
    if (url.startsWith(SHARDYFUSION_MANIFESTS_DIR)) return checkedKey(url, url, what);
    throw new ManifestParseError(`${what} ${quoteInput(url)} does not name a manifest under a ${SHARDYFUSION_MANIFESTS_DIR} folder`);
  }
  return checkedKey(url.slice(at + 1), url, what);
}

function checkedKey(key: string, url: string, what: string): string {
  const problem = objectKeyProblem(key.endsWith('/') ? key.slice(0, -1) : key);
  if (problem !== undefined) throw new ManifestParseError(`${what} ${quoteInput(url)} gives the key ${quoteInput(key)} under the prefix, which is not a valid object key (${problem})`);
  return key;
}
