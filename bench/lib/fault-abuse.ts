/**
 * The "abuse" section of `npm run bench:faults` (issue 20): single requests and connection
 * patterns that should never take a process down, each sent under a normal closed-loop search
 * load, measuring what the target answered, whether it (and every other process) survived, its
 * RSS, and how the normal queries fared meanwhile.
 *
 * Fleets (real `shardfleet serve` processes on 127.0.0.1, every one started with
 * NODE_OPTIONS=--max-old-space-size=<heapMb> and watched by an RSS cap that SIGKILLs it past
 * <rssCapMb>, so a request that makes a process allocate gigabytes cannot take the machine down):
 * - main: a router and 3 nodes, R=2, 8 shards (CLUSTER, l2, usearch) of Fashion-MNIST t10k with
 *   the filter column `label:int`;
 * - auth router: a second router over the same nodes with `--auth-token-file`;
 * - kv: a router and 1 node over a 300-record KV snapshot with int keys (`--kv sqlite
 *   --backend sqlite-vec --strategy hash`, 2 shards): the int_key_decimal case needs int keys.
 *
 * Every case: make sure every process runs (restart the dead) and the main fleet is at full
 * redundancy; start the RSS sampler (every 100 ms) and the load (closed loop, {@link
 * LOAD_CONCURRENCY} workers, top_k 10, 10 s deadline, from the load-client process, on the
 * target's router; node cases load the main router); after 1 s send the request on its own
 * HTTP/2 connection and, 300 ms later, a Health (router) / Status (node) probe on that same
 * connection; 1.5 s after the answer stop the load; then wait (up to 15 s) for full redundancy,
 * still sampling RSS: survival is judged after that wait, so a process that dies of a request
 * after its caller gave up is charged to the case. A process left 300 MB above its RSS before
 * (and over 600 MB) is restarted, with a note, so it cannot fail the next case.
 * The goal of a row: target alive, no process lost, 0 failed normal queries.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { freePort } from '../../src/cli/free-port.ts';
import { spawnCli } from '../../src/cli/local-cluster.ts';
import { waitForServing } from '../../src/common/health.ts';
import { formatNodeList } from '../../src/common/node-list.ts';
import { FileObjectStore } from '../../src/common/storage/file-object-store.ts';
import { waitFor } from '../../test/helpers/wait.ts';
import { abuseGoalMet, skippedAbuseRow, type AbuseRow, type RssFigures } from './abuse-report.ts';
import {
  PATHS,
  deepNotFilter,
  encode,
  hugeInFilter,
  hugeOrFilter,
  manyRoutingEntries,
  repeatedEmptyEntries,
  vectorBytes,
} from './abuse-requests.ts';
import { RawConnection, floodUnfinishedStreams, holdHalfOpenConnections, outcomeText, type CallOutcome } from './abuse-wire.ts';
import { stopChild, trackChild } from './exit-cleanup.ts';
import { startLocalFleet, type Fleet, type FleetConfig, type HealthSummary } from './fault-fleet.ts';
import { LoadClient, nowMs, queryStats, type QueryRecord } from './fault-load.ts';
import { buildRun, findRun, pointAt, runCli, type StoredRun } from './fault-snapshots.ts';
import { rssMb } from './proc-stats.ts';
import { RssSampler } from './rss-sampler.ts';

/** Workers of the normal load during a case. */
export const LOAD_CONCURRENCY = 4;
const NORMAL = { top_k: 10, timeout_ms: 10_000 } as const;
const LEAD_MS = 1000;
const TAIL_MS = 1500;
const PROBE_AFTER_MS = 300;
const PROBE_DEADLINE_MS = 5000;
/** Longest wait for full redundancy after a case, ms (then the next case's set-up waits again). */
const RECOVER_WAIT_MS = 15_000;
/** A process whose RSS after a case exceeds its RSS before by this much (and {@link BLOATED_MIN_MB}) is restarted, MB. */
const BLOATED_EXTRA_MB = 300;
const BLOATED_MIN_MB = 600;
const NUM_NODES = 3;
const REPLICATION = 2;
const NUM_DBS = 8;
const KV_RECORDS = 300;
const TOKEN = 'abuse-bench-token-0123456789';

