/**
 * The genuine shardyfusion sample snapshots of test/fixtures/shardyfusion (see its README):
 * unpacks them into a temporary folder laid out as the bucket `sfkit` (`<root>/sfkit/<name>/...`)
 * and reads shardyfusion's recorded answers.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { FASHION_IMAGES } from './fixtures.ts';

/** Folder of the committed fixtures. */
export const SHARDYFUSION_FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'shardyfusion');

/** The five genuine samples. */
export const SHARDYFUSION_SAMPLES = ['fm-cluster-l2', 'fm-lsh-cosine', 'fm-explicit-l2', 'fm-unified-utf8-cosine', 'fm-unified-u64be-l2'] as const;
export type ShardyfusionSample = (typeof SHARDYFUSION_SAMPLES)[number];

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
  prefixDir(name: ShardyfusionSample): string;
  /** Removes the temporary folder. */
  remove(): void;
}

/**
 * Unpacks `names` (default all five) into a new temporary folder, using the system `tar`.
 * @throws Error when `tar` fails.
 */
export function unpackShardyfusionSamples(names: readonly ShardyfusionSample[] = SHARDYFUSION_SAMPLES): UnpackedSamples {
  const root = mkdtempSync(join(tmpdir(), 'sf-samples-'));
  const bucketDir = join(root, 'sfkit');
  mkdirSync(bucketDir, { recursive: true });
  for (const name of names) {
    execFileSync('tar', ['-xzf', join(SHARDYFUSION_FIXTURES, 'snapshots', `${name}.tar.gz`), '-C', bucketDir]);
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

/** The 50 query vectors of every sample (t10k rows [9000, 9050)). */
export function sampleQueries(): Float32Array[] {
  return fashionRows(9000, 50);
}
