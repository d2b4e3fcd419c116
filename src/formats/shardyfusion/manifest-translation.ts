/**
 * Translates a shardyfusion manifest (format_version 4; sqlite-manifest.ts) into shardfleet's
 * {@link Manifest} with `format: 'shardyfusion'`, so routers and shard nodes serve the snapshot
 * with their own machinery (routing, placement, download + cache + leases, fan-out, merge).
 * Nothing is written to the store: the translation happens on every load.
 *
 * Rules (shardyfusion source at b5ad9a1):
 * - URLs: every absolute URL (`db_url`, `centroids_ref`, `hyperplanes_ref`) is made relative to
 *   `build_meta.s3_prefix` (object-urls.ts), so a copy in another bucket or folder is served from
 *   where it is.
 * - Layout: `custom.vector` is required (a KV-only snapshot has none and is refused). With
 *   `custom.vector.unified` the snapshot is KV + vector: `backend: sqlite-vec` + `kv_backend:
 *   sqlite-vec` is the unified layout (one `shard.db` holding `kv` and the vectors;
 *   _writer_core.py:464-481), `backend: lancedb` + `kv_backend: slatedb` the composite one
 *   (SlateDB at `db_url`, LanceDB under `vector/`). Without `unified` it is vector-only and the
 *   backend shows only in the shard files: `shard.db` (sqlite-vec) or `vector_index.lance/`
 *   (LanceDB), found by listing the run's shard folders once.
 * - Sharding: vector-only snapshots keep the real strategy in `custom.vector.sharding_strategy`
 *   (`build_meta.sharding` says hash whatever it is; vector/_distributed.py:437-478), with
 *   `num_probes`, `centroids_ref`, `hyperplanes_ref` + `num_hash_bits` (default 8), `cel_expr`,
 *   `cel_columns`, `routing_values`; defaults as vector/reader.py:490-580 (metric cosine,
 *   strategy explicit, num_probes 1). KV + vector snapshots are routed by `build_meta.sharding`
 *   (hash, or CEL) and a search probes every shard.
 * - Shards: `shards` has a row per NON-EMPTY shard (vector/writer.py:190-193); a missing db_id is
 *   an empty shard (routing.py:215-225) and becomes an entry with no files.
 * - Files and verification: shardyfusion records `db_bytes` (the size of `shard.db`) and a
 *   `checkpoint_id`, no digest. A sqlite-vec shard lists `shard.db` with `db_bytes` as its size
 *   (the download is cut at that size and must match it); the `shard.sidecar` page cache beside
 *   it is not used. A LanceDB or composite shard lists every file the store holds under its folder,
 *   with the listed sizes (only the sizes, not the content, can be checked against the store).
 */
import { quoteInput } from '../../common/bounded-text.ts';
import { ManifestParseError } from '../../common/errors.ts';
import { validateWith } from '../../common/json-schema-parse.ts';
import { ManifestSchema, shardDirName, type FileEntry, type Manifest, type ObjectRef, type ShardEntry, type ShardingSpec } from '../../common/manifest.ts';
import type { ObjectStore } from '../../common/storage/object-store.ts';
import { keyUnderPrefix } from './object-urls.ts';
import { SHARDYFUSION_MANIFEST_FORMAT_VERSION, type ShardyfusionOrigin } from './origin.ts';
import type { BuildMetaRow, ShardRow, ShardyfusionManifestTables } from './sqlite-manifest.ts';

/** File name of a sqlite-vec shard (vector-only and unified; sqlite_vec_adapter.py:57,520). */
export const SHARDYFUSION_SQLITE_FILE = 'shard.db';
/** The page-cache sidecar beside `shard.db` (sqlite_adapter.py:47,66), which binds its ETag. */
export const SHARDYFUSION_SIDECAR_FILE = 'shard.sidecar';
/** Folder of a vector-only LanceDB shard's table (lancedb_adapter.py). */
export const SHARDYFUSION_LANCE_DIR = 'vector_index.lance/';
/** Folder of a composite shard's LanceDB table, under the SlateDB at db_url (composite_adapter.py). */
export const SHARDYFUSION_COMPOSITE_VECTOR_DIR = 'vector/';

