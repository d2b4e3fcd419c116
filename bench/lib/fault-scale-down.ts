/**
 * The fault benchmark's scale scenarios (issue 20, defect 8): nodes leaving and joining in
 * numbers, under the closed-loop load, with DNS membership as in Kubernetes.
 *
 * Its own fleet: a test DNS server on 127.0.0.1 (test/helpers/dns-server.ts) serving the SRV
 * records of a headless service, 4 shard nodes and a router started as `shardfleet serve`
 * processes with `--nodes dns+srv:...`, replication R (2 by default), over the bench's store.
 *
 * 1. "4 -> 2 nodes, SIGTERM at once": the two nodes that own both replicas of shard 0 (so at
 *    least one shard has every replica on the leaving nodes) get SIGTERM at the same moment while
 *    DNS still lists them, and leave DNS 0.5 s later (the order Kubernetes follows with the
 *    chart's podManagementPolicy Parallel). Recovery: the router's ShardDetails shows every shard
 *    on its R placement owners among the 2 staying nodes, loaded, and nothing else. Notes: the
 *    leaving processes' exit codes and how long they took to exit.
 * 2. "2 -> 4 nodes, join at once": the same two nodes start again with empty caches and enter
 *    DNS together (they own both replicas of shard 0 again); the old owners must keep it until
 *    the joiners have it ready. Recovery: every shard on its 4-node placement owners.
 *
 * The goal is the bench's: 0 failed, 0 partial, 0 wrong-run answers.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ShardfleetClient } from '../../src/client/router-client.ts';
import { freePort } from '../../src/cli/free-port.ts';
import { spawnCli } from '../../src/cli/local-cluster.ts';
import { placeRun, type ShardSizes } from '../../src/common/placement.ts';
import { TestDnsServer } from '../../test/helpers/dns-server.ts';
import { killHard, trackChild } from './exit-cleanup.ts';
import { healthSummary, type FleetRunOptions, type HealthSummary } from './fault-fleet.ts';
import { LoadClient, nowMs, type QueryRecord } from './fault-load.ts';
import { scenarioRow, skippedRow, type ScenarioOutcome, type ScenarioRow } from './fault-report.ts';

/** What the scale scenarios need from the bench. */
export interface ScaleScenarioInputs extends FleetRunOptions {
  /** The store (`file://` folder or URL) with the served run. */
  storeDir: string;
  /** The run `_CURRENT` points at: the only run whose answers are right. */
  runId: string;
  /** That run's manifest: owners are predicted from its shard sizes as routers and nodes place them. */
  manifest: { shards: readonly ShardSizes[] };
  /** Query vectors (raw float32 LE, row-major) for the load client, and their dimension. */
  queriesFile: string;
  dim: number;
  /** A fresh folder for this fleet's shard caches. */
  cacheDir: string;
  /** Replication factor R (>= 2 for the scenarios to make sense; default 2). */
  replication?: number;
}

const SRV = '_grpc._tcp.scale-nodes.bench';
const NODE_IDS = ['node-0', 'node-1', 'node-2', 'node-3'];
const LEAD_MS = 2000;
const TAIL_MS = 2000;
const DNS_LAG_MS = 500;

/**
 * The nodes that leave in "4 -> 2 nodes" (and join again in "2 -> 4"): both owners of shard 0 among
 * the 4 nodes, as routers and nodes place the run (by its shards' bytes, {@link placeRun}).
 */
export function leavingNodes(manifest: { shards: readonly ShardSizes[] }, replication: number): string[] {
  return placeRun(manifest, NODE_IDS, replication).get(0) ?? [];
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: string | null; at: number }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode, at: nowMs() });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, at: nowMs() })));
}

/** Polls `check` every 250 ms; the time it first held, or null after `timeoutMs`. */
async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<number | null> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check().catch(() => false)) return nowMs();
    await sleep(250);
  }
  return null;
}

/** The DNS-membership fleet of these scenarios. */
class ScaleFleet {
  readonly processes = new Map<string, ChildProcess>();
  private readonly ports = new Map<string, number>();
  private generation = 0;
  client!: ShardfleetClient;
  routerAddress = '';

  constructor(
    private readonly dns: TestDnsServer,
    private readonly inputs: ScaleScenarioInputs,
    readonly replication: number,
  ) {}

  publish(ids: readonly string[]): void {
    this.dns.set(SRV, { srv: ids.map((id) => ({ port: this.ports.get(id)!, target: `${id}.scale-nodes.bench` })) });
  }

  private membershipArgs(): string[] {
    return ['--nodes', `dns+srv:${SRV}`, '--dns-server', this.dns.address, '--membership-refresh-ms', '500', '--replication', String(this.replication)];
  }