/** What the abuse section needs from the benchmark. */
export interface AbuseSectionOptions {
  /** Temp folder of the benchmark (the section makes its own sub-folder). */
  dir: string;
  /** Fashion-MNIST images / labels (IDX, gz) of the base set. */
  images: string;
  labels: string;
  /** Query vectors (row-major) and the file holding them for the load client. */
  queries: Float32Array;
  queriesFile: string;
  dim: number;
  stderr: 'inherit' | 'ignore';
  log: (msg: string) => void;
  /** V8 heap limit of every fleet process, MB (NODE_OPTIONS=--max-old-space-size). */
  heapMb: number;
  /** RSS past which the sampler SIGKILLs a fleet process, MB. */
  rssCapMb: number;
  /** Streams of the unfinished-streams case. */
  streams: number;
  /** Half-open connections of that case. */
  halfOpen: number;
  /** Cases not started by this long after the section began are skipped, ms (default 30 min). */
  budgetMs?: number;
  /** Run only the cases whose name contains one of these (case-insensitive); default all. */
  caseFilter?: string[];
}

/** The section's result. */
export interface AbuseSection {
  rows: AbuseRow[];
  setup: string;
  setupSeconds: number;
  seconds: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<number | null> {
  try {
    await waitFor('condition', check, { timeoutMs, intervalMs: 250, retryOnError: true });
    return nowMs();
  } catch {
    return null;
  }
}

/** A router started beside a fleet (the auth router), restartable on the same address. */
class ExtraRouter {
  private child: ChildProcess | undefined;

