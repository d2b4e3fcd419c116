/**
 * What a manifest translated from shardyfusion keeps of shardyfusion's own manifest
 * (`Manifest.shardyfusion`), for SnapshotInfo / ShardDetails / `shardfleet info` and for messages.
 * Source: shardyfusion manifest.py (b5ad9a1) `build_meta` table, format_version 4.
 */
import { z } from 'zod';

/** The shardyfusion manifest format version this reader understands (`build_meta.format_version`). */
export const SHARDYFUSION_MANIFEST_FORMAT_VERSION = 4;

/** The origin section of a translated manifest. */
export const ShardyfusionOriginSchema = z.object({
  /** `build_meta.format_version` (4). */
  format_version: z.literal(SHARDYFUSION_MANIFEST_FORMAT_VERSION),
  /** `build_meta.s3_prefix` as written: the absolute URL every other URL inside is relative to. */
  s3_prefix: z.string(),
  /** The manifest's absolute URL as the pointer gave it (e.g. `s3://b/p/manifests/<ts>_run_id=<id>/manifest`). */
  manifest_url: z.string(),
  /** `build_meta.created_at` as written (microseconds kept). */
  created_at: z.string(),
  /** `build_meta.key_col` (`_vector_id` for vector-only snapshots, `_key` for KV + vector). */
  key_col: z.string(),
  /** `build_meta.key_encoding` (`raw` for vector-only; `u64be`, `utf8` or `raw` for KV). */
  key_encoding: z.string(),
  /** Layout: `vector` (vector-only), `unified` (sqlite-vec KV + vector) or `composite` (SlateDB + LanceDB). */
  layout: z.enum(['vector', 'unified', 'composite']),
  /** `custom.vector.index_type` as written (e.g. `hnsw`; informational: the shard files decide). */
  index_type: z.string(),
  /** `custom.vector.quantization` as written (null: none). */
  quantization: z.string().nullable(),
  /** Per present shard: `db_url` as written and the writer's `attempt`. */
  shards: z.array(z.object({ db_id: z.number().int().nonnegative(), db_url: z.string(), attempt: z.number().int().nonnegative(), db_bytes: z.number().int().nonnegative() })),
});
export type ShardyfusionOrigin = z.infer<typeof ShardyfusionOriginSchema>;