/** A shardyfusion metric name -> shardfleet's (vector/types.py:25-30). */
const METRICS: Record<string, Manifest['index']['metric']> = { l2: 'l2', cosine: 'cosine', dot_product: 'dot' };
/** A shardyfusion key_encoding -> the key type a Get must give (serde.py:26-71). */
const KEY_TYPES: Record<string, 'string' | 'int' | 'bytes'> = { utf8: 'string', u64be: 'int', u32be: 'int', raw: 'bytes' };

type Layout = ShardyfusionOrigin['layout'];

/**
 * A manifest value for an error message, bounded: a string quoted (at most 64 characters of it,
 * quoteInput), anything else as its JSON text cut the same way (no quotes around it).
 */
function shown(value: unknown): string {
  if (typeof value === 'string') return quoteInput(value);
  const text = value === undefined ? 'absent' : (JSON.stringify(value) ?? String(value));
  const quoted = quoteInput(text);
  return quoted.startsWith('"') && text.length <= 64 ? text : quoted;
}

/** The vector section of `custom` (`custom.vector`), loosely typed as shardyfusion writes it. */
interface VectorMeta {
  dim?: unknown;
  metric?: unknown;
  index_type?: unknown;
  quantization?: unknown;
  unified?: unknown;
  backend?: unknown;
  kv_backend?: unknown;
  total_vectors?: unknown;
  sharding_strategy?: unknown;
  num_probes?: unknown;
  centroids_ref?: unknown;
  hyperplanes_ref?: unknown;
  num_hash_bits?: unknown;
  cel_expr?: unknown;
  cel_columns?: unknown;
  routing_values?: unknown;
}

/**
 * The shardfleet manifest of a shardyfusion run.
 * @param store the store serving the snapshot prefix (listed for shard files and routing metadata sizes).
 * @param key the manifest's key under the prefix (names it in errors).
 * @param manifestUrl the manifest's absolute URL as shardyfusion wrote it (kept for SnapshotInfo).
 * @throws ManifestParseError naming the manifest and field for anything shardfleet cannot serve
 *   (another format_version, no vector section, an unknown metric, strategy or backend pair, a URL
 *   outside s3_prefix, a shard row out of range, missing routing metadata); StorageError from
 *   listing the store.
 */
