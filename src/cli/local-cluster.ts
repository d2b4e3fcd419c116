/**
 * A local cluster for development, demos and tests: one router and N shard nodes as child
 * processes on 127.0.0.1, started from this package's CLI, waited on until every process reports
 * SERVING through the gRPC health service.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtemp, rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForServing } from '../common/health.ts';
import { ShardfleetClient } from '../client/router-client.ts';
import { formatNodeList, type NodeEndpoint } from '../common/node-list.ts';
import { otelImportArgs } from '../common/telemetry/otel-config.ts';
import { EXIT_ADDRESS_IN_USE } from './exit-codes.ts';
import { freePort } from './free-port.ts';
import { checkLocalLayout, metricsAddresses, parseMetricsListen, type MetricsListenSpec } from './local-options.ts';

/** Options of {@link startLocalCluster}. */
export interface LocalClusterOptions {
  /** Store URL of the snapshot (`file://...` or `s3://...`). */
  store: string;
  /** Number of shard nodes (default 2). */
  numNodes?: number;
  /** Replication factor (default 1). */
  replication?: number;
  /** Shard cache root; each node gets a sub-folder (default: a new temp folder). */
  cacheDir?: string;
  /** Extra environment for the children (e.g. AWS_* for an S3 store). */
  env?: Record<string, string>;
  /** Extra CLI flags for every child (e.g. S3 flags). */
  extraArgs?: string[];
  /** Extra CLI flags for the router only (e.g. hedging, poll intervals). */
  routerArgs?: string[];
  /** Extra CLI flags for every shard node only (e.g. cache budget). */
  nodeArgs?: string[];
  /** How long to wait for SERVING, ms (default 120,000). */
  readyTimeoutMs?: number;
  /** Where children's stderr goes: 'inherit' (default) or 'ignore'. */
  stderr?: 'inherit' | 'ignore';
  /**
   * Wait until the nodes are SERVING (default true). False waits only until they answer the
   * health check (for clusters where a node cannot load all its shards and so is never ready).
   */
  waitNodesReady?: boolean;
  /** Picks each process's port (default {@link freePort}; tests inject a taken port). */
  pickPort?: () => Promise<number>;
  /**
   * Prometheus `/metrics` for every process, one port each: `auto` (a free port per process) or
   * a base `port` / `host:port` (router on the base port, node-i on base + 1 + i). Host default
   * 127.0.0.1. Unset: no process serves metrics, even when `SHARDFLEET_METRICS_LISTEN` is set in
   * the environment (children never inherit it: they would all bind the same port).
   */
  metricsListen?: string;
  /**
   * Called with each line a child writes to stderr (its stderr is then piped, not inherited or
   * ignored), e.g. to print log lines above a progress bar.
   */
  onStderrLine?: (child: string, line: string) => void;
  /** Called each time a child process is spawned (also on restarts), with its name and pid. */
  onSpawn?: (child: string, pid: number | undefined) => void;
  /** Called once per start attempt when every process is spawned, with the addresses. */
  onAddresses?: (routerAddress: string, nodes: readonly NodeEndpoint[]) => void;
  /** Aborts the start-up: the children are stopped and the promise rejects with the reason. */
  signal?: AbortSignal;
}

/** A running local cluster. */
export interface LocalCluster {
  routerAddress: string;
  nodes: NodeEndpoint[];
  /** `/metrics` address (`host:port`) per process name, when `metricsListen` was given. */
  metrics: Map<string, string>;
  /** The shard cache root (removed by {@link LocalCluster.stop} when this module created it). */
  cacheRoot: string;
  /** Child processes by name (`router`, `node-0`, ...). */
  processes: Map<string, ChildProcess>;
  /**
   * Stops every child (SIGINT: nodes stop without leaving placement; SIGKILL after 5 s), then
   * removes the cache root when `cacheDir` was not given (this module made a temp folder).
   */
  stop(): Promise<void>;
  /** Kills shard node `id` with `signal` (default SIGKILL) and waits for it to exit. */
  killNode(id: string, signal?: NodeJS.Signals): Promise<void>;
  /**
   * Starts shard node `id` again with its original flags (same address and cache folder) and,
   * unless `waitReady` is false, waits until it reports SERVING.
   * @throws Error when it does not become ready within the ready timeout.
   */
  restartNode(id: string, waitReady?: boolean): Promise<void>;
  /**
   * Stops the router (SIGTERM, or `signal`) and starts it again with its original flags on the
   * same address; with `waitServing` (default true) resolves once it reports SERVING.
   */
  restartRouter(signal?: NodeJS.Signals, waitServing?: boolean): Promise<void>;
}

