/**
 * The genuine shardyfusion sample snapshots of test/fixtures/shardyfusion (see its README):
 * unpacks them into a temporary folder laid out as the bucket `sfkit` (`<root>/sfkit/<name>/...`)
 * and reads shardyfusion's recorded answers.
 */
import { execFileSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { FASHION_IMAGES, FASHION_LABELS } from './fixtures.ts';

/** Folder of the committed fixtures. */
export const SHARDYFUSION_FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'shardyfusion');

/** The five genuine samples. */
export const SHARDYFUSION_SAMPLES = ['fm-cluster-l2', 'fm-lsh-cosine', 'fm-explicit-l2', 'fm-unified-utf8-cosine', 'fm-unified-u64be-l2'] as const;
export type ShardyfusionSample = (typeof SHARDYFUSION_SAMPLES)[number];

/**
 * The two snapshots made by following shardyfusion's source (its Python LanceDB writer cannot run
 * here; tools/shardyfusion-fixtures/make-from-source.ts): not genuine, see the fixture README.
 */
export const FROM_SOURCE_SAMPLES = ['fm-lancedb-cluster-l2', 'fm-composite-utf8-cosine'] as const;
export type FromSourceSample = (typeof FROM_SOURCE_SAMPLES)[number];

/** A hit of shardyfusion's LanceDB query as the from-source fixtures record it (raw `_distance`). */
export interface LanceHit {
  id: string;
  distance: number;
  payload: string;
}

/** `expected-from-source/<name>.json` (the parts tests read). */
export interface ExpectedFromSource {
  sample: string;
  run_id: string;
  shards: Array<{ db_id: number; row_count: number; checkpoint_id: string }>;
  queries: Array<{
    query_index: number;
    route_default_probes?: number[];
    route_all_probes?: number[];
    lance_default?: { results: LanceHit[]; ties_at_k: string[]; score_after_k: number | null };
    lance_all_shards: { results: LanceHit[]; ties_at_k: string[]; score_after_k: number | null };
  }>;
  kv_get?: ExpectedGet[];
  kv_multi_get?: Array<[number | string, string | null]>;
}

/** The recorded answers of a from-source sample. */
export function expectedFromSource(name: FromSourceSample): ExpectedFromSource {
  return JSON.parse(readFileSync(join(SHARDYFUSION_FIXTURES, 'expected-from-source', `${name}.json`), 'utf8')) as ExpectedFromSource;
}

/** A LanceDB answer as an {@link ExpectedAnswer} whose `score` is the raw `_distance`. */
export function lanceAnswer(a: { results: LanceHit[]; ties_at_k: string[]; score_after_k: number | null }): ExpectedAnswer {
  return {
    num_shards_queried: 0,
    results: a.results.map((r) => ({ id: r.id, score: r.distance, payload: JSON.parse(r.payload) as Record<string, unknown> })),
    ties_at_k: a.ties_at_k,
    score_after_k: a.score_after_k,
  };
}

/** One answer of shardyfusion's reader: hits best first. */
export interface ExpectedAnswer {
  num_shards_queried: number;
  results: Array<{ id: number | string; score: number; payload: Record<string, unknown> }>;
  ties_at_k: Array<number | string>;
  score_after_k: number | null;
}

/** One query of a sample with shardyfusion's answers (fields by strategy, see the fixture README). */
export interface ExpectedQuery {
  query_index: number;
  t10k_row: number;
  query_label: number;
  route_default_probes?: number[];
  route_all_probes?: number[];
  default?: ExpectedAnswer;
  all_shards: ExpectedAnswer;
  home_shard?: number;
  home_shard_only?: ExpectedAnswer;
}

/** A KV lookup shardyfusion answered. */
export interface ExpectedGet {
  key: number | string;
  key_str: string;
  stored_key_hex: string;
  shard: number;
  present: boolean;
  value: string | null;
}

/** `expected/<name>.json` (the parts tests read; more fields exist). */
export interface ExpectedSample {
  sample: string;
  kind: string;
  s3_prefix: string;
  top_k: number;
  config: Record<string, unknown>;
  published: { current_pointer_raw: string; build_meta: Record<string, unknown>; shards: Array<Record<string, unknown>> };
  id_shards: Array<[number | string, number]>;
  snapshot_info: Record<string, unknown>;
  shard_details: Array<Record<string, unknown>>;
  queries: ExpectedQuery[];
  kv_get?: ExpectedGet[];
  kv_multi_get?: Array<[number | string, string | null]>;
  kv_key_errors?: Array<Record<string, unknown>>;
  key_shards?: Array<[number | string, number]>;
}

/** shardyfusion's recorded answers for `name`. */
export function expectedSample(name: ShardyfusionSample): ExpectedSample {
  return JSON.parse(readFileSync(join(SHARDYFUSION_FIXTURES, 'expected', `${name}.json`), 'utf8')) as ExpectedSample;
}

/** Unpacked samples: `bucketDir(name)` is the snapshot prefix folder of `name`. */
export interface UnpackedSamples {
  /** Folder standing for the bucket `sfkit`. */
  bucketDir: string;
  /** Folder of sample `name` (its `_CURRENT` is directly inside). */
  prefixDir(name: ShardyfusionSample | FromSourceSample): string;
  /** Removes the temporary folder. */
  remove(): void;
}

/**
 * Unpacks `names` (default all five) into a new temporary folder, using the system `tar`.
 * @throws Error when `tar` fails.
 */