export async function translateShardyfusionManifest(store: ObjectStore, key: string, tables: ShardyfusionManifestTables, manifestUrl: string): Promise<Manifest> {
  const { buildMeta: bm, shards: rows } = tables;
  const what = `manifest ${key} (shardyfusion)`;
  const fail = (message: string): never => {
    throw new ManifestParseError(`${what}: ${message}`);
  };
  if (bm.format_version !== SHARDYFUSION_MANIFEST_FORMAT_VERSION) {
    fail(`build_meta.format_version is ${bm.format_version}; this reader understands ${SHARDYFUSION_MANIFEST_FORMAT_VERSION}`);
  }
  const vector = bm.custom.vector;
  if (typeof vector !== 'object' || vector === null || Object.keys(vector).length === 0) {
    fail('custom.vector is absent: a key-value-only shardyfusion snapshot (shardfleet serves vector and KV + vector snapshots)');
  }
  const vm = vector as VectorMeta;
  const dim = Number(vm.dim);
  if (!Number.isInteger(dim) || dim < 1) fail(`custom.vector.dim is ${shown(vm.dim)}, not a positive integer`);
  const metricName = vm.metric === undefined ? 'cosine' : String(vm.metric);
  const metric = METRICS[metricName] ?? fail(`custom.vector.metric ${shown(metricName)} is not one of shardyfusion's metrics ${Object.keys(METRICS).join(', ')}`);
  const numDbs = bm.num_dbs;
  for (const r of rows) {
    if (r.db_id >= numDbs) fail(`shards row with db_id ${r.db_id} is not below build_meta.num_dbs ${numDbs} (shard ids run from 0 to ${numDbs - 1})`);
  }

  const urlOf = (url: string, field: string): string => keyUnderPrefix(url, bm.s3_prefix, `${what} ${field}`);
  const shardUrls = new Map<number, string>();
  for (const r of rows) {
    if (r.db_url === null) fail(`shards row of db_id ${r.db_id} has no db_url`);
    shardUrls.set(r.db_id, folderKey(urlOf(r.db_url as string, `shards.db_url of db_id ${r.db_id}`)));
  }
  const listed = await listUnder(store, [...shardUrls.values()]);

  const unified = vm.unified === true;
  let layout: Layout = 'vector';
  let backend: Manifest['index']['backend'];
  if (unified) {
    const pair = `${shown(vm.backend)} + ${shown(vm.kv_backend)}`;
    if (vm.backend === 'sqlite-vec' && vm.kv_backend === 'sqlite-vec') layout = 'unified';
    else if (vm.backend === 'lancedb' && vm.kv_backend === 'slatedb') layout = 'composite';
    else fail(`custom.vector backend + kv_backend ${pair} is not served (served: sqlite-vec + sqlite-vec, lancedb + slatedb)`);
    backend = layout === 'unified' ? 'sqlite-vec' : 'lancedb';
  } else {
    backend = inferVectorBackend(shardUrls, listed) ?? fail(`no shard file found under ${[...shardUrls.values()][0] ?? 'shards/'} in ${store.url} (expected ${SHARDYFUSION_SQLITE_FILE} or ${SHARDYFUSION_LANCE_DIR})`);
  }
  if (backend === 'sqlite-vec' && metric === 'dot') fail('metric dot_product with sqlite-vec shards (sqlite-vec has no dot product)');

  const sharding = await shardingOf(store, bm, vm, unified, numDbs, urlOf, fail);
  const kv = unified ? { backend: layout === 'unified' ? ('sqlite' as const) : ('slatedb' as const), key_type: KEY_TYPES[bm.key_encoding] ?? fail(`build_meta.key_encoding ${shown(bm.key_encoding)} is not one of ${Object.keys(KEY_TYPES).join(', ')}`), key_encoding: bm.key_encoding as 'utf8' | 'u64be' | 'u32be' | 'raw' } : undefined;

  const byId = new Map(rows.map((r) => [r.db_id, r]));
  const shards: ShardEntry[] = [];
  for (let dbId = 0; dbId < numDbs; dbId++) {
    const row = byId.get(dbId);
    if (row === undefined) {
      shards.push({ db_id: dbId, url: `shards/run_id=${bm.run_id}/${shardDirName(dbId)}/`, files: [], vector_count: 0, checkpoint_id: '', index_type: 'empty', ...(kv ? { kv_entries: 0 } : {}) });
      continue;
    }
    const url = shardUrls.get(dbId) as string;
    const files = shardFiles(layout, backend, row, url, listed);
    shards.push({
      db_id: dbId,
      url,
      files,
      vector_count: row.row_count,
      checkpoint_id: row.checkpoint_id ?? '',
      index_type: row.row_count === 0 ? 'empty' : backend === 'sqlite-vec' ? 'flat' : 'auto',
      ...(kv ? { kv_entries: row.row_count } : {}),
    });
  }

  const createdAt = Date.parse(bm.created_at);
  if (!Number.isFinite(createdAt)) fail(`build_meta.created_at ${shown(bm.created_at)} is not a timestamp`);
  const origin: ShardyfusionOrigin = {
    format_version: SHARDYFUSION_MANIFEST_FORMAT_VERSION,
    s3_prefix: bm.s3_prefix,
    manifest_url: manifestUrl,
    created_at: bm.created_at,
    key_col: bm.key_col,
    key_encoding: bm.key_encoding,
    layout,
    index_type: typeof vm.index_type === 'string' ? vm.index_type : 'unknown',
    quantization: typeof vm.quantization === 'string' ? vm.quantization : null,
    shards: rows.map((r) => ({ db_id: r.db_id, db_url: r.db_url ?? '', attempt: r.attempt, db_bytes: r.db_bytes })),
  };
  const totalVectors = rows.reduce((s, r) => s + r.row_count, 0);
  const manifest = {
    format_version: 1,
    format: 'shardyfusion',
    shardyfusion: origin,
    run_id: bm.run_id,
    created_at: new Date(createdAt).toISOString(),
    writer: { name: 'shardyfusion', version: `manifest format_version ${bm.format_version}` },
    index: { dim, metric, backend, index_type: backend === 'sqlite-vec' ? 'flat' : 'auto', index_params: {} },
    sharding,
    shards,
    payload_columns: [],
    build_stats: {
      total_vectors: typeof vm.total_vectors === 'number' ? vm.total_vectors : totalVectors,
      training_sample_size: 0,
      kmeans_iterations: 0,
      build_seconds: 0,
      total_bytes: rows.reduce((s, r) => s + r.db_bytes, 0),
      input: bm.s3_prefix,
    },
    ...(kv ? { kv } : {}),
  };
  return validateWith(ManifestSchema, manifest, `${what} (translated)`);
}