/**
 * How a child runs the CLI: the way this module runs. Compiled (dist/cli/local-cluster.js, i.e.
 * under bin/shardfleet.js after `npm run build`) the child runs dist/cli/main.js with no loader;
 * from the sources (tsx: tests, `npm run demo`, the bin's fallback) it runs src/cli/main.ts
 * through tsx, so a child never runs code older than its parent.
 */
const COMPILED = !import.meta.url.endsWith('.ts');
const CLI_ENTRY = fileURLToPath(new URL(COMPILED ? './main.js' : './main.ts', import.meta.url));
const LOADER_ARGS: readonly string[] = COMPILED ? [] : ['--import', import.meta.resolve('tsx')];

/**
 * Spawns `shardfleet <args>` as a child Node process running the CLI the way this process runs it
 * (compiled, or the TypeScript sources through tsx).
 * The child's stdin is a pipe from this process and `SHARDFLEET_EXIT_ON_STDIN_CLOSE=1` is set, so
 * a server child shuts down when this process dies, even by SIGKILL: no orphaned servers.
 */
export function spawnCli(args: string[], env: Record<string, string> = {}, stderr: 'inherit' | 'ignore' | 'pipe' = 'inherit'): ChildProcess {
  return spawn(process.execPath, [...LOADER_ARGS, ...otelImportArgs({ ...process.env, ...env }), CLI_ENTRY, ...args], {
    env: { ...childEnv(process.env), ...env, SHARDFLEET_EXIT_ON_STDIN_CLOSE: '1' },
    stdio: ['pipe', 'ignore', stderr],
  });
}

/**
 * Variables that name one process's own socket and that a launcher of several processes must not
 * pass on: with `SHARDFLEET_METRICS_LISTEN` set, every child would bind the same metrics port and
 * all but one would exit (EADDRINUSE). `--listen`, `--node-id` and `--cache-dir` are always given
 * as flags, which win over their variables.
 */
const PER_PROCESS_VARIABLES = ['SHARDFLEET_METRICS_LISTEN'];

/** `env` without {@link PER_PROCESS_VARIABLES}. */
function childEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const name of PER_PROCESS_VARIABLES) delete out[name];
  return out;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    // SIGINT, not SIGTERM: the whole cluster stops, so no node waits to hand its shards over.
    child.kill('SIGINT');
  });
}

/** Start-up attempts, each with new ports, when a child finds its port taken. */
const START_ATTEMPTS = 3;

/** A child exited before the cluster was ready. */
class StartupExitError extends Error {
  constructor(
    readonly child: string,
    readonly code: number | null,
    signal: NodeJS.Signals | null,
  ) {
    super(`${child} exited during start-up (code ${code}, signal ${signal})`);
  }
}

/** Polls the router's Health until every shard of its run has a ready replica, or `ms` pass. */
async function waitForFullCoverage(routerAddress: string, ms: number): Promise<void> {
  const client = new ShardfleetClient(routerAddress);
  const until = Date.now() + ms;
  try {
    while (Date.now() < until) {
      const health = await client.health(2000).catch(() => undefined);
      if (health && health.coverage >= 1) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    client.close();
  }
}

/**
 * Starts the cluster and waits until the router and every node are SERVING (and, with
 * `waitNodesReady`, until the router sees every shard with a ready replica). Ports are picked
 * here, so when a child exits because its port was taken in the meantime (exit code 98), the
 * whole cluster starts again on new ports, up to 3 attempts.
 * @throws ConfigValidationError naming `--num-nodes` / `--replication` (below 1, or R above the
 *   node count) or `--metrics-listen` (malformed) before anything starts; Error naming the
 *   process that exited or did not become ready in time, or the abort reason of `signal` (the
 *   children are stopped and a temp cache root removed first).
 */
export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  checkLocalLayout(options.numNodes ?? 2, options.replication ?? 1);
  const metricsSpec = options.metricsListen === undefined ? undefined : parseMetricsListen(options.metricsListen);
  const ownsCache = options.cacheDir === undefined;
  const cacheRoot = options.cacheDir ?? (await mkdtemp(join(tmpdir(), 'shardfleet-cache-')));
  const removeCache = async (): Promise<void> => {
    if (ownsCache) await rm(cacheRoot, { recursive: true, force: true });
  };
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options, cacheRoot, metricsSpec, removeCache);
    } catch (err) {
      if (!(err instanceof StartupExitError && err.code === EXIT_ADDRESS_IN_USE) || attempt >= START_ATTEMPTS) {
        await removeCache();
        throw err;
      }
    }
  }
}

