/**
 * `shardfleet build` and `shardfleet publish`: build a sharded snapshot from an input file and
 * publish it, in one process or as a distributed build (`--plan`, `--worker i/N`, `publish`).
 */
// Heavy modules (zod schemas, native index bindings, the AWS SDK, the builders) are imported
// inside the actions, so `shardfleet --help` and `--version` load none of them.
import type { FilterColumn } from '../common/filter/filter-expr.ts';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Logger } from 'pino';
import type { Metric } from '../common/distance.ts';
import { BACKENDS, CEL_COLUMN_TYPES, FILTER_COLUMN_TYPES, LANCE_INDEX_TYPE_NAMES, METRICS, USEARCH_QUANTIZATIONS, defaultStrategy } from '../common/choice-lists.ts';
import { ConfigValidationError } from '../common/errors.ts';
import type { Backend } from '../common/manifest.ts';
import type { UsearchQuantization } from '../common/usearch-layout.ts';
import type { CelColumnType } from '../common/routing/routing-context.ts';
import type { ObjectStore } from '../common/storage/object-store.ts';
import type { BackendOptions, ShardingOptions } from '../writer/build-options.ts';
import type { LanceIndexType } from '../writer/backends/lancedb-shard-writer.ts';
import type { BuildResult } from '../writer/build-snapshot.ts';
import { DEFAULT_INPUT_LIMITS } from '../writer/input/input-limits.ts';
import type { VectorFormat } from '../writer/input/open-vector-source.ts';
import type { VectorSource } from '../writer/input/vector-record.ts';
import { factorArg, intArg, listArg, recallArg } from './arg-parsers.ts';
import { DEFAULT_BALANCE_FACTOR } from '../writer/balance-defaults.ts';
import { ShardfleetCommand } from './env-options.ts';
import { addStoreOptions, assertStoreExists, openExistingStoreFromFlags, openStoreFromFlags, s3ConnectionFromFlags, type StoreFlags } from './store-options.ts';

const FORMATS = ['auto', 'idx', 'npy', 'jsonl', 'fvecs', 'bvecs', 'ivecs', 'parquet'] as const;

interface BuildFlags extends StoreFlags {
  input: string;
  format: (typeof FORMATS)[number];
  labels?: string;
  filterColumns?: FilterColumn[];
  ids?: string;
  start?: number;
  limit?: number;
  maxDim: number;
  maxLineBytes: number;
  maxJsonDepth: number;
  vectorColumn?: string;
  idColumn?: string;
  keyColumn?: string;
  valueColumns?: string[];
  payloadColumns?: string[];
  routingColumns?: string[];
  shardIdColumn?: string;
  /** Unset: {@link defaultStrategy} (hash with --kv, else cluster). */
  strategy?: ShardingOptions['strategy'];
  numDbs?: number;
  numProbes: number;
  targetRecall?: number;
  minRecall?: number;
  maxProbes?: number;
  recallQueries?: number;
  metric: string;
  seed: number;
  sampleSize?: number;
  kmeansIterations: number;
  centroids?: string;
  /**
   * A factor, true (bare `--balanced`: {@link DEFAULT_BALANCE_FACTOR}), false (`--no-balanced`,
   * `--balanced off`), or undefined (not given: balanced at the default factor, except with
   * `--centroids`, whose given centroids define the shards as they are).
   */
  balanced?: number | boolean;
  numHashBits?: number;
  center: boolean;
  celExpr?: string;
  celColumns?: Record<string, CelColumnType>;
  routingValues?: (string | number | boolean)[];
  backend: Backend;
  indexType: LanceIndexType;
  hnswMinRows: number;
  numPartitions: number;
  numSubVectors?: number;
  m?: number;
  efConstruction?: number;
  efSearch?: number;
  quantization?: string;
  storeVectors?: boolean;
  onDuplicate: 'error' | 'last';
  kv?: 'slatedb' | 'sqlite';
  concurrency: number;
  runId?: string;
  plan?: boolean;
  worker?: string;
  workerWait: number;
  progress: boolean;
}

/** Parses `--balanced`: a factor >= 1, or `off`. @throws InvalidArgumentError otherwise. */
function balanceArg(value: string): number | false {
  return value.trim() === 'off' ? false : factorArg(value);
}