/** `key` as a folder key ending in `/`. */
function folderKey(key: string): string {
  return key.endsWith('/') ? key : `${key}/`;
}

/** Sizes of every object under the shard folders, by key: one listing of their common parent. */
async function listUnder(store: ObjectStore, folders: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (folders.length === 0) return out;
  let common = folders[0];
  for (const f of folders) {
    let i = 0;
    while (i < common.length && i < f.length && common[i] === f[i]) i++;
    common = common.slice(0, i);
  }
  common = common.slice(0, common.lastIndexOf('/') + 1);
  for (const o of await store.list(common, { etags: false })) out.set(o.key, o.size);
  return out;
}

/** The vector backend of a vector-only snapshot, from the first shard folder that holds files. */
function inferVectorBackend(shardUrls: ReadonlyMap<number, string>, listed: ReadonlyMap<string, number>): Manifest['index']['backend'] | undefined {
  for (const url of shardUrls.values()) {
    if (listed.has(url + SHARDYFUSION_SQLITE_FILE)) return 'sqlite-vec';
    for (const k of listed.keys()) if (k.startsWith(url + SHARDYFUSION_LANCE_DIR)) return 'lancedb';
  }
  return undefined;
}

/** The files a node downloads for a shard (see the module comment). */
function shardFiles(layout: Layout, backend: Manifest['index']['backend'], row: ShardRow, url: string, listed: ReadonlyMap<string, number>): FileEntry[] {
  if (backend === 'sqlite-vec') {
    // shard.db at db_bytes, plus its sidecar when present: the sidecar binds shard.db's S3 ETag
    // (MD5), which the shard node checks (sidecar-check.ts).
    const sidecar = listed.get(url + SHARDYFUSION_SIDECAR_FILE);
    return [{ path: SHARDYFUSION_SQLITE_FILE, bytes: row.db_bytes }, ...(sidecar === undefined ? [] : [{ path: SHARDYFUSION_SIDECAR_FILE, bytes: sidecar }])];
  }
  const files: FileEntry[] = [];
  const under = layout === 'composite' ? url : url + SHARDYFUSION_LANCE_DIR;
  for (const [k, size] of listed) if (k.startsWith(under)) files.push({ path: k.slice(url.length), bytes: size });
  return files;
}

/** The routing metadata object at `url` (relative key + listed size). */
async function metaRef(store: ObjectStore, key: string, field: string, fail: (m: string) => never): Promise<ObjectRef> {
  const info = await store.head(key);
  if (info === undefined) fail(`${field} ${key} is missing from ${store.url}`);
  return { ref: key, bytes: (info as { size: number }).size };
}

