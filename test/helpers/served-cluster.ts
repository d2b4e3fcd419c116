/**
 * The set-up and tear-down every cluster test repeats: a local cluster (router + shard nodes as
 * child processes, stderr ignored) over a store, a client of its router, and closing all of it
 * (plus the store, the temp folder and any s3rver) in the right order.
 */
import { join } from 'node:path';
import { ShardfleetClient } from '../../src/client/router-client.ts';
import { startLocalCluster, type LocalCluster, type LocalClusterOptions } from '../../src/cli/local-cluster.ts';

/**
 * Starts a local cluster over `store` (default 2 nodes; its shard cache in `<dirPath>/cache`) and
 * a client of its router.
 */
export async function serveStore(store: string, dirPath: string, options: Partial<LocalClusterOptions> = {}): Promise<{ cluster: LocalCluster; client: ShardfleetClient }> {
  const cluster = await startLocalCluster({ store, numNodes: 2, cacheDir: join(dirPath, 'cache'), stderr: 'ignore', ...options });
  return { cluster, client: new ShardfleetClient(cluster.routerAddress) };
}

/** What a cluster test opened; any part may be undefined (a `before` that failed half way). */
export interface OpenedParts {
  client?: { close(): void };
  cluster?: { stop(): Promise<void> };
  store?: { close(): Promise<void> };
  s3?: { stop(): Promise<void> };
  dir?: { remove(): Promise<void> };
}

/** Closes `parts` in order: client, cluster, store, s3rver, temp folder. */
export async function closeAll(parts: OpenedParts): Promise<void> {
  parts.client?.close();
  await parts.cluster?.stop();
  await parts.store?.close();
  await parts.s3?.stop();
  await parts.dir?.remove();
}