export function unpackShardyfusionSamples(names: readonly ShardyfusionSample[] = SHARDYFUSION_SAMPLES, fromSource: readonly FromSourceSample[] = []): UnpackedSamples {
  const root = mkdtempSync(join(tmpdir(), 'sf-samples-'));
  const bucketDir = join(root, 'sfkit');
  mkdirSync(bucketDir, { recursive: true });
  for (const name of names) {
    execFileSync('tar', ['-xzf', join(SHARDYFUSION_FIXTURES, 'snapshots', `${name}.tar.gz`), '-C', bucketDir]);
  }
  for (const name of fromSource) {
    execFileSync('tar', ['-xzf', join(SHARDYFUSION_FIXTURES, 'snapshots-from-source', `${name}.tar.gz`), '-C', bucketDir]);
  }
  return {
    bucketDir,
    prefixDir: (name) => join(bucketDir, name),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

/**
 * Fashion-MNIST t10k images `[start, start + count)` as float32/255, as the samples were built
 * (base rows [0, 2000), queries [9000, 9050)), from the project's bundled copy.
 * @returns one `Float32Array` of length 784 per image.
 */
export function fashionRows(start: number, count: number): Float32Array[] {
  const raw = gunzipSync(readFileSync(FASHION_IMAGES));
  const header = 16;
  const dim = 784;
  const rows: Float32Array[] = [];
  for (let r = start; r < start + count; r++) {
    const row = new Float32Array(dim);
    for (let j = 0; j < dim; j++) row[j] = raw[header + r * dim + j] / 255;
    rows.push(row);
  }
  return rows;
}

/** Fashion-MNIST t10k labels `[start, start + count)` (0..9), from the bundled copy. */
export function fashionLabels(start: number, count: number): number[] {
  const raw = gunzipSync(readFileSync(FASHION_LABELS));
  return Array.from(raw.subarray(8 + start, 8 + start + count));
}

/** The 50 query vectors of every sample (t10k rows [9000, 9050)). */
export function sampleQueries(): Float32Array[] {
  return fashionRows(9000, 50);
}

/** shardyfusion's timestamp form (`%Y-%m-%dT%H:%M:%S.%fZ`, microseconds). */
function sfTimestamp(d: Date): string {
  return d.toISOString().replace('Z', '000Z');
}

/** What {@link publishShardyfusionRunCopy} wrote. */
export interface CopiedRun {
  runId: string;
  /** Key of the new manifest under the prefix. */
  manifestKey: string;
}

/**
 * Publishes a new run in a shardyfusion prefix the way shardyfusion would (manifest first, then
 * `_CURRENT`, compact JSON with sorted keys): a copy of the current run's shards and routing
 * metadata under `runId`, with a manifest whose `run_id`, `created_at`, `db_url`s and refs name
 * the new run. Answers of the copy equal the original's. With `pointTo: false` only the manifest
 * and files are written (`_CURRENT` unchanged); with `corruptManifest` the manifest bytes are
 * garbage (a failed or damaged publish).
 */
export function publishShardyfusionRunCopy(prefixDir: string, options: { runId: string; createdAt: Date; pointTo?: boolean; corruptManifest?: boolean }): CopiedRun {
  const pointer = JSON.parse(readFileSync(join(prefixDir, '_CURRENT'), 'utf8')) as { manifest_ref: string; run_id: string };
  const oldRun = pointer.run_id;
  const oldKey = pointer.manifest_ref.slice(pointer.manifest_ref.lastIndexOf('/manifests/') + 1);
  const db = new Database(readFileSync(join(prefixDir, oldKey)));
  const meta = db.prepare('SELECT s3_prefix, custom FROM build_meta').get() as { s3_prefix: string; custom: string };
  const swap = (text: string): string => text.split(`run_id=${oldRun}`).join(`run_id=${options.runId}`);
  db.prepare('UPDATE build_meta SET run_id = ?, created_at = ?, custom = ?').run(options.runId, sfTimestamp(options.createdAt), swap(meta.custom));
  for (const row of db.prepare('SELECT db_id, db_url FROM shards').all() as Array<{ db_id: number; db_url: string }>) {
    db.prepare('UPDATE shards SET db_url = ? WHERE db_id = ?').run(swap(row.db_url), row.db_id);
  }
  const manifestBytes = options.corruptManifest === true ? Buffer.from('SQLite format 3\0 but not really a database') : db.serialize();
  db.close();
  for (const dir of ['shards', 'vector_meta']) {
    const from = join(prefixDir, dir, `run_id=${oldRun}`);
    if (existsSync(from)) cpSync(from, join(prefixDir, dir, `run_id=${options.runId}`), { recursive: true });
  }
  const manifestKey = `manifests/${sfTimestamp(options.createdAt)}_run_id=${options.runId}/manifest`;
  mkdirSync(join(prefixDir, manifestKey, '..'), { recursive: true });
  writeFileSync(join(prefixDir, manifestKey), manifestBytes);
  if (options.pointTo !== false) {
    const next = { format_version: 1, manifest_content_type: 'application/x-sqlite3', manifest_ref: `${meta.s3_prefix}/${manifestKey}`, run_id: options.runId, updated_at: sfTimestamp(new Date()) };
    writeFileSync(join(prefixDir, '_CURRENT.tmp'), JSON.stringify(next));
    renameSync(join(prefixDir, '_CURRENT.tmp'), join(prefixDir, '_CURRENT'));
  }
  return { runId: options.runId, manifestKey };
}