  constructor(
    readonly address: string,
    private readonly args: string[],
    private readonly env: Record<string, string>,
    private readonly stderr: 'inherit' | 'ignore',
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  exitDescription(): string | undefined {
    if (!this.child || this.alive()) return undefined;
    return this.child.signalCode !== null ? `signal ${this.child.signalCode}` : `code ${this.child.exitCode}`;
  }

  /** Starts it (stopping a running one first) and waits until it reports SERVING. */
  async start(): Promise<void> {
    await this.stop();
    const child = trackChild(spawnCli([...this.args, '--listen', this.address], this.env, this.stderr));
    this.child = child;
    const exited = new Promise<never>((_, reject) => child.once('exit', (c, s) => reject(new Error(`auth router exited (code ${c}, signal ${s})`))));
    exited.catch(() => undefined);
    await Promise.race([waitForServing(this.address, 300_000), exited]);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.alive()) return;
    await stopChild(child);
  }
}

/** One process the cases may take down, with how to bring it back. */
interface Proc {
  name: string;
  pid(): number | undefined;
  alive(): boolean;
  exitDescription(): string | undefined;
  restart(): Promise<void>;
}

function fleetProc(fleet: Fleet, processName: string, label: string): Proc {
  return {
    name: label,
    pid: () => fleet.pid(processName),
    alive: () => fleet.isAlive(processName),
    exitDescription: () => fleet.exitDescription(processName),
    restart: async () => {
      if (processName === 'router') await fleet.restartRouter();
      else await fleet.restartNode(processName);
    },
  };
}

/** A process a case sends its request to. */
interface Target {
  /** Name in the process list (`router`, `auth router`, `node-0`, `kv router`). */
  proc: string;
  address: string;
  kind: 'router' | 'node';
  /** Bearer token for the probe call (auth router). */
  token?: string;
  /** The load sent while the case runs, and the router it goes to. */
  load: LoadClient;
  loadRouter: string;
}

/** What a case's request(s) got. */
interface Sent {
  outcomes: CallOutcome[];
  measured?: Record<string, unknown>;
  notes?: string[];
}

/** One abuse case. */
interface AbuseCase {
  name: string;
  target: Target;
  request: string;
  /** Sends the abuse over `conn` (a connection of its own to the target). */
  send(conn: RawConnection): Promise<Sent>;
}

/** Everything the cases share. */
interface World {
  o: AbuseSectionOptions;
  main: Fleet;
  kv: Fleet;
  auth: ExtraRouter;
  procs: Proc[];
  run: StoredRun;
  kvRun: StoredRun;
  loads: { main: LoadClient; auth: LoadClient; kv: LoadClient };
}

function healthText(h: HealthSummary): string {
  if (h.status.startsWith('error')) return `error: ${h.status.slice(7, 80)}`;
  return `${h.status} ${h.run_id || '(none)'}${h.coverage < 1 ? ` cov ${h.coverage.toFixed(2)}` : ''}`;
}

/** `INTERNAL x12` / `INVALID_ARGUMENT x10, INTERNAL x2` for several outcomes; the status for one. */
function statusSummary(outcomes: readonly CallOutcome[]): string {
  if (outcomes.length === 1) return outcomes[0].status;
  const counts = new Map<string, number>();
  for (const o of outcomes) counts.set(o.status, (counts.get(o.status) ?? 0) + 1);
  return [...counts].map(([k, v]) => `${k} x${v}`).join(', ');
}

/**
 * Restarts every dead process, then waits for the main fleet's full redundancy (45 s) and the
 * KV fleet's (20 s); when the main fleet does not get there, restarts its nodes and waits again.
 * @returns notes for the row (empty when everything was up).
 */
async function ensureUp(w: World): Promise<string[]> {
  const notes: string[] = [];
  for (const p of w.procs) {
    if (p.alive()) continue;
    notes.push(`set-up: restarted ${p.name} (had exited: ${p.exitDescription() ?? '?'})`);
    await p.restart();
  }
  if ((await until(() => w.main.fullRedundancy(w.run.runId), 30_000)) === null) {
    notes.push(`set-up: main fleet not at full redundancy within 30 s (${(await w.main.replicaProblems()).slice(0, 3).join('; ')}); restarted its nodes`);
    for (let i = 0; i < NUM_NODES; i++) {
      await w.main.killNode(`node-${i}`);
      await w.main.restartNode(`node-${i}`);
    }
    if ((await until(() => w.main.fullRedundancy(w.run.runId), 60_000)) === null) notes.push('set-up: still not at full redundancy after 60 s');
  }
  if (!w.auth.alive()) await w.auth.start();
  if ((await until(() => w.kv.fullRedundancy(w.kvRun.runId), 20_000)) === null) notes.push('set-up: KV fleet not serving its run with its shards loaded within 20 s');
  return notes;
}

async function runCase(w: World, c: AbuseCase): Promise<AbuseRow> {
  const t0 = Date.now();
  const notes = await ensureUp(w);
  const pidsAtStart = new Map<string, number>();
  for (const p of w.procs) {
    const pid = p.pid();
    if (pid !== undefined && p.alive()) pidsAtStart.set(p.name, pid);
  }
  const sampler = new RssSampler(pidsAtStart, w.o.rssCapMb).start();
  const conn = new RawConnection(c.target.address);
  const load = c.target.load.run({ concurrency: LOAD_CONCURRENCY, maxQueries: 0, maxMs: 600_000, params: NORMAL });
  let sent: Sent;
  let probe: CallOutcome;
  let queries: QueryRecord[];
  try {
    await sleep(LEAD_MS);
    const probePath = c.target.kind === 'router' ? PATHS.health : PATHS.status;
    [sent, probe] = await Promise.all([
      c.send(conn),
      sleep(PROBE_AFTER_MS).then(() => conn.call(probePath, Buffer.alloc(0), PROBE_DEADLINE_MS, c.target.token)),
    ]);
    await sleep(TAIL_MS);
  } finally {
    queries = await load.stop();
    conn.close();
  }
  const stats = queryStats(queries);
  const worstMs = queries.reduce((m, q) => Math.max(m, q.ms), 0);
  const fleet = c.target.load === w.loads.kv ? w.kv : w.main;
  const healthAfter = healthText(await fleet.health());
  // The recovery wait is also the settling time: a process that dies in it (a heap exhausted
  // after the caller gave up) is charged to this case, and the sampler keeps guarding it.
  let recoverS: number | null | undefined;
  if (fleet === w.main) {
    const at = nowMs();
    const ok = await until(() => w.main.fullRedundancy(w.run.runId), RECOVER_WAIT_MS);
    recoverS = ok === null ? null : Math.round((ok - at) / 100) / 10;
  } else {
    await sleep(3000);
  }
  const traces = sampler.stop();
  const lost: string[] = [];
  for (const p of w.procs) {
    const pid = pidsAtStart.get(p.name);
    if (pid === undefined) continue;
    if (p.alive() && p.pid() === pid) continue;
    const killedAt = traces.get(p.name)?.killedAtMb;
    lost.push(`${p.name} (${p.exitDescription() ?? 'exited'}${killedAt !== undefined ? `: the bench's RSS cap, ${killedAt.toFixed(0)} MB > ${w.o.rssCapMb} MB` : ''})`);
  }
  const targetProc = w.procs.find((p) => p.name === c.target.proc);
  const targetPid = pidsAtStart.get(c.target.proc);
  const targetAlive = targetProc !== undefined && targetPid !== undefined && targetProc.alive() && targetProc.pid() === targetPid;
  const trace = traces.get(c.target.proc);
  const rss: RssFigures | null = trace ? { beforeMb: trace.beforeMb, peakMb: trace.peakMb, afterMb: targetAlive && targetPid ? rssMb(targetPid) : NaN } : null;
  const peakRssMb: Record<string, number> = {};
  for (const [name, t] of traces) peakRssMb[name] = Math.round(t.peakMb);
  // A process left bloated (or still busy with the request) would die or stall during the next
  // case and be charged to it: restart it now, and say so in this row.
  for (const p of w.procs) {
    const pid = p.pid();
    const before = traces.get(p.name)?.beforeMb ?? NaN;
    if (pid === undefined || !p.alive()) continue;
    const now = rssMb(pid);
    if (now > Math.max(before + BLOATED_EXTRA_MB, BLOATED_MIN_MB)) {
      notes.push(`${p.name} left at ${now.toFixed(0)} MB RSS (${before.toFixed(0)} MB before): restarted for the next case`);
      await p.restart();
    }
  }
  const worst = sent.outcomes.reduce((a, b) => (b.detailsChars > a.detailsChars ? b : a), sent.outcomes[0]);
  const row: AbuseRow = {
    name: c.name,
    target: c.target.proc,
    request: c.request,
    seconds: Math.round((Date.now() - t0) / 100) / 10,
    status: statusSummary(sent.outcomes),
    details: sent.outcomes[0]?.details ?? '',
    detailsChars: worst?.detailsChars ?? 0,
    callMs: sent.outcomes.length ? Math.round(Math.max(...sent.outcomes.map((o) => o.ms))) : null,
    probe: outcomeText(probe),
    targetAlive,
    lost,
    rss,
    peakRssMb,
    load: {
      router: c.target.loadRouter,
      sent: stats.sent,
      failed: stats.failed,
      failedByStatus: stats.failedByStatus,
      worstMs: Math.round(worstMs),
      p99Ms: Math.round(stats.p99Ms * 10) / 10,
    },
    healthAfter,
    recoverS,
    goalMet: null,
    measured: sent.measured ?? {},
    notes: [...notes, ...(sent.notes ?? []), ...stats.samples.map((s) => `normal load: ${s.count} x ${s.message}`)],
  };
  row.goalMet = abuseGoalMet(row);
  return row;
}

/** The run and loaded shards node `id` serves (for requests sent to it directly). */
async function nodeRun(fleet: Fleet, id: string): Promise<{ runId: string; shards: number[] }> {
  const s = await fleet.nodeStatus(id);
  const run = s.runs.find((r) => r.current && r.ready) ?? s.runs.find((r) => r.ready);
  if (!run) throw new Error(`${id} has no ready run`);
  return { runId: run.run_id, shards: run.shards_loaded };
}

function mib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(0)} KiB`;
}

/** The cases, in order (targets resolved against the running fleets). */
function cases(w: World): AbuseCase[] {
  const { o } = w;
  const router: Target = { proc: 'router', address: w.main.routerAddress, kind: 'router', load: w.loads.main, loadRouter: 'router' };
  const node0 = w.main.nodes[0];
  const node: Target = { proc: node0.id, address: node0.address, kind: 'node', load: w.loads.main, loadRouter: 'router' };
  const authNoToken: Target = { proc: 'auth router', address: w.auth.address, kind: 'router', load: w.loads.auth, loadRouter: 'auth router (with the token)' };
  const authToken: Target = { ...authNoToken, token: TOKEN };
  const kvRouter: Target = { proc: 'kv router', address: w.kv.routerAddress, kind: 'router', load: w.loads.kv, loadRouter: 'kv router' };
  const vector = vectorBytes(o.queries.subarray(0, o.dim));
  const BIG = 40_000_000;
  /** A 40 MB message crawls through HTTP/2 flow control on a busy machine: give it time to arrive. */
  const BIG_DEADLINE_MS = 60_000;
  const bigBatch = repeatedEmptyEntries(10, BIG);
  const single = (call: Promise<CallOutcome>): Promise<Sent> => call.then((r) => ({ outcomes: [r] }));
  const toNode = async (conn: RawConnection, filter: string, extra: { keys?: Buffer[] } = {}): Promise<Sent> => {
    const { runId, shards } = await nodeRun(w.main, node0.id);
    const body = encode.searchShards({
      run_id: runId,
      queries: [extra.keys ? { keys: extra.keys, shard_ids: shards } : { query: vector, top_k: 10, shard_ids: shards, filter }],
    });
    const r = await conn.call(PATHS.searchShards, body, 20_000);
    return { outcomes: [r], measured: { 'message bytes': body.length, shards: shards.join(',') } };
  };
  const inFilter = JSON.stringify(hugeInFilter('label', 1_000_000));
  const orFilter = JSON.stringify(hugeOrFilter('label', 100_000));
  const keys = Array.from({ length: 100_000 }, (_, i) => Buffer.from(String(i * 7)));
  const heavy = encode.batchSearch({
    queries: Array.from({ length: 100 }, (_, i) => ({
      query: vectorBytes(o.queries.subarray((i % (o.queries.length / o.dim)) * o.dim, ((i % (o.queries.length / o.dim)) + 1) * o.dim)),
      top_k: 1000,
      num_probes: NUM_DBS,
      include_vector: true,
      include_payload: true,
    })),
  });
  const routing = manyRoutingEntries(8000);
  const searchCtx = encode.search({ query: vector, top_k: 10, routing_context: routing });
  const routeCtx = encode.route({ query: vector, routing_context: routing });
  const getDecimal = encode.get({ key: { int_key_decimal: 'x'.repeat(1_000_000) } });
  const multiGet = encode.multiGet({ keys: Array.from({ length: 60 }, (_, i) => ({ string_key: `${i}-${'k'.repeat(1_000_000)}` })) });
  const filter2000 = encode.search({ query: vector, top_k: 10, filter: deepNotFilter(2000, 'label', 1) });
  const filter4000 = encode.search({ query: vector, top_k: 10, filter: deepNotFilter(4000, 'label', 1) });
  const leases = encode.status({
    router_id: 'abuse-bench',
    run_leases: Array.from({ length: 20_000 }, (_, i) => ({ run_id: `fake-run-${i}`, manifest_key: `manifests/fake-run-${i}/manifest.json` })),
    lease_ttl_ms: 10_000,
  });
  return [
    {
      name: '40 MB BatchSearch of empty queries',
      target: router,
      request: `BatchSearch, [10,0] x ${BIG / 2} (${mib(BIG)})`,
      send: (conn) => single(conn.call(PATHS.batchSearch, bigBatch, BIG_DEADLINE_MS)),
    },
    {
      name: '40 MB BatchSearch, auth router, no token',
      target: authNoToken,
      request: `BatchSearch, [10,0] x ${BIG / 2} (${mib(BIG)}), no authorization`,
      send: (conn) => single(conn.call(PATHS.batchSearch, bigBatch, BIG_DEADLINE_MS)),
    },
    {
      name: '40 MB BatchSearch, auth router, valid token',
      target: authToken,
      request: `BatchSearch, [10,0] x ${BIG / 2} (${mib(BIG)}), valid bearer token`,
      send: (conn) => single(conn.call(PATHS.batchSearch, bigBatch, BIG_DEADLINE_MS, TOKEN)),
    },
    {
      name: '40 MB SearchShards of empty queries',
      target: node,
      request: `SearchShards, [0x4a,0] x ${BIG / 2} (${mib(BIG)})`,
      send: (conn) => single(conn.call(PATHS.searchShards, repeatedEmptyEntries(0x4a, BIG), BIG_DEADLINE_MS)),
    },
    {
      name: 'heavy BatchSearch',
      target: router,
      request: `BatchSearch 100 x (top_k 1000, num_probes ${NUM_DBS}, include_vector, include_payload) (${mib(heavy.length)}), 30 s deadline`,
      send: (conn) => single(conn.call(PATHS.batchSearch, heavy, 30_000)),
    },
    {
      name: 'Search with 8,000 routing_context entries',
      target: router,
      request: `Search, 8,000 routing_context entries (${mib(searchCtx.length)})`,
      send: (conn) => single(conn.call(PATHS.search, searchCtx, 10_000)),
    },
    {
      name: 'Route with 8,000 routing_context entries',
      target: router,
      request: `Route, 8,000 routing_context entries (${mib(routeCtx.length)})`,
      send: (conn) => single(conn.call(PATHS.route, routeCtx, 10_000)),
    },
    {
      name: 'Get with a 1 MB non-numeric int_key_decimal',
      target: kvRouter,
      request: `Get, int_key_decimal "x" x 1,000,000 (${mib(getDecimal.length)}), KV snapshot with int keys`,
      send: (conn) => single(conn.call(PATHS.get, getDecimal, 10_000)),
    },
    {
      name: 'filter "!" x 2000 + "(label==1)", 12 times',
      target: router,
      request: `12 x Search, filter of ${deepNotFilter(2000, 'label', 1).length} chars, one after the other`,
      send: async (conn) => {
        const outcomes: CallOutcome[] = [];
        for (let i = 0; i < 12; i++) outcomes.push(await conn.call(PATHS.search, filter2000, 10_000));
        const problems = await w.main.replicaProblems();
        const ejected = problems.filter((p) => p.includes(': ejected'));
        return { outcomes, measured: { 'replicas not loaded right after': problems.length, 'ejected replicas right after': ejected.length, sample: ejected[0] ?? problems[0] ?? 'none' } };
      },
    },
    {
      name: 'filter "!" x 4000 + "(label==1)"',
      target: router,
      request: `Search, filter of ${deepNotFilter(4000, 'label', 1).length} chars`,
      send: (conn) => single(conn.call(PATHS.search, filter4000, 10_000)),
    },
    {
      name: 'node: filter in 10^6 values',
      target: node,
      request: `SearchShards, filter {op:in, label, 1,000,000 values} (${mib(inFilter.length)} of JSON)`,
      send: (conn) => toNode(conn, inFilter),
    },
    {
      name: 'node: filter OR of 10^5 terms',
      target: node,
      request: `SearchShards, filter {op:or, 100,000 label==i terms} (${mib(orFilter.length)} of JSON)`,
      send: (conn) => toNode(conn, orFilter),
    },
    {
      name: 'node: 10^5 keys',
      target: node,
      request: 'SearchShards, one lookup of 100,000 keys on every loaded shard',
      send: (conn) => toNode(conn, '', { keys }),
    },
    {
      name: 'node: 20,000 fake run_leases',
      target: node,
      request: `Status, 20,000 run_leases of runs that do not exist, lease_ttl_ms 10000 (${mib(leases.length)})`,
      send: (conn) => single(conn.call(PATHS.status, leases, 20_000)),
    },
    {
      name: 'MultiGet 60 x 1 MB keys',
      target: router,
      request: `MultiGet, 60 string_keys of 1,000,000+ chars (${mib(multiGet.length)})`,
      send: (conn) => single(conn.call(PATHS.multiGet, multiGet, 20_000)),
    },
    {
      name: `${o.streams.toLocaleString('en-US')} unfinished streams`,
      target: router,
      request: `${o.streams.toLocaleString('en-US')} Search streams over 10 HTTP/2 connections, each 100 bytes of a 1 MiB message, held 3 s (20 s to open)`,
      send: async () => {
        const r = await floodUnfinishedStreams(w.main.routerAddress, {
          streams: o.streams,
          sessions: 10,
          path: PATHS.search,
          budgetMs: 20_000,
          holdMs: 3000,
          keepGoing: () => w.procs.find((p) => p.name === 'router')?.alive() ?? false,
        });
        const opened: CallOutcome = { code: 0, status: `${r.opened} opened`, details: `${r.openAtEnd} still open at the end`, detailsChars: 0, ms: r.openMs };
        return { outcomes: [opened], measured: { flood: r }, notes: ['the probe is a Health call on a connection of its own, sent from the benchmark process, whose event loop is busy opening the streams'] };
      },
    },
    {
      name: `${o.halfOpen.toLocaleString('en-US')} half-open connections`,
      target: router,
      request: `${o.halfOpen.toLocaleString('en-US')} TCP connections sending 16 of the 24 bytes of the HTTP/2 preface, held up to 15 s`,
      send: async () => {
        const r = await holdHalfOpenConnections(w.main.routerAddress, o.halfOpen, 15_000);
        const held: CallOutcome = {
          code: 0,
          status: `${r.connected - r.closedByServer} of ${r.connected} held ${(r.heldMs / 1000).toFixed(0)} s`,
          details: r.firstCloseMs === null ? 'the server closed none' : `the server closed ${r.closedByServer}, the first after ${r.firstCloseMs} ms`,
          detailsChars: 0,
          ms: r.heldMs,
        };
        return { outcomes: [held], measured: { halfOpen: r }, notes: ['the probe is a Health call on a connection of its own, sent from the benchmark process that holds the 2,000 sockets'] };
      },
    },
  ];
}

/** Store-file cases not measured yet (symlink to /dev/zero, FIFO): rows saying so. */
function storeFileRows(): AbuseRow[] {
  const reason = 'not measured by this section yet (needs a run whose files are replaced in the store and published: test/ covers it)';
  return [
    skippedAbuseRow('store file: id-filter.bin -> /dev/zero', 'router', 'a published run whose id-filter.bin is a symlink to /dev/zero', reason),
    skippedAbuseRow('store file: shard file is a FIFO', 'node', 'a published run whose shard file is a named pipe', reason),
  ];
}

/** The KV snapshot's JSONL input: the first `count` query rows with int keys (i * 7919 - 100000). */
function writeKvInput(path: string, queries: Float32Array, dim: number, count: number): void {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const vector = Array.from(queries.subarray(i * dim, (i + 1) * dim));
    lines.push(JSON.stringify({ key: i * 7919 - 100_000, value: `v${i}`, vector, payload: { n: i } }));
  }
  writeFileSync(path, `${lines.join('\n')}\n`);
}

/**
 * Builds the section's snapshots, starts its fleets and load clients, runs every case and stops
 * everything.
 * @returns one row per case (store-file cases as skipped rows) and a set-up description.
 */
export async function runAbuseSection(o: AbuseSectionOptions): Promise<AbuseSection> {
  const t0 = Date.now();
  const budgetMs = o.budgetMs ?? 30 * 60_000;
  const dir = join(o.dir, 'abuse');
  mkdirSync(dir, { recursive: true });
  const storeDir = join(dir, 'store');
  const kvStoreDir = join(dir, 'kv-store');
  o.log('abuse: building run-abuse (label:int filter column) and a KV snapshot');
  await buildRun({ storeDir, images: o.images, labels: o.labels, runId: 'run-abuse', seed: 11, numDbs: NUM_DBS, stderr: o.stderr, extraArgs: ['--filter-columns', 'label:int'] });
  const kvInput = join(dir, 'kv.jsonl');
  writeKvInput(kvInput, o.queries, o.dim, KV_RECORDS);
  await runCli(
    ['build', '--store', kvStoreDir, '--input', kvInput, '--kv', 'sqlite', '--backend', 'sqlite-vec', '--strategy', 'hash', '--num-dbs', '2', '--metric', 'l2', '--run-id', 'run-kv', '--no-progress'],
    o.stderr,
  );
  const store = new FileObjectStore(storeDir);
  const kvStore = new FileObjectStore(kvStoreDir);
  const run = await findRun(store, 'run-abuse');
  const kvRun = await findRun(kvStore, 'run-kv');
  await pointAt(store, run);
  await store.close();
  await kvStore.close();

  const env = { SHARDFLEET_LOG_LEVEL: process.env.SHARDFLEET_LOG_LEVEL ?? 'warn', NODE_OPTIONS: `--max-old-space-size=${o.heapMb}` };
  const common = ['--poll-interval-ms', '1000'];
  o.log('abuse: starting the fleets');
  const config = (store: string, cache: string, numNodes: number, replication: number): FleetConfig => ({
    storeDir: store,
    cacheDir: join(dir, cache),
    numNodes,
    replication,
    commonArgs: common,
    nodeArgs: [],
    routerArgs: [],
    stderr: o.stderr,
    env,
    readyTimeoutMs: 300_000,
  });
  // Both fleets start at once (start-up is most of the set-up time on a busy machine).
  const [main, kv] = await Promise.all([startLocalFleet(config(storeDir, 'cache', NUM_NODES, REPLICATION)), startLocalFleet(config(kvStoreDir, 'kv-cache', 1, 1))]);
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  const authArgs = ['serve', 'router', '--store', storeDir, '--nodes', formatNodeList(main.nodes), '--replication', String(REPLICATION), ...common, '--auth-token-file', tokenFile];
  const auth = new ExtraRouter(`127.0.0.1:${await freePort()}`, authArgs, env, o.stderr);
  let loads: World['loads'] | undefined;
  try {
    await auth.start();
    loads = {
      main: await LoadClient.start(main.routerAddress, o.queriesFile, o.dim),
      auth: await LoadClient.start(auth.address, o.queriesFile, o.dim, TOKEN),
      kv: await LoadClient.start(kv.routerAddress, o.queriesFile, o.dim),
    };
    const procs: Proc[] = [
      fleetProc(main, 'router', 'router'),
      ...main.nodes.map((n) => fleetProc(main, n.id, n.id)),
      {
        name: 'auth router',
        pid: () => auth.pid,
        alive: () => auth.alive(),
        exitDescription: () => auth.exitDescription(),
        restart: () => auth.start(),
      },
      fleetProc(kv, 'router', 'kv router'),
      fleetProc(kv, 'node-0', 'kv node-0'),
    ];
    const w: World = { o, main, kv, auth, procs, run, kvRun, loads };
    await Promise.all([loads.main.runCount(LOAD_CONCURRENCY, 200, NORMAL), loads.auth.runCount(LOAD_CONCURRENCY, 100, NORMAL), loads.kv.runCount(LOAD_CONCURRENCY, 100, NORMAL)]);
    const setupSeconds = (Date.now() - t0) / 1000;
    const rows: AbuseRow[] = [];
    const wanted = o.caseFilter?.map((x) => x.toLowerCase());
    for (const c of cases(w).filter((x) => !wanted || wanted.some((f) => x.name.toLowerCase().includes(f)))) {
      o.log(`abuse: ${c.name} -> ${c.target.proc}`);
      let row: AbuseRow;
      const started = Date.now();
      if (started - t0 > budgetMs) {
        rows.push(skippedAbuseRow(c.name, c.target.proc, c.request, `the section's time budget (${budgetMs / 60_000} min) was spent`));
        continue;
      }
      try {
        row = await runCase(w, c);
      } catch (err) {
        row = { ...skippedAbuseRow(c.name, c.target.proc, c.request, `harness error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`), seconds: (Date.now() - started) / 1000 };
      }
      o.log(
        `  ${row.status}${row.details ? `: ${row.details.slice(0, 100)}` : ''}; alive ${row.targetAlive}; lost ${row.lost.join(', ') || 'none'}; ` +
          `RSS ${row.rss ? `${row.rss.beforeMb.toFixed(0)}/${row.rss.peakMb.toFixed(0)}/${row.rss.afterMb.toFixed(0)}` : '-'} MB; load ${row.load?.sent ?? 0} sent ${row.load?.failed ?? 0} failed, worst ${row.load?.worstMs ?? '-'} ms (${row.seconds} s)`,
      );
      rows.push(row);
    }
    if (!wanted) rows.push(...storeFileRows());
    const setup =
      `abuse fleets: router + ${NUM_NODES} nodes, R=${REPLICATION}, ${NUM_DBS} shards (${run.manifest.index.backend}, filter column label:int); ` +
      `auth router (--auth-token-file) over the same nodes; KV router + 1 node over ${KV_RECORDS} int-keyed records (--kv sqlite, sqlite-vec, hash, 2 shards); ` +
      `every process with NODE_OPTIONS=--max-old-space-size=${o.heapMb} and SIGKILLed by the bench past ${o.rssCapMb} MB RSS; ` +
      `load per case: closed loop, concurrency ${LOAD_CONCURRENCY}, top_k 10, 10 s deadline, on the target's router (node cases: the main router)`;
    return { rows, setup, setupSeconds, seconds: (Date.now() - t0) / 1000 };
  } finally {
    if (loads) await Promise.all([loads.main.close(), loads.auth.close(), loads.kv.close()]);
    await auth.stop();
    await main.stop();
    await kv.stop();
  }
}
