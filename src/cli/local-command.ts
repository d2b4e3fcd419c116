/**
 * `shardfleet local`: a router and N shard nodes as child processes on 127.0.0.1, until Ctrl-C.
 */
import type { Command } from 'commander';
import { intArg } from './arg-parsers.ts';
import { ShardfleetCommand } from './env-options.ts';
import { assertStoreExists } from './store-options.ts';

/** The `local` command. */
export function localCommand(): Command {
  return new ShardfleetCommand('local')
    .description('start a local cluster (router + N shard nodes, real processes on 127.0.0.1) and keep it running until Ctrl-C')
    .requiredOption('--store <url>', 'snapshot store: s3://bucket/prefix, file:///abs/path or a local folder')
    .option('--num-nodes <n>', 'shard nodes', intArg, 2)
    .option('--replication <n>', 'replicas per shard (R)', intArg, 1)
    .option('--cache-dir <dir>', 'shard cache root (one sub-folder per node)')
    .action(async (flags: { store: string; numNodes: number; replication: number; cacheDir?: string }) => {
      // The children would retry a missing folder until the ready timeout: say so at once instead.
      const { openObjectStore } = await import('../common/storage/open-object-store.ts');
      const store = openObjectStore(flags.store);
      try {
        await assertStoreExists(store, flags.store);
      } finally {
        await store.close();
      }
      const { startLocalCluster } = await import('./local-cluster.ts');
      const cluster = await startLocalCluster({
        store: flags.store,
        numNodes: flags.numNodes,
        replication: flags.replication,
        cacheDir: flags.cacheDir,
      });
      process.stdout.write(
        `router   ${cluster.routerAddress}\n` +
          cluster.nodes.map((n) => `${n.id.padEnd(8)} ${n.address}\n`).join('') +
          `query it: shardfleet search --router ${cluster.routerAddress} --vector '[...]'\nCtrl-C stops the cluster\n`,
      );
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        cluster.stop().then(() => process.exit(0));
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      for (const [name, child] of cluster.processes) {
        child.once('exit', (code, signal) => {
          if (!stopping) process.stderr.write(`${name} exited (code ${code}, signal ${signal})\n`);
        });
      }
    });
}
