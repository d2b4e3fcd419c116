/**
 * The fault benchmark's cluster: a router and shard nodes as real CLI processes, with the
 * controls the scenarios need (SIGKILL / SIGSTOP / restart a node, restart the router on the same
 * address) and the router's and nodes' own views (Health, ShardDetails, node Status).
 * {@link startLocalFleet} runs everything on 127.0.0.1 through startLocalCluster;
 * {@link startNetnsFleet} runs every node in its own network namespace (bench/lib/netns.ts) and
 * the router in the root namespace.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ShardfleetClient } from '../../src/client/router-client.ts';
import { freePort } from '../../src/cli/free-port.ts';
import { spawnCli, startLocalCluster } from '../../src/cli/local-cluster.ts';
import { waitForServing } from '../../src/common/health.ts';
import { formatNodeList, type NodeEndpoint } from '../../src/common/node-list.ts';
import type { StatusResponse__Output } from '../../src/common/proto-gen/shardfleet/v1/StatusResponse.ts';
import { NodeClient } from '../../test/helpers/shard-node-harness.ts';
import { stopChild, trackChild } from './exit-cleanup.ts';
import { spawnCliInNetns, type NetnsSet } from './netns.ts';
import type { LoadStart } from './fault-load.ts';

/** How a section starts its fleet and load (the bench's shared settings). */
export interface FleetRunOptions {
  /** Flags for every server (e.g. `--poll-interval-ms 1000`). */
  commonArgs: string[];
  /** Flags for the nodes (e.g. `--run-grace-ms 3000`). */
  nodeArgs: string[];
  /** Load: workers and search parameters (as the bench's NORMAL). */
  load: Pick<LoadStart, 'concurrency' | 'params'>;
  /** Extra environment of the children (e.g. SHARDFLEET_LOG_LEVEL). */
  env: Record<string, string>;
  /** Where the children's stderr goes. */
  stderr: 'inherit' | 'ignore';
  /** How long to wait for the fleet to serve (and for each recovery), ms. */
  readyTimeoutMs: number;
}

/** How the fleet's processes are started. */
export interface FleetConfig {
  storeDir: string;
  /** Shard cache root (one sub-folder per node). */
  cacheDir: string;
  numNodes: number;
  replication: number;
  /** Flags for every server (router and nodes). */
  commonArgs: string[];
  nodeArgs: string[];
  routerArgs: string[];
  /** Children's stderr (their JSON logs). */
  stderr: 'inherit' | 'ignore';
  env: Record<string, string>;
  /** How long to wait for SERVING, ms. */
  readyTimeoutMs: number;
}

/** The router's Health answer, trimmed for the report. */
export interface HealthSummary {
  status: string;
  run_id: string;
  coverage: number;
  pending_run_id: string;
  last_refresh_error: string;
  /** First reasons, each cut to 300 characters. */
  reasons: string[];
}

/**
 * The router's Health through `client` (3 s deadline), trimmed for the report: the first 4
 * reasons, each cut to 300 characters, and the last refresh error cut likewise. Never throws: a
 * failed call gives `status: "error: ..."` and empty fields.
 */
export async function healthSummary(client: ShardfleetClient): Promise<HealthSummary> {
  try {
    const h = await client.health(3000);
    return {
      status: h.status,
      run_id: h.run_id,
      coverage: h.coverage,
      pending_run_id: h.pending_run_id,
      last_refresh_error: h.last_refresh_error.slice(0, 300),
      reasons: h.reasons.slice(0, 4).map((r) => r.slice(0, 300)),
    };
  } catch (err) {
    return { status: `error: ${err instanceof Error ? err.message : String(err)}`, run_id: '', coverage: 0, pending_run_id: '', last_refresh_error: '', reasons: [] };
  }
}

interface FleetParts {
  config: FleetConfig;
  routerAddress: string;
  nodes: NodeEndpoint[];
  /** Child processes by name (`router`, `node-0`, ...); the map is updated on restarts. */
  processes: Map<string, ChildProcess>;
  spawnRouter(): ChildProcess;
  restartNode?(id: string): Promise<ChildProcess>;
  stop(): Promise<void>;
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function exitOf(name: string, child: ChildProcess): Promise<never> {
  return new Promise<never>((_, reject) => {
    const fail = (): void => reject(new Error(`${name} exited (code ${child.exitCode}, signal ${child.signalCode})`));
    if (exited(child)) fail();
    else child.once('exit', fail);
  });
}

/** A running cluster and its controls. */
export class Fleet {
  private routerClient: ShardfleetClient;
  private readonly nodeClients = new Map<string, NodeClient>();

