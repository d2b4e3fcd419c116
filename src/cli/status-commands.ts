/**
 * `shardfleet status`, `shardfleet shards` and `shardfleet route`: watch a cluster through one of
 * its routers (Health, SnapshotInfo, ShardDetails, Route) as text tables, or as JSON with
 * `--json`. The views are computed in cluster-view.ts.
 */
import type { Command } from 'commander';
import { intArg } from './arg-parsers.ts';
import { renderRoute, renderShards, renderStatus, statusView } from './cluster-view.ts';
import { ShardfleetCommand } from './env-options.ts';
import { EXIT_UNHEALTHY } from './exit-codes.ts';
import { addQueryInputOptions, queryVector, routingParams, type QueryInputFlags } from './query-options.ts';
import { addRouterClientOptions, withRouterClient, type RouterClientFlags } from './search-command.ts';

interface ViewFlags extends RouterClientFlags {
  json?: boolean;
  timeoutMs: number;
}

/** Adds the router flags, `--json` and `--timeout-ms`. */
function addViewOptions(cmd: Command): Command {
  return addRouterClientOptions(cmd)
    .option('--json', 'print JSON instead of the text tables')
    .option('--timeout-ms <ms>', 'deadline of each call to the router', intArg, 10_000);
}

function print(flags: ViewFlags, data: unknown, text: () => string): void {
  process.stdout.write((flags.json ? JSON.stringify(data, null, 2) : text()) + '\n');
}

/** The `status` command. */
export function statusCommand(): Command {
  const cmd = new ShardfleetCommand('status').description(
    `one screen about the cluster behind a router: health and coverage, the served run, the pending run and why, every node's replicas by state, the shards under the replication factor R, and the build-time recall curve; exit code 0 when the router is healthy or degraded (it serves), ${EXIT_UNHEALTHY} when unhealthy, 1 when it cannot be asked`,
  );
  return addViewOptions(cmd).action(async (flags: ViewFlags) => {
    const { describeGrpcError } = await import('../common/grpc-status.ts');
    await withRouterClient(flags, async (client) => {
      const errors: Record<string, string> = {};
      const soft = <T>(name: string, p: Promise<T>): Promise<T | undefined> =>
        p.catch((err: unknown) => {
          errors[name] = describeGrpcError(err);
          return undefined;
        });
      // Health must answer (else the router is unreachable: exit 1); the others fail while no run is served.
      const [health, info, details] = await Promise.all([
        client.health(flags.timeoutMs),
        soft('SnapshotInfo', client.snapshotInfo(flags.timeoutMs, flags.collection)),
        soft('ShardDetails', client.shardDetails(flags.timeoutMs, flags.collection)),
      ]);
      const view = statusView(health, info, details, errors);
      print(flags, view, () => renderStatus(view));
      if (health.status === 'unhealthy') process.exitCode = EXIT_UNHEALTHY;
    });
  });
}

/** The `shards` command. */
export function shardsCommand(): Command {
  const cmd = new ShardfleetCommand('shards').description(
    "every shard of the served run (ShardDetails): vectors, bytes, index type, and each replica's node and state (loaded, loading, failed, unreachable, ejected) with why",
  );
  return addViewOptions(cmd).action(async (flags: ViewFlags) => {
    await withRouterClient(flags, async (client) => {
      const details = await client.shardDetails(flags.timeoutMs, flags.collection);
      print(flags, details, () => renderShards(details));
    });
  });
}

/** The `route` command. */
export function routeCommand(): Command {
  const cmd = new ShardfleetCommand('route').description(
    'which shards a query would probe, in order, and their ready replicas (Route; nothing is searched), with the shards a --filter skips and how the shards were chosen when it is not by similarity',
  );
  return addQueryInputOptions(addViewOptions(cmd)).action(async (flags: ViewFlags & QueryInputFlags) => {
    await withRouterClient(flags, async (client) => {
      // explicit / cel / hash snapshots route without looking at the vector: it may be omitted.
      const hasVector = flags.vector !== undefined || flags.vectorFile !== undefined || flags.idx !== undefined;
      const res = await client.route({ vector: hasVector ? await queryVector(flags) : [], ...routingParams(flags), timeout_ms: flags.timeoutMs, collection: flags.collection });
      print(flags, res, () => renderRoute(res));
    });
  });
}
