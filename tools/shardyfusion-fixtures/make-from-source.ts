/**
 * Writes the two shardyfusion snapshots that shardyfusion's own Python writer cannot write here
 * (it needs Python lancedb + pyarrow + slatedb), by FOLLOWING ITS SOURCE (commit b5ad9a1) with the
 * JS bindings of the same native libraries: @lancedb/lancedb 0.37.1 and @slatedb/uniffi 0.12.1.
 *
 * - `fm-lancedb-cluster-l2`: `shardyfusion.vector.write_sharded` + `LanceDbWriterFactory`
 *   (vector-only), CLUSTER with the genuine `fm-cluster-l2` sample's centroids and vector->shard
 *   assignment, num_dbs 4, num_probes 2, l2, int ids, payload `{"label": n}`.
 * - `fm-composite-utf8-cosine`: `write_hash_sharded` + `HashShardedWriteConfig(vector_spec,
 *   key_encoding="utf8")` with the default SlateDB adapter, which `_writer_core.py:381-412` wraps
 *   into `CompositeFactory(SlateDbFactory, LanceDbWriterFactory)`: SlateDB at `db_url`, LanceDB at
 *   `db_url/vector/vector_index.lance` (`composite_adapter.py:96-116`). Keys `fm-%05d` routed as the
 *   genuine `fm-unified-utf8-cosine` sample routed them (xxh3_64 % 4).
 *
 * Each is written to `<out>/<name>/` (the content of `s3://sfkit/<name>/`), packed as
 * `test/fixtures/shardyfusion/snapshots-from-source/<name>.tar.gz`, with
 * `expected-from-source/<name>.json` (answers derived from the genuine samples plus what
 * shardyfusion's LanceDB reader query returns on these files).
 *
 * Usage (from the project root): `npx tsx tools/shardyfusion-fixtures/make-from-source.ts [fmnistDir]`
 * (default `examples/data/fashion-mnist`, the same files as `../shared/datasets/fashion-mnist`).
 */
import * as lancedb from '@lancedb/lancedb';
import { DbBuilder, ObjectStore, WriteBatch } from '@slatedb/uniffi';
import { Field, FixedSizeList, Float32, RecordBatch, Schema, Struct, Table as ArrowTable, Utf8, makeData, vectorFromArray } from 'apache-arrow';
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';

const ROOT = resolve(import.meta.dirname, '..', '..');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'shardyfusion');
/** The bundled copy of Fashion-MNIST t10k (byte-identical to ../shared/datasets/fashion-mnist). */
const FMNIST = resolve(process.argv[2] ?? join(ROOT, 'examples', 'data', 'fashion-mnist'));
const DIM = 784;
const BASE_ROWS = 2000;
const QUERY_FIRST = 9000;
const QUERY_COUNT = 50;
const TOP_K = 10;
const BUCKET = 'sfkit';

// ---------------------------------------------------------------------------------------------
// Python-compatible text
// ---------------------------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** `json.dumps(value, sort_keys=sortKeys)` with Python's default separators (", " and ": "). */
function pyDumps(value: Json, sortKeys = false): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number' || typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => pyDumps(v, sortKeys)).join(', ')}]`;
  const keys = Object.keys(value);
  if (sortKeys) keys.sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}: ${pyDumps(value[k], sortKeys)}`).join(', ')}}`;
}

/** Python `datetime.strftime("%Y-%m-%dT%H:%M:%S.%fZ")` of `ms` (microseconds from `micro`). */
function pyTimestamp(ms: number, micro = 0): string {
  return `${new Date(ms).toISOString().slice(0, 23)}${String(micro % 1000).padStart(3, '0')}Z`;
}

// ---------------------------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------------------------