/** Parses `name:type,name:type` CEL column declarations. */
function celColumnsArg(value: string): Record<string, CelColumnType> {
  const out: Record<string, CelColumnType> = {};
  for (const item of listArg(value)) {
    const [name, type] = item.split(':').map((s) => s.trim());
    if (!name || !(CEL_COLUMN_TYPES as readonly string[]).includes(type)) {
      throw new InvalidArgumentError(`"${item}" is not name:type with type one of ${CEL_COLUMN_TYPES.join(', ')}`);
    }
    out[name] = type as CelColumnType;
  }
  return out;
}

/** Parses routing values: a JSON array (`["eu","us"]`, `[1,2]`) or comma-separated strings. */
function routingValuesArg(value: string): (string | number | boolean)[] {
  if (value.trim().startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      throw new InvalidArgumentError(`"${value}" is not a JSON array`);
    }
    if (!Array.isArray(parsed) || !parsed.every((v) => ['string', 'number', 'boolean'].includes(typeof v))) {
      throw new InvalidArgumentError('routing values must be a JSON array of strings, numbers or booleans');
    }
    return parsed as (string | number | boolean)[];
  }
  return listArg(value);
}

/** The CLUSTER balance factor the flags ask for; undefined = plain nearest-centroid shards. */
function balanceFactorFromFlags(f: BuildFlags): number | undefined {
  if (f.balanced === undefined) return f.centroids === undefined ? DEFAULT_BALANCE_FACTOR : undefined;
  if (f.balanced === true) return DEFAULT_BALANCE_FACTOR;
  return f.balanced === false ? undefined : f.balanced;
}

function shardingFromFlags(f: BuildFlags): ShardingOptions {
  const numDbs = f.numDbs ?? 8;
  switch (f.strategy ?? defaultStrategy(f.kv !== undefined)) {
    case 'cluster':
      return {
        strategy: 'cluster',
        numDbs,
        numProbes: f.numProbes,
        balanceFactor: balanceFactorFromFlags(f),
        centroidsPath: f.centroids,
        kmeansIterations: f.kmeansIterations,
      };
    case 'lsh':
      return { strategy: 'lsh', numDbs, numProbes: f.numProbes, numHashBits: f.numHashBits, center: f.center };
    case 'explicit':
      return { strategy: 'explicit', numDbs };
    case 'hash':
      return { strategy: 'hash', numDbs };
    case 'cel':
      if (!f.celExpr || !f.celColumns) throw new InvalidArgumentError('--strategy cel needs --cel-expr and --cel-columns');
      return { strategy: 'cel', numDbs: f.numDbs, celExpr: f.celExpr, celColumns: f.celColumns, routingValues: f.routingValues };
  }
}

/** `--quantization` values per backend; the first is the default. */
const QUANTIZATIONS: Record<Backend, readonly string[]> = {
  usearch: ['f16', ...USEARCH_QUANTIZATIONS.filter((q) => q !== 'f16')],
  'sqlite-vec': ['none', 'int8'],
  lancedb: [],
};

/**
 * The backend options the flags give.
 * @throws ConfigValidationError naming the flag: a `--quantization` the backend does not have,
 *   `--ef-search` with a backend other than usearch.
 */
function backendFromFlags(f: BuildFlags): BackendOptions {
  const allowed = QUANTIZATIONS[f.backend];
  if (f.quantization !== undefined && !allowed.includes(f.quantization)) {
    throw new ConfigValidationError(
      allowed.length === 0
        ? `--quantization does not apply to --backend ${f.backend} (use --index-type hnsw_sq / ivf_pq for quantized LanceDB indexes)`
        : `--quantization ${f.quantization} is not one of ${allowed.join(', ')} for --backend ${f.backend}`,
    );
  }
  if (f.efSearch !== undefined && f.backend !== 'usearch') {
    throw new ConfigValidationError(`--ef-search applies to --backend usearch; for ${f.backend} pass ef per query (shardfleet search --ef)`);
  }
  if (f.storeVectors === true && f.backend !== 'usearch') {
    throw new ConfigValidationError(`--store-vectors applies to --backend usearch (${f.backend} shards always hold the float32 vectors)`);
  }
  if (f.backend === 'usearch') {
    return { backend: 'usearch', quantization: (f.quantization ?? allowed[0]) as UsearchQuantization, m: f.m, efConstruction: f.efConstruction, efSearch: f.efSearch, ...(f.storeVectors ? { storeVectors: true } : {}) };
  }
  if (f.backend === 'sqlite-vec') return { backend: 'sqlite-vec', quantization: (f.quantization ?? allowed[0]) as 'none' | 'int8' };
  return {
    backend: 'lancedb',
    plan: {
      indexType: f.indexType,
      hnswMinRows: f.hnswMinRows,
      numPartitions: f.numPartitions,
      numSubVectors: f.numSubVectors,
      m: f.m,
      efConstruction: f.efConstruction,
    },
  };
}