/** shardfleet's sharding spec for the run (see the module comment). */
async function shardingOf(
  store: ObjectStore,
  bm: BuildMetaRow,
  vm: VectorMeta,
  unified: boolean,
  numDbs: number,
  urlOf: (url: string, field: string) => string,
  fail: (m: string) => never,
): Promise<ShardingSpec> {
  const celOf = (source: { cel_expr?: unknown; cel_columns?: unknown; routing_values?: unknown }, field: string): ShardingSpec => {
    const values = source.routing_values;
    if (Array.isArray(values) && values.some((v) => typeof v === 'object' && v !== null)) {
      fail(`${field}.routing_values holds bytes values, which shardfleet's CEL routing does not take`);
    }
    return {
      strategy: 'cel',
      num_dbs: numDbs,
      num_probes: 1,
      cel_expr: String(source.cel_expr ?? ''),
      cel_columns: (source.cel_columns ?? {}) as Record<string, 'int'>,
      routing_values: Array.isArray(values) ? (values as Array<string | number>) : null,
    } as ShardingSpec;
  };
  if (unified) {
    const strategy = bm.sharding.strategy;
    if (strategy === 'hash') {
      if (bm.sharding.hash_algorithm !== undefined && bm.sharding.hash_algorithm !== 'xxh3_64') fail(`build_meta.sharding.hash_algorithm ${shown(bm.sharding.hash_algorithm)} is not xxh3_64 (the only key hash shardyfusion routes with)`);
      return { strategy: 'hash', num_dbs: numDbs, num_probes: numDbs, hash: { algorithm: 'xxh3_64', seed: 0 } };
    }
    if (strategy === 'cel') return celOf(bm.sharding, 'build_meta.sharding');
    return fail(`build_meta.sharding.strategy ${shown(strategy)} is not hash or cel (the strategies of a shardyfusion KV + vector snapshot)`);
  }
  const strategy = vm.sharding_strategy === undefined ? 'explicit' : String(vm.sharding_strategy);
  const probes = vm.num_probes === undefined ? 1 : Number(vm.num_probes);
  if (!Number.isInteger(probes) || probes < 1) fail(`custom.vector.num_probes ${shown(vm.num_probes)} is not a positive integer`);
  const numProbes = Math.min(probes, numDbs);
  switch (strategy) {
    case 'cluster': {
      if (typeof vm.centroids_ref !== 'string') return fail('custom.vector.centroids_ref is absent (CLUSTER needs centroids)');
      const centroids = await metaRef(store, urlOf(vm.centroids_ref, 'custom.vector.centroids_ref'), 'custom.vector.centroids_ref', fail);
      return { strategy: 'cluster', num_dbs: numDbs, num_probes: numProbes, centroids, seed: null, centroids_source: 'kmeans', balance_factor: null };
    }
    case 'lsh': {
      if (typeof vm.hyperplanes_ref !== 'string') return fail('custom.vector.hyperplanes_ref is absent (LSH needs hyperplanes)');
      const hyperplanes = await metaRef(store, urlOf(vm.hyperplanes_ref, 'custom.vector.hyperplanes_ref'), 'custom.vector.hyperplanes_ref', fail);
      const bits = vm.num_hash_bits === undefined ? 8 : Number(vm.num_hash_bits);
      return { strategy: 'lsh', num_dbs: numDbs, num_probes: numProbes, num_hash_bits: bits, hyperplanes, center: null, seed: 0 };
    }
    case 'explicit':
      return { strategy: 'explicit', num_dbs: numDbs, num_probes: 1 };
    case 'cel':
      return celOf(vm, 'custom.vector');
    default:
      return fail(`custom.vector.sharding_strategy ${shown(strategy)} is not one of cluster, lsh, explicit, cel (shardyfusion's vector strategies)`);
  }
}