async function startOnce(
  options: LocalClusterOptions,
  cacheRoot: string,
  metricsSpec: MetricsListenSpec | undefined,
  removeCache: () => Promise<void>,
): Promise<LocalCluster> {
  const numNodes = options.numNodes ?? 2;
  const pickPort = options.pickPort ?? freePort;
  const nodes: NodeEndpoint[] = [];
  for (let i = 0; i < numNodes; i++) nodes.push({ id: `node-${i}`, address: `127.0.0.1:${await pickPort()}` });
  const nodeList = formatNodeList(nodes);
  const replication = String(options.replication ?? 1);
  const common = ['--store', options.store, '--nodes', nodeList, '--replication', replication, ...(options.extraArgs ?? [])];
  const metrics = metricsSpec === undefined ? new Map<string, string>() : await metricsAddresses(metricsSpec, ['router', ...nodes.map((n) => n.id)], pickPort);
  const metricsArgs = (name: string): string[] => {
    const address = metrics.get(name);
    return address === undefined ? [] : ['--metrics-listen', address];
  };
  const processes = new Map<string, ChildProcess>();
  const stderrMode = options.onStderrLine ? 'pipe' : (options.stderr ?? 'inherit');
  const spawnChild = (name: string, args: string[]): ChildProcess => {
    const child = spawnCli(args, options.env, stderrMode);
    const onLine = options.onStderrLine;
    if (onLine && child.stderr) createInterface({ input: child.stderr, crlfDelay: Infinity }).on('line', (line) => onLine(name, line));
    processes.set(name, child);
    options.onSpawn?.(name, child.pid);
    return child;
  };
  let stopped = false;
  const stop = async () => {
    await Promise.all([...processes.values()].map(stopChild));
    if (!stopped) {
      stopped = true;
      await removeCache();
    }
  };
  const nodeArgs = (node: NodeEndpoint): string[] => [
    'serve',
    'node',
    ...common,
    ...(options.nodeArgs ?? []),
    '--node-id',
    node.id,
    '--listen',
    node.address,
    '--cache-dir',
    join(cacheRoot, node.id),
    ...metricsArgs(node.id),
  ];
  for (const node of nodes) spawnChild(node.id, nodeArgs(node));
  const routerAddress = `127.0.0.1:${await pickPort()}`;
  const routerArgs = ['serve', 'router', ...common, ...(options.routerArgs ?? []), '--listen', routerAddress, ...metricsArgs('router')];
  spawnChild('router', routerArgs);

  const timeout = options.readyTimeoutMs ?? 120_000;
  const killNode = async (id: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    const child = processes.get(id);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  };
  const restartRouter = async (signal: NodeJS.Signals = 'SIGTERM', waitServing = true): Promise<void> => {
    await killNode('router', signal);
    spawnChild('router', routerArgs);
    if (waitServing) await waitForServing(routerAddress, timeout);
  };
  const restartNode = async (id: string, waitReady = true): Promise<void> => {
    const node = nodes.find((n) => n.id === id);
    if (!node) throw new Error(`no node ${id} in this cluster`);
    await killNode(id, 'SIGTERM');
    spawnChild(id, nodeArgs(node));
    if (waitReady) await waitForServing(node.address, timeout);
  };
  options.onAddresses?.(routerAddress, nodes);
  const exited = new Promise<never>((_, reject) => {
    for (const [name, child] of processes) {
      child.once('exit', (code, signal) => reject(new StartupExitError(name, code, signal)));
    }
    const aborted = options.signal;
    if (aborted?.aborted) reject(aborted.reason);
    else aborted?.addEventListener('abort', () => reject(aborted.reason), { once: true });
  });
  const polling = new AbortController();
  try {
    await Promise.race([
      Promise.all([
        waitForServing(routerAddress, timeout, '', 'serving', polling.signal),
        ...nodes.map((n) => waitForServing(n.address, timeout, '', options.waitNodesReady === false ? 'any' : 'serving', polling.signal)),
      ]),
      exited,
    ]);
  } catch (err) {
    polling.abort();
    // Not stop(): the cache root is removed by the caller once no attempt is left.
    await Promise.all([...processes.values()].map(stopChild));
    throw err;
  }
  exited.catch(() => undefined);
  // The router learns that the nodes are ready from its next Status poll: wait for it, so a
  // caller's first Route / ShardDetails sees every shard's ready replicas (bounded; a cluster
  // whose shards cannot all load is returned as it is).
  if (options.waitNodesReady !== false) await waitForFullCoverage(routerAddress, Math.min(timeout, 10_000));
  return { routerAddress, nodes, metrics, cacheRoot, processes, stop, killNode, restartNode, restartRouter };
}