/**
 * Opens `--input` (a file, folder, glob, file:// or s3:// URL). S3 stores opened for it use the
 * `--store` S3 flags and are added to `opened` for the caller to close.
 */
async function openSource(f: BuildFlags, opened: ObjectStore[]): Promise<VectorSource> {
  const { openInputSource } = await import('../writer/input/open-vector-source.ts');
  const { openObjectStore } = await import('../common/storage/open-object-store.ts');
  return openInputSource({
    openStore: (url) => {
      const store = openObjectStore(url, s3ConnectionFromFlags(f));
      opened.push(store);
      return store;
    },
    format: f.format as VectorFormat | 'auto',
    input: f.input,
    labelsPath: f.labels,
    idsPath: f.ids,
    start: f.start,
    limit: f.limit,
    vectorColumn: f.vectorColumn,
    idColumn: f.idColumn,
    keyColumn: f.keyColumn,
    valueColumns: f.valueColumns,
    payloadColumns: f.payloadColumns,
    routingColumns: f.routingColumns,
    shardIdColumn: f.shardIdColumn,
    limits: { maxDim: f.maxDim, maxLineBytes: f.maxLineBytes, maxJsonDepth: f.maxJsonDepth },
  });
}

async function printPublished(store: ObjectStore, result: BuildResult): Promise<void> {
  const { formatRecallCurve } = await import('../writer/routing-recall.ts');
  const m = result.manifest;
  process.stdout.write(
    `published run ${result.runId}: ${m.build_stats.total_vectors} vectors, ${m.sharding.num_dbs} shards (${m.sharding.strategy}, ${m.index.backend}), ` +
      `${m.kv ? `kv ${m.kv.backend} (${m.kv.key_type} keys), ` : ''}${m.build_stats.total_bytes} bytes, ${m.build_stats.build_seconds} s\nmanifest ${store.url}/${result.manifestKey}\n`,
  );
  const sizes = m.shards.map((x) => x.vector_count);
  if (sizes.length > 0) {
    const mean = sizes.reduce((a, b) => a + b, 0) / sizes.length;
    const balance = m.sharding.strategy === 'cluster' ? (m.sharding.balance_factor === null ? ', unbalanced' : `, balanced ${m.sharding.balance_factor}`) : '';
    process.stdout.write(
      `shard sizes: min ${Math.min(...sizes)}, max ${Math.max(...sizes)}, mean ${mean.toFixed(1)} vectors (max/mean ${mean > 0 ? (Math.max(...sizes) / mean).toFixed(2) : '-'}${balance})\n`,
    );
  }
  const rr = m.routing_recall;
  if (rr) process.stdout.write(`routing recall@${rr.k} (${rr.sample_queries} sample queries), default num_probes ${m.sharding.num_probes}: ${formatRecallCurve(rr.recall_at_probes)}\n`);
  const sr = m.search_recall;
  if (sr) {
    const { formatSearchRecall } = await import('../writer/search-recall.ts');
    process.stdout.write(
      `end-to-end recall@${sr.k} (${sr.sample_queries} held-out sample queries, exact over ${sr.ground_truth_vectors} vectors, ${sr.seconds ?? '?'} s) by num_probes and ef:\n${formatSearchRecall(sr)}\n`,
    );
  }
}

/**
 * Parses `--filter-columns`: comma-separated `name:type` (type string, int, float or bool).
 * @throws InvalidArgumentError naming the entry.
 */
export function filterColumnsArg(value: string): FilterColumn[] {
  return value.split(',').map((entry) => {
    const [name, type, ...rest] = entry.trim().split(':');
    if (!name || !type || rest.length > 0) throw new InvalidArgumentError(`"${entry}" is not name:type (e.g. label:int)`);
    if (!(FILTER_COLUMN_TYPES as readonly string[]).includes(type)) throw new InvalidArgumentError(`"${entry}": type must be one of ${FILTER_COLUMN_TYPES.join(', ')}`);
    return { name, type: type as FilterColumn['type'] };
  });
}

