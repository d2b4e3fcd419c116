/**
 * A cluster whose every process also serves HTTP (`--metrics-listen`: /metrics, /healthz,
 * /readyz) on its own port: a router and N shard nodes as CLI child processes on 127.0.0.1, plus
 * a plain HTTP GET for those endpoints.
 */
import type { ChildProcess } from 'node:child_process';
import { get } from 'node:http';
import { join } from 'node:path';
import { freePort } from '../../src/cli/free-port.ts';
import { spawnCli } from '../../src/cli/local-cluster.ts';
import { waitForServing } from '../../src/common/health.ts';
import { formatNodeList } from '../../src/common/node-list.ts';

/** One process of a {@link MeteredCluster}. */
export interface MeteredProcess {
  id: string;
  /** gRPC `host:port`. */
  address: string;
  /** HTTP `host:port` of /metrics, /healthz, /readyz. */
  http: string;
  child: ChildProcess;
}

/** A running metered cluster. */
export interface MeteredCluster {
  router: MeteredProcess;
  nodes: MeteredProcess[];
  /** SIGKILLs process `id` (a node id or `router`) and waits for it to exit. */
  kill(id: string): Promise<void>;
  /** SIGKILLs every process. */
  stop(): Promise<void>;
}

/** Child stderr: 'ignore', or 'inherit' with SHARDFLEET_TEST_CHILD_STDERR=1. */
const CHILD_STDERR = process.env.SHARDFLEET_TEST_CHILD_STDERR === '1' ? 'inherit' : 'ignore';

function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/**
 * Starts `numNodes` nodes and a router over `store` with replication `replication` (caches under
 * `<dir>/cache`), and waits until every process reports SERVING through gRPC health. Starts
 * again on new ports (up to 3 attempts) when a process exits during start-up (a port taken).
 * @throws Error naming the process that exited, or the wait that timed out.
 */
export async function startMeteredCluster(
  store: string,
  dir: string,
  options: { numNodes: number; replication: number; routerArgs?: string[] },
): Promise<MeteredCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(store, dir, options);
    } catch (err) {
      if (attempt >= 3 || !String(err).includes('exited during start-up')) throw err;
    }
  }
}

async function startOnce(store: string, dir: string, options: { numNodes: number; replication: number; routerArgs?: string[] }): Promise<MeteredCluster> {
  const specs: Array<Omit<MeteredProcess, 'child'>> = [];
  for (let i = 0; i < options.numNodes; i++) specs.push({ id: `node-${i}`, address: `127.0.0.1:${await freePort()}`, http: `127.0.0.1:${await freePort()}` });
  const common = ['--store', store, '--nodes', formatNodeList(specs), '--replication', String(options.replication)];
  const nodes: MeteredProcess[] = specs.map((n) => ({
    ...n,
    child: spawnCli(['serve', 'node', ...common, '--node-id', n.id, '--listen', n.address, '--metrics-listen', n.http, '--cache-dir', join(dir, 'cache', n.id)], {}, CHILD_STDERR),
  }));
  const r = { id: 'router', address: `127.0.0.1:${await freePort()}`, http: `127.0.0.1:${await freePort()}` };
  const router: MeteredProcess = {
    ...r,
    child: spawnCli(['serve', 'router', ...common, ...(options.routerArgs ?? []), '--listen', r.address, '--metrics-listen', r.http], {}, CHILD_STDERR),
  };
  const all = [router, ...nodes];
  const stop = async (): Promise<void> => {
    await Promise.all(all.map((p) => killChild(p.child)));
  };
  const exited = new Promise<never>((_, reject) => {
    for (const p of all) p.child.once('exit', (code, signal) => reject(new Error(`${p.id} exited during start-up (code ${code}, signal ${signal})`)));
  });
  exited.catch(() => undefined);
  try {
    await Promise.race([Promise.all(all.map((p) => waitForServing(p.address, 180_000))), exited]);
  } catch (err) {
    await stop();
    throw err;
  }
  const kill = async (id: string): Promise<void> => {
    const p = all.find((x) => x.id === id);
    if (p === undefined) throw new Error(`no process ${id} in this cluster`);
    await killChild(p.child);
  };
  return { router, nodes, kill, stop };
}

/** An HTTP answer: status code and body. */
export interface HttpAnswer {
  status: number;
  body: string;
}

/**
 * GET `http://<address><path>` (no proxy, 5 s timeout).
 * @throws the connection error (e.g. ECONNREFUSED for a process that is gone).
 */
export function httpGet(address: string, path: string, method: 'GET' | 'HEAD' | 'POST' = 'GET'): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = get(`http://${address}${path}`, { method, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET http://${address}${path} timed out`)));
    req.on('error', reject);
  });
}
