/**
 * Whether a store prefix holds a shardyfusion snapshot, for the commands that would write there
 * (src/writer/foreign-prefix.ts): shardfleet reads such a prefix and never writes into it. The
 * check must hold when the snapshot is damaged too, since that is when a user reaches for
 * `rollback` or `cleanup`: a `_CURRENT` that is shardyfusion's but fails validation, or no
 * `_CURRENT` at all (shardyfusion writes the manifest first and `_CURRENT` last,
 * manifest_store.py:150-166, so a publish that stopped in between leaves only manifests).
 */
import { ObjectNotFoundError } from '../../common/errors.ts';
import { MANIFESTS_PREFIX, parseManifestKey } from '../../common/manifest.ts';
import type { ObjectStore } from '../../common/storage/object-store.ts';
import { getPointerBytes } from '../../common/store-reads.ts';
import { isShardyfusionPointerShape, parseShardyfusionPointer } from './pointer.ts';

/**
 * What shows that `store` holds a shardyfusion snapshot, as a phrase for a message (e.g. `its
 * _CURRENT is shardyfusion's (run 3168502f-…)`, `manifests/<ts>_run_id=<id>/manifest is a
 * shardyfusion manifest`), or undefined when nothing does. Looks at `_CURRENT` (a JSON object with
 * shardyfusion's `manifest_content_type` field, valid or not) and then lists `manifests/` for a
 * key in shardyfusion's layout (`<%Y-%m-%dT%H:%M:%S.%fZ>_run_id=<id>/manifest`,
 * manifest_store.py:39,127).
 * @throws StorageError when the store cannot be read or listed.
 */
export async function shardyfusionPrefixEvidence(store: ObjectStore): Promise<string | undefined> {
  let pointer: Buffer | undefined;
  try {
    pointer = await getPointerBytes(store);
  } catch (err) {
    if (!(err instanceof ObjectNotFoundError)) throw err;
  }
  if (pointer !== undefined && isShardyfusionPointerShape(pointer)) {
    try {
      const p = parseShardyfusionPointer(pointer, '_CURRENT');
      return `its _CURRENT is shardyfusion's (run ${p?.run_id.slice(0, 64) ?? '?'})`;
    } catch {
      return `its _CURRENT is shardyfusion's (it has shardyfusion's manifest_content_type field, though it does not validate)`;
    }
  }
  for (const o of await store.list(MANIFESTS_PREFIX, { etags: false })) {
    if (parseManifestKey(o.key)?.format === 'shardyfusion') {
      return `${o.key} is a shardyfusion manifest${pointer === undefined ? ' (and there is no _CURRENT)' : ''}`;
    }
  }
  return undefined;
}