  constructor(private readonly parts: FleetParts) {
    this.routerClient = new ShardfleetClient(parts.routerAddress);
    for (const child of parts.processes.values()) trackChild(child);
  }

  get routerAddress(): string {
    return this.parts.routerAddress;
  }

  get nodes(): NodeEndpoint[] {
    return this.parts.nodes;
  }

  get replication(): number {
    return this.parts.config.replication;
  }

  /** The harness's own channel to the router (Health, ShardDetails; not the load). */
  get client(): ShardfleetClient {
    return this.routerClient;
  }

  private child(name: string): ChildProcess {
    const child = this.parts.processes.get(name);
    if (!child) throw new Error(`no process ${name}`);
    return child;
  }

  /** Names of the fleet's processes (`router`, `node-0`, ...). */
  get processNames(): string[] {
    return [...this.parts.processes.keys()];
  }

  /** The pid of process `name` (its current incarnation); undefined when it has none. */
  pid(name: string): number | undefined {
    return this.parts.processes.get(name)?.pid;
  }

  /** True while process `name` (its current incarnation) has not exited. */
  isAlive(name: string): boolean {
    const child = this.parts.processes.get(name);
    return child !== undefined && !exited(child);
  }

  /** How process `name` ended (`code 1`, `signal SIGKILL`), or undefined while it runs. */
  exitDescription(name: string): string | undefined {
    const child = this.parts.processes.get(name);
    if (!child || !exited(child)) return undefined;
    return child.signalCode !== null ? `signal ${child.signalCode}` : `code ${child.exitCode}`;
  }

  /** Sends `signal` to node `id` (SIGSTOP / SIGCONT). */
  signalNode(id: string, signal: NodeJS.Signals): void {
    const pid = this.child(id).pid;
    if (pid === undefined) throw new Error(`${id} has no pid`);
    process.kill(pid, signal);
  }

  /** SIGKILLs node `id` and waits for it to exit. */
  async killNode(id: string): Promise<void> {
    const child = this.child(id);
    if (exited(child)) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await gone;
  }

  /** Starts node `id` again with its flags, address and cache folder; does not wait for it to be ready. */
  async restartNode(id: string): Promise<void> {
    if (!this.parts.restartNode) throw new Error('this fleet cannot restart nodes');
    trackChild(await this.parts.restartNode(id));
  }

  /**
   * Stops the router (SIGTERM, as a rolling restart does), starts it again on the same address
   * with the same flags, and waits until it reports SERVING.
   * @returns how long the router was down, ms.
   */
  async restartRouter(): Promise<number> {
    const t0 = Date.now();
    await stopChild(this.child('router'));
    const child = trackChild(this.parts.spawnRouter());
    this.parts.processes.set('router', child);
    await Promise.race([waitForServing(this.parts.routerAddress, this.parts.config.readyTimeoutMs), exitOf('the restarted router', child)]);
    this.routerClient.close();
    this.routerClient = new ShardfleetClient(this.parts.routerAddress);
    return Date.now() - t0;
  }

  /** Node `id`'s Status (every run it holds). */
  nodeStatus(id: string): Promise<StatusResponse__Output> {
    let client = this.nodeClients.get(id);
    if (!client) {
      const node = this.parts.nodes.find((n) => n.id === id);
      if (!node) throw new Error(`no node ${id}`);
      client = new NodeClient(node.address);
      this.nodeClients.set(id, client);
    }
    return client.status();
  }

  /** Every node's Status, or the error text for nodes that do not answer. */
  async nodeStatuses(): Promise<Map<string, StatusResponse__Output | string>> {
    const out = new Map<string, StatusResponse__Output | string>();
    await Promise.all(
      this.parts.nodes.map(async (n) => {
        try {
          out.set(n.id, await this.nodeStatus(n.id));
        } catch (err) {
          out.set(n.id, `error: ${err instanceof Error ? err.message : String(err)}`);
        }
      }),
    );
    return out;
  }

  /** The router's Health, or `status: "error: ..."` when the call fails. */
  async health(): Promise<HealthSummary> {
    return healthSummary(this.routerClient);
  }

  /**
   * True when the router serves `runId` and every shard of it has at least R replicas in state
   * `loaded` (ShardDetails): the fleet is back to full redundancy.
   */
  async fullRedundancy(runId: string): Promise<boolean> {
    try {
      const d = await this.routerClient.shardDetails(3000);
      return (
        d.run_id === runId &&
        d.shards.length > 0 &&
        d.shards.every((s) => s.replicas.filter((r) => r.state === 'loaded').length >= this.parts.config.replication)
      );
    } catch {
      return false;
    }
  }

