/**
 * Set-up shared by the fault tests that run one real cluster through a sequence of faults
 * (test/fault-tolerance, test/run-lifecycle-faults, test/cold-router-fallback): a router and 3
 * shard nodes with R=2 over a file:// store, Status clients to each node, polling for a value,
 * and copying a built run into the store with one shard file damaged.
 */
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { startLocalCluster, type LocalCluster } from '../../src/cli/local-cluster.ts';
import { unaryCall } from '../../src/common/grpc-status.ts';
import { CURRENT_KEY } from '../../src/common/manifest.ts';
import { loadShardNodeProto, type ShardNodeClient } from '../../src/common/proto.ts';
import type { StatusResponse__Output } from '../../src/common/proto-gen/shardfleet/v1/StatusResponse.ts';
import type { ObjectStore } from '../../src/common/storage/object-store.ts';

/**
 * Polls `get` every 200 ms until `ok` accepts its value, and returns that value. A throwing `get`
 * counts as "not yet". Fails the test after `timeoutMs` (a safety bound, not a performance
 * assertion), naming `what` and the last value (or the last error when there was none).
 */
export async function waitForValue<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastErr = '';
  for (;;) {
    try {
      last = await get();
      if (ok(last)) return last;
    } catch (err) {
      lastErr = String(err);
    }
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; last: ${JSON.stringify(last) ?? lastErr}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Starts a router and 3 shard nodes (R=2) over the file:// store at `storeDir`, with caches below
 * `cacheDir`, child stderr ignored, and fast polls: store poll 300 ms, router Status poll 200 ms,
 * hedge after 100 ms, nodes' `--run-grace-ms` = `runGraceMs`.
 */
export function startFaultCluster(storeDir: string, cacheDir: string, runGraceMs: number): Promise<LocalCluster> {
  return startLocalCluster({
    store: storeDir,
    numNodes: 3,
    replication: 2,
    cacheDir,
    stderr: 'ignore',
    extraArgs: ['--poll-interval-ms', '300'],
    routerArgs: ['--status-poll-ms', '200', '--hedge-delay-ms', '100'],
    nodeArgs: ['--run-grace-ms', String(runGraceMs)],
  });
}

/** A plain (insecure) ShardNode client to every node of `cluster`, by node id; the caller closes them. */
export function connectShardNodes(cluster: LocalCluster): Map<string, ShardNodeClient> {
  const Ctor = loadShardNodeProto().shardfleet.v1.ShardNode;
  const clients = new Map<string, ShardNodeClient>();
  for (const n of cluster.nodes) clients.set(n.id, new Ctor(n.address, grpc.credentials.createInsecure()));
  return clients;
}

/**
 * A node's Status, asked through `clients` (from {@link connectShardNodes}) without leases, so the
 * test never holds a run itself; 2 s deadline.
 */
export function nodeStatusOf(clients: Map<string, ShardNodeClient>, id: string): Promise<StatusResponse__Output> {
  const c = clients.get(id)!;
  return unaryCall<object, StatusResponse__Output>(c.Status.bind(c) as never, {}, { deadline: Date.now() + 2000 });
}

/**
 * Copies every object of `staging` but `_CURRENT` into `store`; the object at key `damagedKey`
 * (when given) has its last 16 bytes overwritten, so its sha256 check fails. Returns the key of the
 * run's `manifest.json` in `staging`. Leaves `staging` open.
 */
export async function copyRun(staging: ObjectStore, store: ObjectStore, damagedKey?: string): Promise<string> {
  for (const { key } of await staging.list('')) {
    if (key === CURRENT_KEY) continue;
    const body = await staging.get(key);
    await store.put(key, key === damagedKey ? Buffer.concat([body.subarray(0, body.length - 16), Buffer.alloc(16, 7)]) : body);
  }
  return (await staging.list('manifests/')).map((o) => o.key).find((k) => k.endsWith('/manifest.json'))!;
}