async function runBuild(f: BuildFlags, store: ObjectStore, log: Logger): Promise<void> {
  const inputStores: ObjectStore[] = [];
  try {
    await runBuildWith(f, store, log, inputStores);
  } finally {
    await Promise.all(inputStores.map((s) => s.close()));
  }
}

async function runBuildWith(f: BuildFlags, store: ObjectStore, log: Logger, inputStores: ObjectStore[]): Promise<void> {
  if (f.plan && f.worker) throw new InvalidArgumentError('--plan and --worker are separate steps; pass one of them');
  if (!f.worker) {
    // A run published at a catalog root would hide its collections (a worker writes no _CURRENT).
    const { assertNotCatalogRoot } = await import('../common/catalog/catalog-root-guard.ts');
    await assertNotCatalogRoot(store, '--store');
  }
  const source = await openSource(f, inputStores);
  const { MetricSchema } = await import('../common/distance.ts');
  const metric: Metric = MetricSchema.parse(f.metric);
  const { planDistributedBuild, runBuildWorker } = await import('../writer/distributed-build.ts');
  if (f.worker) {
    if (!f.runId) throw new InvalidArgumentError('--worker needs --run-id (the run planned with --plan)');
    const { parseWorkerSlice } = await import('../writer/shard-build.ts');
    const worker = parseWorkerSlice(f.worker);
    await assertStoreExists(store, f.store); // a worker reads the planned run
    const ids = await runBuildWorker({ store, runId: f.runId, source, worker, concurrency: f.concurrency, progress: f.progress, waitSeconds: f.workerWait, log });
    process.stdout.write(`worker ${worker.index}/${worker.count} of run ${f.runId} built shards ${ids.join(', ') || '(none)'}\n`);
    return;
  }
  const common = {
    store,
    source,
    sharding: shardingFromFlags(f),
    backend: backendFromFlags(f),
    metric,
    seed: f.seed,
    sampleSize: f.sampleSize,
    onDuplicate: f.onDuplicate,
    recall: { targetRecall: f.targetRecall, minRecall: f.minRecall, maxProbes: f.maxProbes, sampleQueries: f.recallQueries },
    ...(f.kv === undefined ? {} : { kv: { backend: f.kv } }),
    ...(f.filterColumns === undefined ? {} : { filterColumns: f.filterColumns }),
    runId: f.runId,
    progress: f.progress,
    log,
  };
  if (f.plan) {
    const plan = await planDistributedBuild(common);
    process.stdout.write(
      `planned run ${plan.run_id}: ${plan.input.vectors} vectors, ${plan.sharding.num_dbs} shards; ` +
        `next: build --worker i/N --run-id ${plan.run_id} (same input), then publish --run-id ${plan.run_id}\n`,
    );
    return;
  }
  const { buildSnapshot } = await import('../writer/build-snapshot.ts');
  await printPublished(store, await buildSnapshot({ ...common, concurrency: f.concurrency }));
}

