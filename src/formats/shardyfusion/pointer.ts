/**
 * shardyfusion's `_CURRENT` pointer, read unchanged and translated into shardfleet's
 * CurrentPointer. Its form (manifest_store.py:128,212-225,566-582 and manifest.py:157-164 at
 * b5ad9a1): compact JSON, sorted keys,
 * `{"format_version":1,"manifest_content_type":"application/x-sqlite3","manifest_ref":"s3://…/manifest","run_id":…,"updated_at":…}`.
 * `manifest_ref` is an absolute URL; there is no `published_at` and no history (`previous`).
 */
import { z } from 'zod';
import { quoteInput } from '../../common/bounded-text.ts';
import { ManifestParseError } from '../../common/errors.ts';
import { manifestKeyOfUrl } from './object-urls.ts';

/** The only manifest content type shardyfusion writes (a serialized SQLite database). */
export const SHARDYFUSION_MANIFEST_CONTENT_TYPE = 'application/x-sqlite3';

const ShardyfusionPointerSchema = z.object({
  format_version: z.literal(1),
  manifest_content_type: z.string(),
  manifest_ref: z.string().min(1).max(4096),
  run_id: z.string(),
  updated_at: z.string(),
});

/** The fields every shardyfusion pointer has (manifest_store.py:212-225, manifest.py:157-164). */
const POINTER_FIELDS = ['format_version', 'manifest_content_type', 'manifest_ref', 'run_id', 'updated_at'] as const;

/** The fields of shardfleet's CurrentPointer a shardyfusion pointer translates to (validated by the caller). */
export interface TranslatedPointer {
  format_version: 1;
  manifest_ref: string;
  run_id: string;
  published_at: string;
  format: 'shardyfusion';
}

/**
 * True when `bytes` is a JSON object with shardyfusion's `manifest_content_type` field (a field
 * only shardyfusion's pointer has), whether or not the rest of it is valid.
 */
export function isShardyfusionPointerShape(bytes: Buffer | string): boolean {
  let raw: unknown;
  try {
    raw = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch {
    return false;
  }
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) && 'manifest_content_type' in raw;
}

/**
 * When `bytes` is a shardyfusion pointer (a JSON object with `manifest_content_type`), its
 * translation: `manifest_ref` becomes the key relative to the prefix (`manifests/…/manifest`),
 * `updated_at` becomes `published_at` (RFC 3339, UTC). Otherwise undefined (not JSON, or another
 * pointer: the caller parses it as its own).
 * @param key names the pointer in errors.
 * @throws ManifestParseError naming the pointer and the field when it is a shardyfusion pointer
 *   but malformed (a field missing or of the wrong type, an unknown content type, a timestamp
 *   that does not parse, a manifest_ref with no `manifests/` folder); values are quoted to at
 *   most 64 characters.
 */
export function parseShardyfusionPointer(bytes: Buffer | string, key: string): TranslatedPointer | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null || !('manifest_content_type' in raw)) return undefined;
  const what = `pointer ${key} (shardyfusion)`;
  const absent = POINTER_FIELDS.filter((f) => !(f in raw) || (raw as Record<string, unknown>)[f] === null);
  if (absent.length > 0) {
    throw new ManifestParseError(`${what} has no ${absent.join(', ')} (shardyfusion's pointer always carries ${POINTER_FIELDS.join(', ')})`);
  }
  const parsed = ShardyfusionPointerSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ManifestParseError(`${what} failed validation: ${issues}`);
  }
  const p = parsed.data;
  if (p.manifest_content_type !== SHARDYFUSION_MANIFEST_CONTENT_TYPE) {
    throw new ManifestParseError(`${what} has manifest_content_type ${quoteInput(p.manifest_content_type)}; only ${SHARDYFUSION_MANIFEST_CONTENT_TYPE} (shardyfusion's SQLite manifest) can be read`);
  }
  const time = Date.parse(p.updated_at);
  if (!Number.isFinite(time)) throw new ManifestParseError(`${what} has updated_at ${quoteInput(p.updated_at)}, not a timestamp`);
  return {
    format_version: 1,
    manifest_ref: manifestKeyOfUrl(p.manifest_ref, `${what} manifest_ref`),
    run_id: p.run_id,
    published_at: new Date(time).toISOString(),
    format: 'shardyfusion',
  };
}