  private env(): Record<string, string> {
    return { ...this.inputs.env, GRPC_NODE_USE_ALTERNATIVE_RESOLVER: 'true' };
  }

  /** Starts node `id` on a new port with an empty cache folder (not in DNS until {@link publish}). */
  async startNode(id: string): Promise<void> {
    const port = await freePort();
    this.ports.set(id, port);
    this.dns.set(`${id}.scale-nodes.bench`, { a: ['127.0.0.1'] });
    const args = ['serve', 'node', '--store', this.inputs.storeDir, ...this.membershipArgs(), ...this.inputs.commonArgs, ...this.inputs.nodeArgs];
    args.push('--node-id', id, '--listen', `127.0.0.1:${port}`, '--cache-dir', join(this.inputs.cacheDir, `${id}-${this.generation++}`));
    this.processes.set(id, trackChild(spawnCli(args, this.env(), this.inputs.stderr)));
  }

  async startRouter(): Promise<void> {
    this.routerAddress = `127.0.0.1:${await freePort()}`;
    const args = ['serve', 'router', '--store', this.inputs.storeDir, ...this.membershipArgs(), ...this.inputs.commonArgs, '--listen', this.routerAddress];
    this.processes.set('router', trackChild(spawnCli(args, this.env(), this.inputs.stderr)));
    this.client = new ShardfleetClient(this.routerAddress);
  }

  /** True when the router serves the run with every shard on exactly its placement owners over `ids`, loaded. */
  async settledOn(ids: readonly string[]): Promise<boolean> {
    const d = await this.client.shardDetails(3000);
    if (d.run_id !== this.inputs.runId || d.shards.length === 0) return false;
    const placement = placeRun(this.inputs.manifest, ids, this.replication);
    return d.shards.every((s) => {
      const got = s.replicas.map((r) => `${r.node_id}:${r.state}`).sort();
      const want = (placement.get(s.db_id) ?? []).map((n) => `${n}:loaded`).sort();
      return got.join() === want.join();
    });
  }

  async health(): Promise<HealthSummary> {
    return healthSummary(this.client);
  }

  async stop(): Promise<void> {
    this.client?.close();
    await Promise.all(
      [...this.processes.values()].map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const gone = exitOf(child);
        child.kill('SIGKILL');
        killHard(child);
        await gone;
      }),
    );
  }
}

/**
 * Runs "4 -> 2 nodes, SIGTERM at once" and "2 -> 4 nodes, join at once" (see the module comment)
 * on a fleet of their own, and returns their rows (a skipped row with the reason when the fleet
 * cannot start). Never throws for a scenario failure: a harness error becomes the row's reason.
 */
