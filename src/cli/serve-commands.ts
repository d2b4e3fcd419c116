/**
 * `shardfleet serve node` and `shardfleet serve router`: run one long-lived process until SIGINT
 * or SIGTERM, then drain and exit.
 */
import { Command } from 'commander';
import { createLogger, type Logger } from '../common/logger.ts';
import { shutdownTracing } from '../common/telemetry/tracing-shutdown.ts';
import { parseNodeList } from '../common/node-list.ts';
import { startRouter } from '../router/router-server.ts';
import { startShardNode } from '../shard-node/shard-node-server.ts';
import { intArg } from './arg-parsers.ts';
import { addStoreOptions, openStoreFromFlags, type StoreFlags } from './store-options.ts';

interface ServeFlags extends StoreFlags {
  nodes: string;
  replication: number;
  listen: string;
  pollIntervalMs: number;
}

/**
 * Runs until SIGINT or SIGTERM (or, when `SHARDFLEET_EXIT_ON_STDIN_CLOSE=1`, until stdin closes:
 * the parent that spawned this process is gone), then stops gracefully and exits.
 */
function untilSignal(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const onSignal = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    stop().then(
      () => shutdownTracing().then(() => process.exit(0)),
      () => shutdownTracing().then(() => process.exit(1)),
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (process.env.SHARDFLEET_EXIT_ON_STDIN_CLOSE === '1') {
    process.stdin.on('end', () => onSignal('stdin closed'));
    process.stdin.on('error', () => onSignal('stdin closed'));
    process.stdin.resume();
  }
}

function addServeOptions(cmd: Command, defaultListen: string): Command {
  return addStoreOptions(cmd)
    .requiredOption('--nodes <list>', 'shard nodes: id=host:port,... (or host:port,...)')
    .option('--replication <n>', 'replicas per shard (R)', intArg, 1)
    .option('--listen <host:port>', 'address to listen on', defaultListen)
    .option('--poll-interval-ms <ms>', 'retry interval while no snapshot can be loaded', intArg, 5000);
}

/** The `serve` command group. */
export function serveCommand(): Command {
  const serve = new Command('serve').description('run a shard node or a router');
  const node = addServeOptions(new Command('node').description('serve the shards placement assigns to this node'), '0.0.0.0:7001')
    .requiredOption('--node-id <id>', 'this node\'s id in --nodes')
    .option('--cache-dir <dir>', 'local shard cache folder', '.shardfleet/cache')
    .action(async (flags: ServeFlags & { nodeId: string; cacheDir: string }) => {
      const log = createLogger('shard-node', { node_id: flags.nodeId });
      const handle = await startShardNode({
        store: openStoreFromFlags(flags),
        nodeId: flags.nodeId,
        nodes: parseNodeList(flags.nodes),
        replication: flags.replication,
        cacheDir: flags.cacheDir,
        listen: flags.listen,
        pollIntervalMs: flags.pollIntervalMs,
        log,
      });
      untilSignal(log, handle.stop);
    });
  const router = addServeOptions(new Command('router').description('serve the Router API over the shard nodes'), '0.0.0.0:7000')
    .option('--default-timeout-ms <ms>', 'deadline for calls that carry none', intArg, 10_000)
    .action(async (flags: ServeFlags & { defaultTimeoutMs: number }) => {
      const log = createLogger('router');
      const handle = await startRouter({
        store: openStoreFromFlags(flags),
        nodes: parseNodeList(flags.nodes),
        replication: flags.replication,
        listen: flags.listen,
        defaultTimeoutMs: flags.defaultTimeoutMs,
        pollIntervalMs: flags.pollIntervalMs,
        log,
      });
      untilSignal(log, handle.stop);
    });
  return serve.addCommand(node).addCommand(router);
}