  /** `state` of every replica of the served run that is not `loaded` (`db 3 node-1: unreachable (reason)`). */
  async replicaProblems(): Promise<string[]> {
    try {
      const d = await this.routerClient.shardDetails(3000);
      return d.shards.flatMap((s) =>
        s.replicas.filter((r) => r.state !== 'loaded').map((r) => `run ${d.run_id} db ${s.db_id} ${r.node_id}: ${r.state}${r.reason ? ` (${r.reason.slice(0, 200)})` : ''}`),
      );
    } catch (err) {
      return [`ShardDetails failed: ${err instanceof Error ? err.message : String(err)}`];
    }
  }

  /** Stops every process (SIGTERM, SIGKILL after 5 s) and closes the channels. */
  async stop(): Promise<void> {
    this.routerClient.close();
    for (const c of this.nodeClients.values()) c.close();
    this.nodeClients.clear();
    for (const child of this.parts.processes.values()) if (!exited(child)) child.kill('SIGCONT'); // a stopped child cannot act on SIGTERM
    await this.parts.stop();
  }
}

function routerArgv(config: FleetConfig, nodes: readonly NodeEndpoint[], routerAddress: string): string[] {
  // The same argument order as startLocalCluster: serve router, the common flags, the router's, --listen.
  return [
    'serve',
    'router',
    '--store',
    config.storeDir,
    '--nodes',
    formatNodeList(nodes),
    '--replication',
    String(config.replication),
    ...config.commonArgs,
    ...config.routerArgs,
    '--listen',
    routerAddress,
  ];
}

/** A router and `numNodes` nodes on 127.0.0.1 (startLocalCluster), ready when this resolves. */
export async function startLocalFleet(config: FleetConfig): Promise<Fleet> {
  const cluster = await startLocalCluster({
    store: config.storeDir,
    numNodes: config.numNodes,
    replication: config.replication,
    cacheDir: config.cacheDir,
    env: config.env,
    extraArgs: config.commonArgs,
    nodeArgs: config.nodeArgs,
    routerArgs: config.routerArgs,
    readyTimeoutMs: config.readyTimeoutMs,
    stderr: config.stderr,
  });
  return new Fleet({
    config,
    routerAddress: cluster.routerAddress,
    nodes: cluster.nodes,
    processes: cluster.processes,
    spawnRouter: () => spawnCli(routerArgv(config, cluster.nodes, cluster.routerAddress), config.env, config.stderr),
    restartNode: async (id) => {
      await cluster.restartNode(id, false);
      const child = cluster.processes.get(id);
      if (!child) throw new Error(`restarting ${id} started no process`);
      return child;
    },
    stop: () => cluster.stop(),
  });
}

/** The gRPC port every node listens on inside its own namespace. */
const NETNS_NODE_PORT = 7001;

/**
 * One node per namespace of `netns` (listening on its namespace's address), the router on
 * 127.0.0.1 in the root namespace; ready when this resolves.
 * @throws Error naming the process that exited or did not become ready (everything is stopped first).
 */
export async function startNetnsFleet(config: FleetConfig, netns: NetnsSet): Promise<Fleet> {
  const nodes: NodeEndpoint[] = netns.slots.slice(0, config.numNodes).map((s, i) => ({ id: `node-${i}`, address: `${s.nsIp}:${NETNS_NODE_PORT}` }));
  const nodeList = formatNodeList(nodes);
  const processes = new Map<string, ChildProcess>();
  nodes.forEach((node, i) => {
    const args = [
      'serve',
      'node',
      '--store',
      config.storeDir,
      '--nodes',
      nodeList,
      '--replication',
      String(config.replication),
      ...config.commonArgs,
      ...config.nodeArgs,
      '--node-id',
      node.id,
      '--listen',
      node.address,
      '--cache-dir',
      join(config.cacheDir, node.id),
    ];
    processes.set(node.id, spawnCliInNetns(netns.slots[i].ns, args, config.env, config.stderr));
  });
  const routerAddress = `127.0.0.1:${await freePort()}`;
  const spawnRouter = (): ChildProcess => spawnCli(routerArgv(config, nodes, routerAddress), config.env, config.stderr);
  processes.set('router', trackChild(spawnRouter()));
  const stop = async (): Promise<void> => {
    await Promise.all([...processes.values()].map(stopChild));
  };
  try {
    await Promise.race([
      Promise.all([routerAddress, ...nodes.map((n) => n.address)].map((a) => waitForServing(a, config.readyTimeoutMs))),
      ...[...processes].map(([name, child]) => exitOf(name, child)),
    ]);
  } catch (err) {
    await stop();
    throw err;
  }
  return new Fleet({ config, routerAddress, nodes, processes, spawnRouter, stop });
}