/** The `build` command. */
export function buildCommand(): Command {
  const cmd = new ShardfleetCommand('build').description(
    'build a sharded snapshot from vectors and publish it (manifest, then _CURRENT); or one step of a distributed build (--plan, --worker i/N)',
  );
  addStoreOptions(cmd)
    .requiredOption(
      '--input <path>',
      'input: IDX images (.gz), .npy [n, dim], .jsonl, .fvecs/.bvecs/.ivecs or .parquet; or a folder, a glob (quoted: "data/part-*.parquet") or s3://bucket/prefix/ of Parquet (or JSONL) part files (_SUCCESS, _*, .* and *.crc skipped); file:// and s3:// URLs (S3 with the --s3-* flags)',
    )
    .addOption(new Option('--format <format>', 'input format').choices(FORMATS).default('auto'))
    .option('--labels <path>', 'IDX labels file (columns label / label_name)')
    .option('--ids <path>', '.npy/.fvecs input: ids file (.npy of integers, or one id per line)')
    .option('--start <n>', 'first record to read (0-based)', intArg)
    .option('--limit <n>', 'number of records to read', intArg)
    .option('--max-dim <n>', 'largest vector dimension accepted from any input header or record (checked before anything is allocated)', intArg, DEFAULT_INPUT_LIMITS.maxDim)
    .option('--max-line-bytes <n>', 'JSONL: longest line accepted, in bytes', intArg, DEFAULT_INPUT_LIMITS.maxLineBytes)
    .option('--max-json-depth <n>', 'JSONL: deepest JSON nesting accepted in a line (the line\'s object is level 1)', intArg, DEFAULT_INPUT_LIMITS.maxJsonDepth)
    .option('--vector-column <name>', 'Parquet: vector column (list<float> or fixed-size binary float32)')
    .option('--id-column <name>', 'Parquet: id column')
    .option('--key-column <name>', 'Parquet, with --kv: key column (string, integer or binary; default: the id is the key)')
    .option('--value-columns <names>', 'Parquet, with --kv: value column (string as UTF-8, binary as is, other as JSON), or several (stored as a JSON object)', listArg)
    .option('--payload-columns <names>', 'columns stored as payload (comma-separated; default all)', listArg)
    .option('--routing-columns <names>', 'columns passed to the CEL routing context (comma-separated)', listArg)
    .option('--shard-id-column <name>', 'explicit strategy: column holding each record\'s shard id (JSONL: shard_id by default)')
    .addOption(new Option('--strategy <strategy>', 'sharding strategy (default: cluster; hash with --kv)').choices(['cluster', 'lsh', 'explicit', 'cel', 'hash']))
    .option('--num-dbs <n>', 'number of shards (default 8; cel categorical: the number of routing values)', intArg)
    .option('--num-probes <n>', 'cluster/lsh: default shards probed per query', intArg, 2)
    .option('--target-recall <r>', 'cluster/lsh: set the default num-probes to the smallest whose routing recall@10, measured on a sample of the data at build time, reaches r (0 < r <= 1; overrides --num-probes)', recallArg)
    .option('--min-recall <r>', 'cluster/lsh: refuse to publish (nothing published, _CURRENT unchanged) unless the measured routing recall@10 reaches r at --max-probes (default: all shards, where it is always 1)', recallArg)
    .option('--max-probes <n>', 'cluster/lsh: the most shards --target-recall and --min-recall may probe (1..num-dbs)', intArg)
    .option('--recall-queries <n>', 'cluster/lsh: sample queries of the build-time routing recall curve (exact top-10 within up to 20,000 sample vectors; cost ~ n x 20,000 x dim); 0 = no curve', intArg, 1000)
    .addOption(new Option('--metric <metric>', 'distance metric').choices(METRICS).default('l2'))
    .option('--seed <n>', 'seed for sampling, k-means and LSH hyperplanes', intArg, 42)
    .option('--sample-size <n>', 'training sample size (default max(20000, 64 * num-dbs))', intArg)
    .option('--kmeans-iterations <n>', 'cluster: maximum Lloyd iterations', intArg, 25)
    .option('--centroids <path>', 'cluster: use these centroids (.npy float32 [num-dbs, dim]) instead of training')
    .option(
      '--balanced [factor]',
      `cluster: balanced shards (on by default at ${DEFAULT_BALANCE_FACTOR}, off with --centroids unless given): fit per-shard routing offsets so no shard holds more than factor x the mean size (on the training sample; the whole input follows up to sampling noise); "off" = plain nearest centroid`,
      balanceArg,
    )
    .option('--no-balanced', 'cluster: plain nearest-centroid shards (sizes follow the data; same as --balanced off)')
    .option('--num-hash-bits <n>', 'lsh: hyperplanes (default ceil(log2(num-dbs)))', intArg)
    .option('--no-center', 'lsh: do not subtract the sample mean before hashing')
    .option('--cel-expr <expr>', 'cel: routing expression, e.g. "shard_hash(user) % 8u" or "region"')
    .option('--cel-columns <decls>', 'cel: routing columns as name:type (int, uint, string, bytes, double, bool), comma-separated', celColumnsArg)
    .option('--routing-values <values>', 'cel categorical mode: token of each shard, JSON array or comma-separated strings', routingValuesArg)
    .addOption(new Option('--backend <backend>', 'shard index backend (usearch: HNSW, memory-mapped on nodes; lancedb; sqlite-vec: exact scan)').choices(BACKENDS).default('usearch'))
    .addOption(new Option('--index-type <type>', 'lancedb: shard index').choices(LANCE_INDEX_TYPE_NAMES).default('auto'))
    .option('--hnsw-min-rows <n>', 'lancedb auto: shards with at least this many rows get HNSW-SQ', intArg, 100_000)
    .option('--num-partitions <n>', 'lancedb ivf_*: IVF partitions per shard', intArg, 1)
    .option('--num-sub-vectors <n>', 'lancedb *_pq: PQ sub-vectors (must divide dim)', intArg)
    .option('--m <n>', 'usearch / lancedb hnsw_*: HNSW graph degree (default usearch 16, lancedb 20)', intArg)
    .option('--ef-construction <n>', 'usearch / lancedb hnsw_*: build beam width (default usearch 128, lancedb 300)', intArg)
    .option('--ef-search <n>', 'usearch: search beam width of queries that give no ef (default 64, raised by a cluster / lsh build to the smallest measured ef within 0.005 of its best recall at the default num_probes)', intArg)
    .addOption(
      new Option('--kv <backend>', 'key-value + vector snapshot: slatedb (a SlateDB store per shard beside its index) or sqlite (a kv table in each sqlite-vec shard file; needs --backend sqlite-vec); with --strategy hash (the default with --kv) or cel')
        .choices(['slatedb', 'sqlite']),
    )
    .option(
      '--filter-columns <decls>',
      'payload fields queries may filter on, as name:type (string, int, float, bool), comma-separated, e.g. label:int,label_name:string',
      filterColumnsArg,
    )
    .option('--store-vectors', 'usearch: keep every vector\'s exact float32 copy in rows.sqlite (4 x dim bytes a vector; default off for vector-only builds, on with --kv): include_vector then returns it exactly, without it the index\'s f32/f16/bf16 copy (i8: refused)')
    .option('--quantization <q>', 'vector storage: usearch f16 (default), f32, bf16, i8 (cosine only); sqlite-vec none (default), int8')
    .addOption(new Option('--on-duplicate <policy>', 'duplicate ids').choices(['error', 'last']).default('error'))
    .option('--concurrency <n>', 'shards built concurrently', intArg, 2)
    .option('--run-id <id>', 'run id (default: time + random); required with --worker')
    .option('--plan', 'distributed build step 1: validate input, train routing, store the plan; no shards')
    .option('--worker <i/N>', 'distributed build step 2 (all N workers at once): read slice i of N of the input, exchange per-shard partitions through the store, build shards i, i+N, ... of the planned run')
    .option('--worker-wait <seconds>', 'with --worker: longest wait for the other workers\' partitions', intArg, 3600)
    .option('--no-progress', 'no progress bars')
    .action(async (flags: BuildFlags) => {
      const { createLogger } = await import('../common/logger.ts');
      const log = createLogger('writer');
      const store = await openStoreFromFlags(flags);
      try {
        await runBuild(flags, store, log);
      } finally {
        await store.close();
      }
    });
  return cmd;
}

interface PublishFlags extends StoreFlags {
  runId: string;
  verify: 'sha256' | 'size';
}

/** The `publish` command (distributed build step 3). */
export function publishCommand(): Command {
  const cmd = new ShardfleetCommand('publish').description(
    'distributed build step 3: check every shard of a planned run exists with matching checksums, then publish it (manifest, then _CURRENT)',
  );
  addStoreOptions(cmd)
    .requiredOption('--run-id <id>', 'the planned run')
    .addOption(new Option('--verify <how>', 'sha256 downloads and hashes every file; size checks sizes only').choices(['sha256', 'size']).default('sha256'))
    .action(async (flags: PublishFlags) => {
      const { createLogger } = await import('../common/logger.ts');
      const { publishRun } = await import('../writer/distributed-build.ts');
      const log = createLogger('writer');
      const { assertNotCatalogRoot } = await import('../common/catalog/catalog-root-guard.ts');
      const store = await openExistingStoreFromFlags(flags);
      try {
        await assertNotCatalogRoot(store, '--store');
        await printPublished(store, await publishRun({ store, runId: flags.runId, verify: flags.verify, log }));
      } finally {
        await store.close();
      }
    });
  return cmd;
}
