/**
 * `shardfleet build`: builds and publishes a snapshot from an input file.
 */
import { Command, Option } from 'commander';
import { MetricSchema } from '../common/distance.ts';
import { createLogger } from '../common/logger.ts';
import { openVectorSource } from '../writer/input/open-vector-source.ts';
import { buildSnapshot } from '../writer/build-snapshot.ts';
import { addStoreOptions, openStoreFromFlags, type StoreFlags } from './store-options.ts';
import { intArg } from './arg-parsers.ts';

interface BuildFlags extends StoreFlags {
  input: string;
  format: 'auto' | 'idx' | 'npy' | 'jsonl';
  labels?: string;
  ids?: string;
  start?: number;
  limit?: number;
  numDbs: number;
  numProbes: number;
  metric: string;
  seed: number;
  sampleSize?: number;
  kmeansIterations: number;
  centroids?: string;
  indexType: 'auto' | 'ivf_flat' | 'hnsw_sq';
  hnswMinRows: number;
  numPartitions: number;
  m: number;
  efConstruction: number;
  onDuplicate: 'error' | 'last';
  concurrency: number;
  runId?: string;
  progress: boolean;
}

/** The `build` command. */
export function buildCommand(): Command {
  const cmd = new Command('build').description('build a sharded snapshot from vectors and publish it (manifest, then _CURRENT)');
  addStoreOptions(cmd)
    .requiredOption('--input <path>', 'input file: Fashion-MNIST IDX images (.gz), .npy [n, dim] or .jsonl')
    .addOption(new Option('--format <format>', 'input format').choices(['auto', 'idx', 'npy', 'jsonl']).default('auto'))
    .option('--labels <path>', 'IDX labels file (payload label / label_name)')
    .option('--ids <path>', '.npy input: ids file (.npy of integers, or one id per line)')
    .option('--start <n>', 'first record to read (0-based)', intArg)
    .option('--limit <n>', 'number of records to read', intArg)
    .option('--num-dbs <n>', 'number of shards', intArg, 8)
    .option('--num-probes <n>', 'default shards probed per query', intArg, 2)
    .addOption(new Option('--metric <metric>', 'distance metric').choices(MetricSchema.options).default('l2'))
    .option('--seed <n>', 'seed for sampling and k-means', intArg, 42)
    .option('--sample-size <n>', 'k-means training sample size (default max(20000, 64 * num-dbs))', intArg)
    .option('--kmeans-iterations <n>', 'maximum Lloyd iterations', intArg, 25)
    .option('--centroids <path>', 'use these centroids (.npy float32 [num-dbs, dim]) instead of training')
    .addOption(new Option('--index-type <type>', 'shard index').choices(['auto', 'ivf_flat', 'hnsw_sq']).default('auto'))
    .option('--hnsw-min-rows <n>', 'auto: shards with at least this many rows get HNSW-SQ', intArg, 100_000)
    .option('--num-partitions <n>', 'ivf_flat: IVF partitions per shard (1 = exact)', intArg, 1)
    .option('--m <n>', 'hnsw_sq: graph degree', intArg, 20)
    .option('--ef-construction <n>', 'hnsw_sq: build beam width', intArg, 300)
    .addOption(new Option('--on-duplicate <policy>', 'duplicate ids').choices(['error', 'last']).default('error'))
    .option('--concurrency <n>', 'shards indexed concurrently', intArg, 2)
    .option('--run-id <id>', 'run id (default: time + random)')
    .option('--no-progress', 'no progress bars')
    .action(async (flags: BuildFlags) => {
      const log = createLogger('writer');
      const store = openStoreFromFlags(flags);
      try {
        const source = await openVectorSource({
          format: flags.format,
          path: flags.input,
          labelsPath: flags.labels,
          idsPath: flags.ids,
          start: flags.start,
          limit: flags.limit,
        });
        const result = await buildSnapshot({
          store,
          source,
          numDbs: flags.numDbs,
          numProbes: flags.numProbes,
          metric: MetricSchema.parse(flags.metric),
          seed: flags.seed,
          sampleSize: flags.sampleSize,
          kmeansIterations: flags.kmeansIterations,
          centroidsPath: flags.centroids,
          indexPlan: {
            indexType: flags.indexType,
            hnswMinRows: flags.hnswMinRows,
            numPartitions: flags.numPartitions,
            m: flags.m,
            efConstruction: flags.efConstruction,
          },
          onDuplicate: flags.onDuplicate,
          concurrency: flags.concurrency,
          runId: flags.runId,
          progress: flags.progress,
          log,
        });
        const m = result.manifest;
        process.stdout.write(
          `published run ${result.runId}: ${m.build_stats.total_vectors} vectors, ${m.sharding.num_dbs} shards, ` +
            `${m.build_stats.total_bytes} bytes, ${m.build_stats.build_seconds} s\nmanifest ${store.url}/${result.manifestKey}\n`,
        );
      } finally {
        await store.close();
      }
    });
  return cmd;
}
