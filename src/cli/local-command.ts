/**
 * `shardfleet local`: a router and N shard nodes as child processes on 127.0.0.1, until Ctrl-C.
 * Before starting anything it checks the flags and that the store has a snapshot to serve; while
 * the cluster starts it shows progress on stderr; once up it restarts a child that dies; on exit
 * it removes the shard cache it made (not one given with `--cache-dir`).
 */
import type { Command } from 'commander';
import { intArg } from './arg-parsers.ts';
import { ShardfleetCommand } from './env-options.ts';
import type { LocalCluster } from './local-cluster.ts';
import { checkLocalLayout, parseMetricsListen } from './local-options.ts';

interface LocalFlags {
  store: string;
  numNodes: number;
  replication: number;
  cacheDir?: string;
  metricsListen?: string;
  readyTimeoutMs: number;
  collections?: string;
  defaultCollection?: string;
  maxCollections?: number;
}

/**
 * The log level of the children when SHARDFLEET_LOG_LEVEL is not set: errors only (their start-up
 * warnings, e.g. nodes not answering yet or ports on 127.0.0.1 without auth, are expected here;
 * progress and restarts are said by `local` itself).
 */
const CHILD_LOG_LEVEL = 'error';

/** The addresses block printed on stdout once the cluster serves. */
function addressesText(cluster: LocalCluster, cacheGiven: boolean): string {
  const metrics = [...cluster.metrics].map(([name, address]) => `metrics ${name.padEnd(8)} http://${address}/metrics\n`).join('');
  return (
    `router   ${cluster.routerAddress}\n` +
    cluster.nodes.map((n) => `${n.id.padEnd(8)} ${n.address}\n`).join('') +
    metrics +
    `cache    ${cluster.cacheRoot} (${cacheGiven ? 'kept' : 'removed'} on exit)\n` +
    `query it: shardfleet search --router ${cluster.routerAddress} --vector '[...]'\nCtrl-C stops the cluster\n`
  );
}