const images = gunzipSync(readFileSync(join(FMNIST, 't10k-images-idx3-ubyte.gz')));
const labels = gunzipSync(readFileSync(join(FMNIST, 't10k-labels-idx1-ubyte.gz')));
/** t10k row `i` as float32/255. */
function row(i: number): Float32Array {
  const v = new Float32Array(DIM);
  for (let j = 0; j < DIM; j++) v[j] = images[16 + i * DIM + j] / 255;
  return v;
}
const label = (i: number): number => labels[8 + i];

interface GenuineQuery {
  query_index: number;
  t10k_row: number;
  query_label: number;
  route_default_probes?: number[];
  route_all_probes?: number[];
  all_shards: { results: Array<{ id: number | string; score: number; payload: Json }> };
}
interface Genuine {
  id_shards: Array<[number | string, number]>;
  key_shards?: Array<[string, number]>;
  kv_get?: Json[];
  kv_multi_get?: Json[];
  kv_key_errors?: Json[];
  published: { build_meta: Record<string, Json>; shards: Array<Record<string, Json>> };
  queries: GenuineQuery[];
}
const genuine = (name: string): Genuine => JSON.parse(readFileSync(join(FIXTURES, 'expected', `${name}.json`), 'utf8')) as Genuine;

// ---------------------------------------------------------------------------------------------
// LanceDbWriter (vector/adapters/lancedb_adapter.py)
// ---------------------------------------------------------------------------------------------

/** `LanceDbWriter` schema (lancedb_adapter.py:77-81): pyarrow fields are nullable by default. */
const LANCE_SCHEMA = new Schema([
  new Field('id', new Utf8(), true),
  new Field('vector', new FixedSizeList(DIM, new Field('item', new Float32(), true)), true),
  new Field('payload', new Utf8(), true),
]);

/** One shard's rows in insertion order. */
interface ShardRows {
  ids: Array<number | string>;
  rows: number[];
}

/**
 * `LanceDbWriter` for one shard: `add_batch` (one batch: every shard has < batch_size 10,000
 * rows, vector/config.py:94) = `create_table("vector_index", data, schema)` with `str(id)`
 * (lancedb_adapter.py:95-129), payload `json.dumps({"label": n})`; then `flush()` `builds` times
 * (lancedb_adapter.py:134-190: IVF_HNSW_PQ, m 20, ef_construction 300,
 * num_partitions max(1, min(n // 256, 256)), num_sub_vectors min(dim // 16, 1) = 1), db_bytes
 * summed after build `bytesAfter` (seal, :192-213).
 * @returns db_bytes as shardyfusion records it.
 */
async function writeLanceShard(localDir: string, shard: ShardRows, metric: 'l2' | 'cosine', builds: number, bytesAfter: number): Promise<number> {
  const n = shard.ids.length;
  const flat = new Float32Array(n * DIM);
  shard.rows.forEach((r, i) => flat.set(row(r), i * DIM));
  const structData = makeData({
    type: new Struct(LANCE_SCHEMA.fields),
    length: n,
    nullCount: 0,
    children: [
      vectorFromArray(shard.ids.map(String), new Utf8()).data[0],
      makeData({ type: LANCE_SCHEMA.fields[1].type as FixedSizeList<Float32>, length: n, nullCount: 0, child: makeData({ type: new Float32(), length: n * DIM, data: flat }) }),
      vectorFromArray(shard.rows.map((r) => pyDumps({ label: label(r) })), new Utf8()).data[0],
    ],
  });
  mkdirSync(localDir, { recursive: true });
  const db = await lancedb.connect(localDir);
  const table = await db.createTable('vector_index', new ArrowTable(LANCE_SCHEMA, [new RecordBatch(LANCE_SCHEMA, structData)]));
  let dbBytes = 0;
  for (let b = 1; b <= builds; b++) {
    await table.createIndex('vector', {
      config: lancedb.Index.hnswPq({ distanceType: metric, m: 20, efConstruction: 300, numPartitions: Math.max(1, Math.min(Math.floor(n / 256), 256)), numSubVectors: 1 }),
    });
    if (b === bytesAfter) dbBytes = folderBytes(join(localDir, 'vector_index.lance'));
  }
  table.close();
  return dbBytes;
}

function folderBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) total += statSync(join(e.parentPath, e.name)).size;
  return total;
}

// ---------------------------------------------------------------------------------------------
// DefaultSlateDbAdapter (slatedb_adapter.py)
// ---------------------------------------------------------------------------------------------

/**
 * `DefaultSlateDbAdapter` for one shard: `DbBuilder("", ObjectStore.resolve(db_url))` with default
 * settings (:203-205), one `WriteBatch` of every pair through `Db.write` (:261-272), `flush()` =
 * `flush_with_options(FlushOptions(flush_type=WAL))` (:274-279), `close()` = `shutdown()` (:299-301).
 */
async function writeSlateShard(dir: string, pairs: Array<[Uint8Array, Uint8Array]>): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const store = ObjectStore.resolve(pathToFileURL(dir).href);
  const builder = new DbBuilder('', store);
  const db = await builder.build();
  try {
    const wb = new WriteBatch();
    for (const [k, v] of pairs) wb.put(k, v);
    await db.write(wb);
    wb.dispose();
    await db.flush_with_options({ flush_type: 'Wal' });
    await db.shutdown();
  } finally {
    db.dispose();
    store.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// Manifest, pointer, run record (manifest.py:202-322, manifest_store.py, run_registry.py)
// ---------------------------------------------------------------------------------------------

const BUILD_META_DDL = `CREATE TABLE build_meta (
    run_id           TEXT    NOT NULL,
    created_at       TEXT    NOT NULL,
    num_dbs          INTEGER NOT NULL,
    s3_prefix        TEXT    NOT NULL,
    key_col          TEXT    NOT NULL,
    sharding         TEXT    NOT NULL,
    db_path_template TEXT    NOT NULL,
    shard_prefix     TEXT    NOT NULL,
    format_version   INTEGER NOT NULL,
    key_encoding     TEXT    NOT NULL,
    custom           TEXT    NOT NULL DEFAULT '{}'
)`;
const SHARDS_DDL = `CREATE TABLE shards (
    db_id         INTEGER NOT NULL PRIMARY KEY,
    db_url        TEXT,
    attempt       INTEGER NOT NULL,
    row_count     INTEGER NOT NULL,
    db_bytes      INTEGER NOT NULL,
    min_key       TEXT,
    max_key       TEXT,
    checkpoint_id TEXT,
    writer_info   TEXT    NOT NULL DEFAULT '{}'
)`;
const WRITER_INFO = pyDumps({ attempt: 0, duration_ms: 0, stage_id: null, task_attempt_id: null }, true);
/** `manifest_safe_sharding` of a HASH spec, as both genuine samples store it. */
const HASH_SHARDING = pyDumps({ cel_columns: null, cel_expr: null, hash_algorithm: 'xxh3_64', routing_values: null, strategy: 'hash' }, true);

interface ShardMeta {
  db_id: number;
  row_count: number;
  db_bytes: number;
  min_key: string | null;
  max_key: string | null;
  checkpoint_id: string;
}
interface Publish {
  prefixDir: string;
  name: string;
  runId: string;
  writerType: string;
  keyCol: string;
  keyEncoding: string;
  custom: Json;
  shards: ShardMeta[];
  startedMs: number;
}

/** Writes the SQLite manifest, the run record and `_CURRENT` (last), as shardyfusion publishes them. */
function publish(p: Publish): { manifestRef: string } {
  const prefix = `s3://${BUCKET}/${p.name}`;
  const now = Date.now();
  const createdAt = pyTimestamp(now, 101);
  const manifestTs = pyTimestamp(now, 251);
  const manifestKey = `manifests/${manifestTs}_run_id=${p.runId}/manifest`;
  const con = new Database(':memory:');
  con.exec(BUILD_META_DDL);
  con.exec(SHARDS_DDL);
  con.prepare('INSERT INTO build_meta (run_id, created_at, num_dbs, s3_prefix, key_col, sharding, db_path_template, shard_prefix, format_version, key_encoding, custom) VALUES (?,?,?,?,?,?,?,?,?,?,?)')
    .run(p.runId, createdAt, 4, prefix, p.keyCol, HASH_SHARDING, 'db={db_id:05d}', 'shards', 4, p.keyEncoding, pyDumps(p.custom, true));
  const ins = con.prepare('INSERT INTO shards (db_id, db_url, attempt, row_count, db_bytes, min_key, max_key, checkpoint_id, writer_info) VALUES (?,?,?,?,?,?,?,?,?)');
  for (const s of p.shards) {
    ins.run(s.db_id, `${prefix}/${shardPath(p.runId, s.db_id)}`, 0, s.row_count, s.db_bytes, s.min_key, s.max_key, s.checkpoint_id, WRITER_INFO);
  }
  const bytes = con.serialize();
  con.close();
  mkdirSync(join(p.prefixDir, manifestKey, '..'), { recursive: true });
  writeFileSync(join(p.prefixDir, manifestKey), bytes);
  const manifestRef = `${prefix}/${manifestKey}`;
  const updated = pyTimestamp(now, 515);
  // run_registry.py:33,157-165: runs/<started ts>_run_id=<id>_<uuid hex>/run.yaml (yaml.safe_dump, sorted keys).
  const runDir = join(p.prefixDir, 'runs', `${pyTimestamp(p.startedMs, 942)}_run_id=${p.runId}_${randomUUID().replaceAll('-', '')}`);
  mkdirSync(runDir, { recursive: true });
  writeFileSync(
    join(runDir, 'run.yaml'),
    [
      'db_path_template: db={db_id:05d}',
      'error_message: null',
      'error_type: null',
      'format_version: 1',
      `lease_expires_at: '${pyTimestamp(now, 816)}'`,
      `manifest_ref: ${manifestRef}`,
      `run_id: ${p.runId}`,
      `s3_prefix: ${prefix}`,
      'shard_prefix: shards',
      `started_at: '${pyTimestamp(p.startedMs, 628)}'`,
      'status: succeeded',
      `updated_at: '${pyTimestamp(now, 816)}'`,
      `writer_type: ${p.writerType}`,
      '',
    ].join('\n'),
  );
  // manifest_store.py:566-582: compact JSON, sorted keys.
  const pointer = { format_version: 1, manifest_content_type: 'application/x-sqlite3', manifest_ref: manifestRef, run_id: p.runId, updated_at: updated };
  writeFileSync(join(p.prefixDir, '_CURRENT'), JSON.stringify(pointer));
  return { manifestRef };
}

const shardPath = (runId: string, dbId: number): string => `shards/run_id=${runId}/db=${String(dbId).padStart(5, '0')}/attempt=00`;
const checkpointId = (): string => randomUUID().replaceAll('-', '');

// ---------------------------------------------------------------------------------------------
// shardyfusion's LanceDB read path (lancedb_adapter.py:383-419 + vector/_merge.py:18-35)
// ---------------------------------------------------------------------------------------------

interface LanceHit {
  id: string;
  distance: number;
  payload: string | null;
}

/** `table.search(q).limit(k)` on one shard: no distance type, nprobes, ef or refine. */
async function shardyfusionLanceSearch(table: lancedb.Table, q: Float32Array, k = TOP_K): Promise<LanceHit[]> {
  const rows = (await table.vectorSearch(q).limit(k).toArray()) as Array<{ id: string; _distance: number; payload: string | null }>;
  return rows.map((r) => ({ id: r.id, distance: r._distance, payload: r.payload }));
}

/**
 * shardyfusion's answer over `shardIds` (in probe order) as recorded: `results` (top 10), and, as
 * the genuine kit records them from a top-20 search, `ties_at_k` (further ids whose distance equals
 * the 10th) and `score_after_k` (the 11th distance).
 */
async function recordedAnswer(tables: Map<number, lancedb.Table>, shardIds: readonly number[], q: Float32Array): Promise<Json> {
  const present = shardIds.filter((s) => tables.has(s));
  const results = mergeStable(await Promise.all(present.map((s) => shardyfusionLanceSearch(tables.get(s)!, q))));
  const wide = mergeStable(await Promise.all(present.map((s) => shardyfusionLanceSearch(tables.get(s)!, q, 2 * TOP_K))), 2 * TOP_K);
  const kth = results[results.length - 1]?.distance;
  const inTop = new Set(results.map((h) => h.id));
  return {
    results: results.map((h) => ({ id: h.id, distance: h.distance, payload: h.payload })),
    ties_at_k: wide.filter((h) => h.distance === kth && !inTop.has(h.id)).map((h) => h.id),
    score_after_k: wide[TOP_K]?.distance ?? null,
  };
}

/** `heapq.nsmallest(top_k, chain(per-shard results), key=score)`: stable, earlier shard first on ties. */
function mergeStable(perShard: LanceHit[][], k = TOP_K): LanceHit[] {
  return perShard.flat().map((h, i) => [h, i] as const).sort((a, b) => a[0].distance - b[0].distance || a[1] - b[1]).slice(0, k).map(([h]) => h);
}

// ---------------------------------------------------------------------------------------------
// The two snapshots
// ---------------------------------------------------------------------------------------------

/** Opens every shard's `vector_index` table under `<shard folder>/<sub>` ('' or 'vector'). */
async function openShardTables(prefixDir: string, runId: string, metas: ReadonlyArray<{ db_id: number }>, sub: string): Promise<Map<number, lancedb.Table>> {
  const tables = new Map<number, lancedb.Table>();
  for (const m of metas) tables.set(m.db_id, await (await lancedb.connect(join(prefixDir, shardPath(runId, m.db_id), sub))).openTable('vector_index'));
  return tables;
}

/** The exact top-k over every table (a flat scan, LanceDB's `_distance`). */
async function exactTopOf(tables: Map<number, lancedb.Table>, q: Float32Array, metric: 'l2' | 'cosine'): Promise<Array<{ id: string; distance: number }>> {
  const exact = await Promise.all([...tables.values()].map(async (t) => (await t.vectorSearch(q).distanceType(metric).bypassVectorIndex().limit(TOP_K).toArray()) as Array<{ id: string; _distance: number }>));
  return exact.flat().sort((a, b) => a._distance - b._distance).slice(0, TOP_K).map((h) => ({ id: h.id, distance: h._distance }));
}

async function makeLanceCluster(outRoot: string): Promise<Json> {
  const name = 'fm-lancedb-cluster-l2';
  const METRIC = 'l2';
  const g = genuine('fm-cluster-l2');
  const prefixDir = join(outRoot, name);
  const runId = randomUUID();
  const startedMs = Date.now();
  // vector/writer.py:60-104: records in row order go to their shard's writer.
  const shardOf = new Map(g.id_shards.map(([id, s]) => [Number(id), s]));
  const shards = new Map<number, ShardRows>();
  for (let r = 0; r < BASE_ROWS; r++) {
    const s = shardOf.get(r);
    if (s === undefined) throw new Error(`fm-cluster-l2 has no shard for id ${r}`);
    if (!shards.has(s)) shards.set(s, { ids: [], rows: [] });
    shards.get(s)!.ids.push(r);
    shards.get(s)!.rows.push(r);
  }
  const metas: ShardMeta[] = [];
  for (const dbId of [...shards.keys()].sort((a, b) => a - b)) {
    const dir = join(prefixDir, shardPath(runId, dbId));
    // Vector-only: seal() builds once and measures (vector/writer.py:105-108), close() builds again.
    const dbBytes = await writeLanceShard(dir, shards.get(dbId)!, 'l2', 2, 1);
    metas.push({ db_id: dbId, row_count: shards.get(dbId)!.ids.length, db_bytes: dbBytes, min_key: null, max_key: null, checkpoint_id: checkpointId() });
  }
  // vector/_distributed.py:396-414: the genuine sample's centroids, byte for byte.
  const genuineDir = mkdtempSync(join(tmpdir(), 'sf-genuine-'));
  execFileSync('tar', ['-xzf', join(FIXTURES, 'snapshots', 'fm-cluster-l2.tar.gz'), '-C', genuineDir]);
  const centroidsFile = execFileSync('find', [join(genuineDir, 'fm-cluster-l2', 'vector_meta'), '-name', 'centroids.npy'], { encoding: 'utf8' }).trim();
  const centroidsKey = `vector_meta/run_id=${runId}/centroids.npy`;
  mkdirSync(join(prefixDir, centroidsKey, '..'), { recursive: true });
  writeFileSync(join(prefixDir, centroidsKey), readFileSync(centroidsFile));
  rmSync(genuineDir, { recursive: true, force: true });
  publish({
    prefixDir,
    name,
    runId,
    writerType: 'vector-python',
    keyCol: '_vector_id',
    keyEncoding: 'raw',
    startedMs,
    shards: metas,
    // vector/_distributed.py:458-470
    custom: {
      vector: {
        centroids_ref: `s3://${BUCKET}/${name}/${centroidsKey}`,
        dim: DIM,
        index_type: 'hnsw',
        metric: 'l2',
        num_probes: 2,
        quantization: null,
        sharding_strategy: 'cluster',
        total_vectors: BASE_ROWS,
      },
    },
  });
  // Answers: shardyfusion's LanceDB query on each probed shard, merged.
  const tables = await openShardTables(prefixDir, runId, metas, '');
  const queries: Json[] = [];
  for (const gq of g.queries) {
    const q = row(gq.t10k_row);
    const exactTop = await exactTopOf(tables, q, METRIC);
    queries.push({
      query_index: gq.query_index,
      t10k_row: gq.t10k_row,
      query_label: gq.query_label,
      route_default_probes: gq.route_default_probes!,
      route_all_probes: gq.route_all_probes!,
      lance_default: await recordedAnswer(tables, gq.route_default_probes!, q),
      lance_all_shards: await recordedAnswer(tables, [0, 1, 2, 3], q),
      lance_exact_all_shards: exactTop,
      genuine_sqlite_vec_all_shards: gq.all_shards.results as Json,
    });
  }
  for (const t of tables.values()) t.close();
  return { sample: name, made_from_source: true, run_id: runId, shards: metas as unknown as Json, id_shards: g.id_shards as Json, queries };
}


async function makeComposite(outRoot: string): Promise<Json> {
  const name = 'fm-composite-utf8-cosine';
  const METRIC = 'cosine';
  const g = genuine('fm-unified-utf8-cosine');
  const prefixDir = join(outRoot, name);
  const runId = checkpointId(); // KV writer: uuid4 hex (writer/python/writer.py:187)
  const startedMs = Date.now();
  const shardOfKey = new Map(g.key_shards!.map(([k, s]) => [k, s]));
  const shards = new Map<number, ShardRows & { keys: string[] }>();
  for (let r = 0; r < BASE_ROWS; r++) {
    const key = `fm-${String(r).padStart(5, '0')}`;
    const s = shardOfKey.get(key);
    if (s === undefined) throw new Error(`fm-unified-utf8-cosine routes no shard for ${key}`);
    if (!shards.has(s)) shards.set(s, { ids: [], rows: [], keys: [] });
    const sh = shards.get(s)!;
    sh.ids.push(key);
    sh.rows.push(r);
    sh.keys.push(key);
  }
  const metas: ShardMeta[] = [];
  const enc = new TextEncoder();
  for (const dbId of [...shards.keys()].sort((a, b) => a - b)) {
    const sh = shards.get(dbId)!;
    const dir = join(prefixDir, shardPath(runId, dbId));
    // KV value: json.dumps({"label","row"}, sort_keys=True, separators=(",",":")); key utf8 bytes.
    const pairs = sh.rows.map((r, i): [Uint8Array, Uint8Array] => [enc.encode(sh.keys[i]), enc.encode(JSON.stringify({ label: label(r), row: r }))]);
    // _finalize_single_process_adapters (writer/python/writer.py:900-906): flush() (KV WAL flush,
    // vector flush = build 1), seal() (build 2, db_bytes = 0 + lance bytes), close() (vector first:
    // build 3 + upload, then SlateDB shutdown; composite_adapter.py:178-226).
    await writeSlateShard(dir, pairs);
    const dbBytes = await writeLanceShard(join(dir, 'vector'), sh, 'cosine', 3, 2);
    const sorted = [...sh.keys].sort();
    metas.push({ db_id: dbId, row_count: sh.ids.length, db_bytes: dbBytes, min_key: JSON.stringify(sorted[0]), max_key: JSON.stringify(sorted[sorted.length - 1]), checkpoint_id: checkpointId() });
  }
  publish({
    prefixDir,
    name,
    runId,
    writerType: 'python',
    keyCol: '_key',
    keyEncoding: 'utf8',
    startedMs,
    shards: metas,
    // _writer_core.py:464-481 (no sqlite_sidecar: the KV factory is not SQLite, :525-553)
    custom: { vector: { backend: 'lancedb', dim: DIM, index_type: 'hnsw', kv_backend: 'slatedb', metric: 'cosine', quantization: null, unified: true } },
  });
  const tables = await openShardTables(prefixDir, runId, metas, 'vector');
  const queries: Json[] = [];
  for (const gq of g.queries) {
    const q = row(gq.t10k_row);
    const exactTop = await exactTopOf(tables, q, METRIC);
    queries.push({
      query_index: gq.query_index,
      t10k_row: gq.t10k_row,
      query_label: gq.query_label,
      lance_all_shards: await recordedAnswer(tables, [0, 1, 2, 3], q),
      lance_exact_all_shards: exactTop,
      genuine_sqlite_vec_all_shards: gq.all_shards.results as Json,
    });
  }
  for (const t of tables.values()) t.close();
  return {
    sample: name,
    made_from_source: true,
    run_id: runId,
    shards: metas as unknown as Json,
    genuine_shards: g.published.shards as Json,
    key_shards: g.key_shards as Json,
    kv_get: g.kv_get!,
    kv_multi_get: g.kv_multi_get!,
    queries,
  };
}

async function main(): Promise<void> {
  const outRoot = mkdtempSync(join(tmpdir(), 'sf-from-source-'));
  const packDir = join(FIXTURES, 'snapshots-from-source');
  const expDir = join(FIXTURES, 'expected-from-source');
  mkdirSync(packDir, { recursive: true });
  mkdirSync(expDir, { recursive: true });
  const made: Array<[string, Json]> = [
    ['fm-lancedb-cluster-l2', await makeLanceCluster(outRoot)],
    ['fm-composite-utf8-cosine', await makeComposite(outRoot)],
  ];
  for (const [name, expected] of made) {
    execFileSync('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '-czf', join(packDir, `${name}.tar.gz`), '-C', outRoot, name]);
    writeFileSync(join(expDir, `${name}.json`), `${JSON.stringify(expected, null, 1)}\n`);
    console.log(`${name}: ${statSync(join(packDir, `${name}.tar.gz`)).size} bytes packed`);
  }
  console.log(`unpacked copy left in ${outRoot}`);
}

await main();