export async function runScaleScenarios(inputs: ScaleScenarioInputs): Promise<ScenarioRow[]> {
  const names = ['4 -> 2 nodes, SIGTERM at once', '2 -> 4 nodes, join at once'];
  const replication = inputs.replication ?? 2;
  const dns = await TestDnsServer.start();
  const fleet = new ScaleFleet(dns, inputs, replication);
  let load: LoadClient | undefined;
  const rows: ScenarioRow[] = [];
  try {
    for (const id of NODE_IDS) await fleet.startNode(id);
    fleet.publish(NODE_IDS);
    await fleet.startRouter();
    if ((await until(() => fleet.settledOn(NODE_IDS), inputs.readyTimeoutMs)) === null) {
      return names.map((n) => skippedRow(n, `the 4-node DNS fleet did not serve ${inputs.runId} on every owner within ${inputs.readyTimeoutMs} ms`));
    }
    load = await LoadClient.start(fleet.routerAddress, inputs.queriesFile, inputs.dim);
    await load.runCount(inputs.load.concurrency, 500, inputs.load.params); // warm-up
    const movers = leavingNodes(inputs.manifest, replication);
    const stayers = NODE_IDS.filter((id) => !movers.includes(id));
    const withLoad = async (body: () => Promise<void>): Promise<QueryRecord[]> => {
      const run = load!.run({ ...inputs.load, maxQueries: 0, maxMs: 900_000 });
      try {
        await body();
      } finally {
        await run.stop();
      }
      return run.done;
    };
    rows.push(await timed(names[0], () => scaleDown(fleet, withLoad, movers, stayers, inputs)));
    rows.push(await timed(names[1], () => scaleUp(fleet, withLoad, movers, inputs)));
    return rows;
  } catch (err) {
    const reason = `harness error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
    return [...rows, ...names.slice(rows.length).map((n) => skippedRow(n, reason))];
  } finally {
    await load?.close();
    await fleet.stop();
    await dns.close();
  }
}

async function timed(name: string, fn: () => Promise<ScenarioOutcome>): Promise<ScenarioRow> {
  const t0 = Date.now();
  try {
    return scenarioRow(name, t0, await fn());
  } catch (err) {
    return { ...skippedRow(name, `harness error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`), seconds: (Date.now() - t0) / 1000 };
  }
}

type WithLoad = (body: () => Promise<void>) => Promise<QueryRecord[]>;

/** What a scale scenario measured; {@link scaleOutcome} adds the rest. */
type ScaleMeasures = Pick<ScenarioOutcome, 'queries' | 'faultAt' | 'clearedAt' | 'marks' | 'healthBefore' | 'notes'> & { recoveredAt: number | null };

/**
 * A scale scenario's outcome: only `inputs.runId` is a right answer, the goal applies, recovery is
 * timed out after `inputs.readyTimeoutMs`, and Health is asked once more now.
 */
async function scaleOutcome(fleet: ScaleFleet, inputs: ScaleScenarioInputs, m: ScaleMeasures): Promise<ScenarioOutcome> {
  return {
    acceptRuns: [inputs.runId],
    goalApplies: true,
    queries: m.queries,
    faultAt: m.faultAt,
    clearedAt: m.clearedAt,
    recoveredAt: m.recoveredAt,
    recoverTimeoutMs: inputs.readyTimeoutMs,
    marks: m.marks,
    healthBefore: m.healthBefore,
    healthAfter: await fleet.health(),
    notes: m.notes,
  };
}

async function scaleDown(fleet: ScaleFleet, withLoad: WithLoad, movers: string[], stayers: string[], inputs: ScaleScenarioInputs): Promise<ScenarioOutcome> {
  const healthBefore = await fleet.health();
  const marks: Record<string, number> = {};
  const notes: string[] = [`leaving: ${movers.join(', ')} (both owners of shard 0); staying: ${stayers.join(', ')}`];
  let faultAt = 0;
  let clearedAt = 0;
  let recoveredAt: number | null = null;
  const queries = await withLoad(async () => {
    await sleep(LEAD_MS);
    const leaving = movers.map((id) => fleet.processes.get(id)!);
    const exits = leaving.map(exitOf);
    faultAt = marks['SIGTERM both'] = nowMs();
    for (const child of leaving) child.kill('SIGTERM');
    await sleep(DNS_LAG_MS);
    clearedAt = marks['removed from DNS'] = nowMs();
    fleet.publish(stayers);
    const ended = await Promise.race([Promise.all(exits), sleep(inputs.readyTimeoutMs).then(() => null)]);
    if (ended === null) notes.push(`the leaving nodes had not exited ${inputs.readyTimeoutMs} ms after SIGTERM`);
    else {
      marks['both exited'] = Math.max(...ended.map((e) => e.at));
      notes.push(`exits: ${ended.map((e, i) => `${movers[i]} code ${e.code}${e.signal ? ` signal ${e.signal}` : ''} after ${((e.at - faultAt) / 1000).toFixed(1)} s`).join(', ')}`);
    }
    recoveredAt = await until(() => fleet.settledOn(stayers), inputs.readyTimeoutMs);
    if (recoveredAt !== null) marks['settled on 2 nodes'] = recoveredAt;
    await sleep(TAIL_MS);
  });
  return scaleOutcome(fleet, inputs, { queries, faultAt, clearedAt, recoveredAt, marks, healthBefore, notes });
}

async function scaleUp(fleet: ScaleFleet, withLoad: WithLoad, movers: string[], inputs: ScaleScenarioInputs): Promise<ScenarioOutcome> {
  const healthBefore = await fleet.health();
  const marks: Record<string, number> = {};
  const notes: string[] = [`joining with empty caches: ${movers.join(', ')} (both owners of shard 0 with 4 nodes)`];
  for (const id of movers) await fleet.startNode(id);
  let faultAt = 0;
  let recoveredAt: number | null = null;
  const queries = await withLoad(async () => {
    await sleep(LEAD_MS);
    faultAt = marks['both added to DNS'] = nowMs();
    fleet.publish(NODE_IDS);
    recoveredAt = await until(() => fleet.settledOn(NODE_IDS), inputs.readyTimeoutMs);
    if (recoveredAt !== null) marks['settled on 4 nodes'] = recoveredAt;
    await sleep(TAIL_MS);
  });
  return scaleOutcome(fleet, inputs, { queries, faultAt, clearedAt: faultAt, recoveredAt, marks, healthBefore, notes });
}