/** The `local` command. */
export function localCommand(): Command {
  return new ShardfleetCommand('local')
    .description('start a local cluster (router + N shard nodes, real processes on 127.0.0.1) and keep it running until Ctrl-C')
    .requiredOption('--store <url>', 'snapshot store: s3://bucket/prefix, file:///abs/path or a local folder')
    .option('--num-nodes <n>', 'shard nodes', intArg, 2)
    .option('--replication <n>', 'replicas per shard (R); at most --num-nodes', intArg, 1)
    .option('--cache-dir <dir>', 'shard cache root (one sub-folder per node), kept on exit (default: a temp folder, removed on exit)')
    .option('--metrics-listen <auto|port|host:port>', 'serve /metrics on every process: auto = a free port each, or a base port (router on it, node-i on port+1+i); printed with the addresses')
    .option('--ready-timeout-ms <ms>', 'give up when the cluster is not serving after this long', intArg, 120_000)
    .option('--collections <a,b,...>', 'catalog root: serve only these collections (default: every child prefix of --store holding _CURRENT)')
    .option('--default-collection <name>', 'the collection a request without one is answered from (default: the only one)')
    .option('--max-collections <n>', 'most collections served from a catalog root (default 64)', intArg)
    .action(async (flags: LocalFlags) => {
      checkLocalLayout(flags.numNodes, flags.replication);
      const catalogArgs = [
        ...(flags.collections === undefined ? [] : ['--collections', flags.collections]),
        ...(flags.maxCollections === undefined ? [] : ['--max-collections', String(flags.maxCollections)]),
      ];
      if (flags.metricsListen !== undefined) parseMetricsListen(flags.metricsListen);
      // Heavy modules load only when the command runs (`--help` / `--version` stay fast).
      const [{ openObjectStore }, { startLocalCluster }, { checkSnapshotToServe }, { StartupProgress }, { superviseLocalCluster }, { assertStoreExists }] = await Promise.all([
        import('../common/storage/open-object-store.ts'),
        import('./local-cluster.ts'),
        import('./local-preflight.ts'),
        import('./local-progress.ts'),
        import('./local-supervisor.ts'),
        import('./store-options.ts'),
      ]);
      const { scanCatalog } = await import('../common/catalog/collection-catalog.ts');
      // The children would retry a missing folder or _CURRENT until the ready timeout: say so at once.
      const store = openObjectStore(flags.store);
      // Every collection the cluster would serve (one, named "default", for a snapshot prefix).
      const collections: Array<{ name: string; runId: string; numDbs: number }> = [];
      let catalog = false;
      try {
        await assertStoreExists(store, flags.store);
        const scan = await scanCatalog({ store, collections: flags.collections?.split(',').map((n) => n.trim()), maxCollections: flags.maxCollections });
        catalog = scan.mode !== 'single';
        for (const c of scan.collections) {
          const loaded = await checkSnapshotToServe(c.store, scan.mode === 'single' ? flags.store : `${flags.store} collection ${c.name}`);
          if (loaded.fallbackFrom) process.stderr.write(`warning: ${loaded.fallbackFrom.key} of ${c.name} is unusable (${loaded.fallbackFrom.reason}); the cluster serves ${loaded.manifestKey}\n`);
          collections.push({ name: c.name, runId: loaded.manifest.run_id, numDbs: loaded.manifest.shards.length });
        }
      } finally {
        await store.close();
      }
      const tty = process.stderr.isTTY === true;
      const progress = new StartupProgress({ tty, stream: process.stderr, collections, catalog, replication: flags.replication, numNodes: flags.numNodes });
      let cluster: LocalCluster | undefined;
      let up = false;
      // Ctrl-C during start-up: stop what started (startLocalCluster cleans up when it throws).
      const abortStart = new AbortController();
      const earlyStop = () => abortStart.abort();
      process.once('SIGINT', earlyStop);
      process.once('SIGTERM', earlyStop);
      try {
        const starting = startLocalCluster({
          store: flags.store,
          numNodes: flags.numNodes,
          replication: flags.replication,
          cacheDir: flags.cacheDir,
          metricsListen: flags.metricsListen,
          readyTimeoutMs: flags.readyTimeoutMs,
          extraArgs: catalogArgs,
          routerArgs: flags.defaultCollection === undefined ? [] : ['--default-collection', flags.defaultCollection],
          env: process.env.SHARDFLEET_LOG_LEVEL === undefined ? { SHARDFLEET_LOG_LEVEL: CHILD_LOG_LEVEL } : {},
          onStderrLine: (name, line) => progress.log(name, line),
          onSpawn: (name, pid) => {
            if (!up) progress.spawned(name, pid);
          },
          onAddresses: (routerAddress, nodes) => progress.watch(routerAddress, nodes),
          signal: abortStart.signal,
        });
        cluster = await starting;
      } catch (err) {
        const seen = progress.fail();
        if (abortStart.signal.aborted) process.exit(130);
        if (err instanceof Error && seen !== '') err.message = `${err.message}; last seen: ${seen}`;
        throw err;
      } finally {
        process.off('SIGINT', earlyStop);
        process.off('SIGTERM', earlyStop);
      }
      up = true;
      await progress.finish();
      process.stdout.write(addressesText(cluster, flags.cacheDir !== undefined));
      const running = cluster;
      let stopping = false;
      const stop = (code: number) => {
        if (stopping) return;
        stopping = true;
        supervisor.stop();
        running.stop().then(
          () => process.exit(code),
          () => process.exit(code || 1),
        );
      };
      const supervisor = superviseLocalCluster(running, {
        say: (line) => process.stderr.write(`${line}\n`),
        onGiveUp: (name) => {
          if (name !== 'router') return;
          process.stderr.write('shardfleet local: the router cannot be kept running; stopping the cluster\n');
          stop(1);
        },
        readyTimeoutMs: flags.readyTimeoutMs,
      });
      process.on('SIGINT', () => stop(0));
      process.on('SIGTERM', () => stop(0));
      process.on('SIGHUP', () => stop(0));
    });
}
