/**
 * `npm run bench:faults` — the fault benchmark of issue 12: does the fleet keep answering, in
 * full and from the right run, while things go wrong?
 *
 * Cluster: a router and 3 shard nodes as real `shardfleet serve` processes on 127.0.0.1,
 * replication 2, 8 shards (CLUSTER, l2, the default usearch backend) of Fashion-MNIST t10k
 * (10,000 x 784) from ../shared/datasets/fashion-mnist, or the bundled examples/data copy when
 * that is absent (the first output line says which). Runs are built up front with
 * `shardfleet build` into a file:// store in a temp folder (run-a .. run-d, different k-means
 * seeds); "publishing" one later is the publish step itself, moving `_CURRENT` (movePointer).
 * Nodes run with `--run-grace-ms 3000` and every server with `--poll-interval-ms 1000` so the
 * benchmark stays bounded; everything else is the CLI's defaults (hedging, ejection, status
 * polls). Load: a closed loop of 8 workers (top_k 10, the run's default num_probes, 10 s
 * deadline) from a separate client process (bench/fault-load-client.ts, the TypeScript client
 * of src/client/router-client.ts), which records every query's start, latency, status, run_id
 * and partial flag.
 *
 * Scenarios, in order (each under load unless said otherwise):
 * 1. baseline: 5 s, nothing happens.
 * 2. node SIGKILL: node-1 is killed, restarted 5 s later.
 * 3. node SIGSTOP 10 s: node-2 frozen (accepts connections, answers nothing), then SIGCONT.
 * 4. snapshot swap: `_CURRENT` moves from run-a to run-b; the load continues past the nodes'
 *    run grace (the old run is dropped under load). Answers from run-a or run-b are right.
 * 5. stuck new run, then node SIGKILL: run-c is published with one shard file damaged in the
 *    store (its sha256 check fails on every node); once every node has loaded its own part of
 *    run-c, and the run grace has passed, a replica of the damaged shard (a node on which run-c
 *    can never become ready) is SIGKILLed and restarted 3 s later. Only run-b answers are right.
 * 6. router restart while a run is stuck: with run-b served and complete on the nodes, run-c
 *    (still damaged) is published again; once every node has tried it, the router is restarted
 *    (SIGTERM, same flags and address; the load pauses while it is down, a single router
 *    cannot answer then). Only run-b answers are right.
 * 7. short-deadline storm: 100 normal searches at concurrency 1, 300 with an 8 ms deadline at
 *    concurrency 8, then 100 normal searches at concurrency 1. The storm's own
 *    DEADLINE_EXCEEDED answers are expected and reported apart; every other failure counts.
 *    p50/p99 are those of the last 100.
 * 8. malformed manifest after a rollback: run-d is newest and served; `shardfleet rollback` to
 *    run-b (not under load), then a malformed manifest is written and `_CURRENT` pointed at it.
 *    The fleet must keep serving run-b: answers by any other run count as wrong.
 * 9. network partition (only where `ip netns` works, i.e. as root with iproute2): a second
 *    fleet with every node in its own network namespace on its own address (10.77.x.y, veth
 *    pairs), the router in the root namespace; node-1's packets are dropped on both ends of its
 *    link for 10 s (a silent partition, not a refused connection). Otherwise the row says it was
 *    skipped and why.
 *
 * Reported per scenario: queries sent, answered, failed by gRPC status, partial answers, answers
 * from a wrong run, p50/p99 (ms, answered queries started between the fault and full
 * redundancy; router restart: every answer of the restarted router; storm: the 100 searches
 * after it), "bad until" (from the fault to the end of the last failed, partial or wrong-run
 * query), "recover" (from clearing the fault — restart, SIGCONT, packets let through, publish —
 * until the router's ShardDetails shows the expected run served with every shard on 2 loaded
 * replicas; "never" when not within the scenario's timeout), which runs answered, and the
 * router's Health before and after. The table goes to stdout (Markdown) and, with every row's
 * details, to bench/results/faults-<date>.json.
 *
 * The goal (issue 12): 0 failed and 0 partial queries in every scenario where each shard keeps
 * a ready replica. Every scenario here takes down at most one node of three (R = 2) and keeps a
 * complete earlier run on the nodes, so in a correct fleet each shard always keeps one; the goal
 * applies to all of them (and wrong-run answers count against it too).
 *
 * Abuse section (issue 20; bench/lib/fault-abuse.ts, which describes its fleets and procedure):
 * one row per abuse case — a 40 MB BatchSearch of empty queries (router; auth router with and
 * without a token), a 40 MB SearchShards (node), a heavy valid BatchSearch, 8,000
 * routing_context entries (Search, Route), a 1 MB int_key_decimal (KV router), deep `!` filters,
 * node-direct huge filters / 10^5 keys / 20,000 fake run_leases, MultiGet of 60 x 1 MB keys,
 * 100,000 unfinished HTTP/2 streams and 2,000 half-open connections — each under a normal load,
 * reporting the status it got, a probe call on the same connection, whether the target (and
 * every other process) survived, the target's RSS before / peak / after, and the normal queries'
 * failures and worst latency. Its fleet processes run with a 512 MB V8 heap and are SIGKILLed past
 * 1,536 MB RSS, so a blow-up stays bounded.
 *
 * Scale-down section (issue 20, defect 8; bench/lib/fault-scale-down.ts): its own run (seed 1)
 * in its own store, served by a router and 4 nodes with `dns+srv:` membership from a test DNS
 * server, R=2, under the same closed-loop load: "4 -> 2 nodes, SIGTERM at once" (both owners of
 * shard 0 stop together while still listed, and leave DNS 0.5 s later), then "2 -> 4 nodes, join
 * at once" (they come back with empty caches).
 *
 * Alias-swap section (issue 24; bench/lib/fault-alias-swap.ts, which describes its fleet and
 * phases): a catalog root with two collections of disjoint ids (`fm-a` = rows 0..2499, `fm-b` =
 * rows 5000..7499) and the alias `live`, a router and 3 nodes, the same closed-loop load with every
 * search naming `live`; the alias is switched 8 times, one every 1.5-2 s, first left to the router's
 * poll, then with a Refresh after each write. Reported per phase: requests, failed by status,
 * partial, MIXED answers (run_id not the answering collection's current run, or an id outside its
 * id set), STALE answers (from the old collection once the new one was visible), switches,
 * p50/p99 before and while switching, and the switch-to-visible lag (write to the first answer
 * from the new collection) p50/max. About 80 s on 2 cores (10-15 s of it the two builds).
 *
 * Sections: `faults` (scenarios 1-9 above), `abuse`, `scale-down` and `alias-swap`. Default: all
 * four; `--only alias-swap` (or a comma-separated list) runs only those.
 *
 * Options: `--verbose` (children's JSON logs on stderr), `--no-netns` (skip the partition),
 * `--keep` (keep the temp folder), `--out <file>` (JSON path; default
 * bench/results/faults-<date>.json, or faults-<section>-<date>.json for one section other than
 * faults), `--label <text>` (names the code measured, e.g. "HEAD before the fixes", in the header
 * and the JSON), `--only <sections>`, `--streams <n>` (streams of the abuse section's
 * unfinished-streams case, default 100,000), `--cases <text,...>` (run only the abuse cases
 * whose name contains one of them). The scenario section takes about 3.5 minutes
 * on 2 cores (190–210 s measured, 25–40 s of it the four builds); every wait has a timeout, so a
 * fleet that never recovers makes it longer but never endless. Every child process is killed on
 * exit (stopped ones get SIGCONT first), namespaces and the temp folder are removed, also on
 * failure or Ctrl-C.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { status as grpcStatus } from '@grpc/grpc-js';
import { placeRun } from '../src/common/placement.ts';
import type { StatusResponse__Output } from '../src/common/proto-gen/shardfleet/v1/StatusResponse.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { readIdxImages } from '../src/writer/input/idx-source.ts';
import { waitFor } from '../test/helpers/wait.ts';
import { ROOT } from './lib/dataset.ts';
import { onExit, runCleanup } from './lib/exit-cleanup.ts';
import { startLocalFleet, startNetnsFleet, type Fleet, type FleetConfig, type FleetRunOptions } from './lib/fault-fleet.ts';
import { LoadClient, nowMs, type QueryRecord } from './lib/fault-load.ts';
import { formatDetails, formatTable, scenarioRow, skippedRow, type ScenarioOutcome, type ScenarioRow } from './lib/fault-report.ts';
import {
  buildRun,
  damageShardFile,
  findRun,
  pointAt,
  publishMalformedManifest,
  rollbackWithCli,
  type StoredRun,
} from './lib/fault-snapshots.ts';
import { NetnsSet, netnsUnavailable } from './lib/netns.ts';
import { formatAbuseDetails, formatAbuseTable } from './lib/abuse-report.ts';
import { LOAD_CONCURRENCY, runAbuseSection } from './lib/fault-abuse.ts';
import { runScaleScenarios } from './lib/fault-scale-down.ts';
import { runAliasSwapSection } from './lib/fault-alias-swap.ts';
import { formatAliasSwapDetails, formatAliasSwapTable } from './lib/alias-swap-report.ts';

const NUM_NODES = 3;
const REPLICATION = 2;
const NUM_DBS = 8;
const CONCURRENCY = 8;
const RUN_GRACE_MS = 3000;
const POLL_MS = 1000;
/** Load before every fault, and after recovery. */
const LEAD_MS = 2000;
const TAIL_MS = 2000;
const NORMAL = { top_k: 10, timeout_ms: 10_000 } as const;
const QUERY_COUNT = 1000;

const { values: args } = parseArgs({
  options: {
    verbose: { type: 'boolean', default: false },
    'no-netns': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    out: { type: 'string' },
    label: { type: 'string' },
    only: { type: 'string' },
    streams: { type: 'string' },
    cases: { type: 'string' },
  },
});
/** The benchmark's sections, in the order they run. */
const SECTIONS = ['faults', 'abuse', 'scale-down', 'alias-swap'] as const;
type Section = (typeof SECTIONS)[number];
function parseSections(only: string | undefined): Section[] {
  if (only === undefined) return [...SECTIONS];
  const wanted = only.split(',').map((x) => x.trim());
  const bad = wanted.filter((x) => !(SECTIONS as readonly string[]).includes(x));
  if (bad.length || wanted.length === 0) throw new Error(`--only takes a comma-separated list of ${SECTIONS.join(', ')}; got ${JSON.stringify(only)}`);
  return SECTIONS.filter((x) => wanted.includes(x));
}
const sections = parseSections(args.only);
/** Abuse section: V8 heap limit and RSS cap of its fleet processes (MB), streams and half-open connections. */
const ABUSE_HEAP_MB = 512;
const ABUSE_RSS_CAP_MB = 1536;
const ABUSE_STREAMS = args.streams === undefined ? 100_000 : Number(args.streams);
const ABUSE_HALF_OPEN = 2000;
const childStderr: 'inherit' | 'ignore' = args.verbose ? 'inherit' : 'ignore';
process.env.SHARDFLEET_LOG_LEVEL ??= 'warn';
const benchStart = Date.now();

/** The fleet and load settings the scale and alias-swap sections share. */
function fleetRunOptions(): FleetRunOptions {
  return {
    commonArgs: ['--poll-interval-ms', String(POLL_MS)],
    nodeArgs: ['--run-grace-ms', String(RUN_GRACE_MS)],
    load: { concurrency: CONCURRENCY, params: NORMAL },
    env: { SHARDFLEET_LOG_LEVEL: process.env.SHARDFLEET_LOG_LEVEL ?? 'warn' },
    stderr: childStderr,
    readyTimeoutMs: 120_000,
  };
}

function log(msg: string): void {
  process.stderr.write(`[${((Date.now() - benchStart) / 1000).toFixed(1).padStart(6)} s] ${msg}\n`);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 200 ms. @returns when it first held (epoch ms), or null after `timeoutMs`. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<number | null> {
  try {
    await waitFor(what, check, { timeoutMs, intervalMs: 200, retryOnError: true });
    return nowMs();
  } catch {
    return null;
  }
}

/** The data: which t10k copy is the base set, and which rows are the queries. */
interface BenchData {
  images: string;
  labels: string;
  source: string;
  queries: Float32Array;
  dim: number;
}

async function loadData(): Promise<BenchData> {
  const shared = join(ROOT, '..', 'shared', 'datasets', 'fashion-mnist');
  const bundled = join(ROOT, 'examples', 'data', 'fashion-mnist');
  const sharedT10k = join(shared, 't10k-images-idx3-ubyte.gz');
  const sharedTrain = join(shared, 'train-images-idx3-ubyte.gz');
  if (existsSync(sharedT10k)) {
    const fromTrain = existsSync(sharedTrain);
    const q = await readIdxImages(fromTrain ? sharedTrain : sharedT10k, { limit: QUERY_COUNT });
    return {
      images: sharedT10k,
      labels: join(shared, 't10k-labels-idx1-ubyte.gz'),
      source: `../shared/datasets/fashion-mnist: t10k (10,000 x 784) as base; queries: ${fromTrain ? 'train' : 't10k'} rows 0..${q.count - 1}`,
      queries: q.vectors,
      dim: q.dim,
    };
  }
  const images = join(bundled, 't10k-images-idx3-ubyte.gz');
  const q = await readIdxImages(images, { limit: QUERY_COUNT });
  return {
    images,
    labels: join(bundled, 't10k-labels-idx1-ubyte.gz'),
    source: `FALLBACK: bundled examples/data/fashion-mnist t10k (10,000 x 784) as base (../shared/datasets/fashion-mnist not found); queries: t10k rows 0..${q.count - 1} (members of the base set)`,
    queries: q.vectors,
    dim: q.dim,
  };
}

function gitDescription(): string {
  try {
    const head = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src', 'proto'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .filter((l) => l.trim()).length;
    return dirty ? `${head} + ${dirty} uncommitted change(s) under src/ proto/` : `${head} (clean src/ proto/)`;
  } catch {
    return 'not a git checkout';
  }
}

/** Each node's held runs, e.g. `node-0: run-c current 5/6 loaded, failed [0]; run-b ready`. */
function describeRuns(statuses: Map<string, StatusResponse__Output | string>): string {
  return [...statuses]
    .map(([id, s]) => {
      if (typeof s === 'string') return `${id}: ${s.slice(0, 120)}`;
      const runs = s.runs.map((r) => {
        const failed = r.shards_failed.map((f) => f.db_id);
        return `${r.run_id}${r.current ? ' current' : ''} ${r.ready ? 'ready' : `${r.shards_loaded.length}/${r.shards_assigned.length} loaded${failed.length ? `, failed [${failed.join(',')}]` : ''}`}`;
      });
      return `${id}: ${runs.join('; ') || 'no run'}${s.load_error ? ` (load_error: ${s.load_error.slice(0, 160)})` : ''}`;
    })
    .join(' | ');
}

/** True when every node holds `runId` and each of its assigned shards is loaded or failed. */
async function everyNodeTried(fleet: Fleet, runId: string): Promise<boolean> {
  const statuses = await fleet.nodeStatuses();
  return [...statuses.values()].every((s) => {
    if (typeof s === 'string') return false;
    const run = s.runs.find((r) => r.run_id === runId);
    if (!run || run.shards_assigned.length === 0) return false;
    return run.shards_assigned.every((db) => run.shards_loaded.includes(db) || run.shards_failed.some((f) => f.db_id === db));
  });
}

/** True when every node holds `runId` with all its assigned shards loaded. */
async function everyNodeReady(fleet: Fleet, runId: string): Promise<{ ok: boolean; detail: string }> {
  const statuses = await fleet.nodeStatuses();
  const ok = [...statuses.values()].every((s) => typeof s !== 'string' && s.runs.some((r) => r.run_id === runId && r.ready));
  return { ok, detail: describeRuns(statuses) };
}

/** Everything the scenarios share. */
interface Ctx {
  storeDir: string;
  store: FileObjectStore;
  runs: { a: StoredRun; b: StoredRun; c: StoredRun; d: StoredRun };
  queriesFile: string;
  dim: number;
  fleetConfig: FleetConfig;
  fleet: Fleet;
  load: LoadClient;
}

/** Runs `body` under the closed-loop load; returns every query sent meanwhile. */
async function withLoad(ctx: Ctx, body: () => Promise<void>): Promise<QueryRecord[]> {
  const run = ctx.load.run({ concurrency: CONCURRENCY, maxQueries: 0, maxMs: 600_000, params: NORMAL });
  try {
    await body();
  } finally {
    // Stop the load whatever happened (a failing body rethrows after this).
    await run.stop();
  }
  return run.done;
}

/**
 * Makes `run` the served run with full redundancy (points `_CURRENT` at it unless `point` is
 * false), then, after a run change, waits past the run grace so the nodes dropped the others.
 * @returns a note when the fleet did not get there within 60 s.
 */
async function settleOn(ctx: Ctx, run: StoredRun, point = true, runChanged = true): Promise<string | undefined> {
  if (point) await pointAt(ctx.store, run);
  const ok = await until(`${run.runId} served with full redundancy`, () => ctx.fleet.fullRedundancy(run.runId), 60_000);
  if (runChanged) await sleep(RUN_GRACE_MS + 1000);
  if (ok !== null) return undefined;
  return `set-up: ${run.runId} was not served with every shard on ${REPLICATION} loaded replicas within 60 s: ${(await ctx.fleet.replicaProblems()).slice(0, 4).join('; ')}`;
}

/** The runs whose answers are right; the goal applies to every scenario here (see the module comment). */
function base(accept: StoredRun[]): Pick<ScenarioOutcome, 'acceptRuns' | 'goalApplies'> {
  return { acceptRuns: accept.map((r) => r.runId), goalApplies: true };
}

async function baseline(ctx: Ctx): Promise<ScenarioOutcome> {
  const healthBefore = await ctx.fleet.health();
  const faultAt = nowMs();
  const queries = await withLoad(ctx, () => sleep(5000));
  return { ...base([ctx.runs.a]), queries, faultAt, clearedAt: faultAt, marks: {}, healthBefore, healthAfter: await ctx.fleet.health(), notes: [] };
}

async function nodeSigkill(ctx: Ctx): Promise<ScenarioOutcome> {
  const victim = 'node-1';
  const healthBefore = await ctx.fleet.health();
  const marks: Record<string, number> = {};
  let faultAt = 0;
  let clearedAt = 0;
  let recoveredAt: number | null = null;
  const queries = await withLoad(ctx, async () => {
    await sleep(LEAD_MS);
    faultAt = marks[`SIGKILL ${victim}`] = nowMs();
    await ctx.fleet.killNode(victim);
    await sleep(5000);
    clearedAt = marks[`restart ${victim}`] = nowMs();
    await ctx.fleet.restartNode(victim);
    recoveredAt = await until('full redundancy', () => ctx.fleet.fullRedundancy(ctx.runs.a.runId), 30_000);
    if (recoveredAt !== null) marks['full redundancy'] = recoveredAt;
    await sleep(TAIL_MS);
  });
  return {
    ...base([ctx.runs.a]),
    queries,
    faultAt,
    clearedAt,
    recoveredAt,
    recoverTimeoutMs: 30_000,
    marks,
    healthBefore,
    healthAfter: await ctx.fleet.health(),
    notes: [`${victim} down for 5 s, then restarted with its cache (not waited on: the load keeps going)`],
  };
}

async function nodeSigstop(ctx: Ctx): Promise<ScenarioOutcome> {
  const victim = 'node-2';
  const healthBefore = await ctx.fleet.health();
  const marks: Record<string, number> = {};
  let faultAt = 0;
  let clearedAt = 0;
  let recoveredAt: number | null = null;
  const queries = await withLoad(ctx, async () => {
    await sleep(LEAD_MS);
    faultAt = marks[`SIGSTOP ${victim}`] = nowMs();
    ctx.fleet.signalNode(victim, 'SIGSTOP');
    try {
      await sleep(10_000);
    } finally {
      ctx.fleet.signalNode(victim, 'SIGCONT');
    }
    clearedAt = marks[`SIGCONT ${victim}`] = nowMs();
    recoveredAt = await until('full redundancy', () => ctx.fleet.fullRedundancy(ctx.runs.a.runId), 30_000);
    if (recoveredAt !== null) marks['full redundancy'] = recoveredAt;
    await sleep(TAIL_MS);
  });
  return {
    ...base([ctx.runs.a]),
    queries,
    faultAt,
    clearedAt,
    recoveredAt,
    recoverTimeoutMs: 30_000,
    marks,
    healthBefore,
    healthAfter: await ctx.fleet.health(),
    notes: [],
  };
}

async function snapshotSwap(ctx: Ctx): Promise<ScenarioOutcome> {
  const { a, b } = ctx.runs;
  const healthBefore = await ctx.fleet.health();
  const marks: Record<string, number> = {};
  let faultAt = 0;
  let recoveredAt: number | null = null;
  const queries = await withLoad(ctx, async () => {
    await sleep(LEAD_MS);
    faultAt = marks[`publish ${b.runId}`] = nowMs();
    await pointAt(ctx.store, b);
    recoveredAt = await until('new run served', () => ctx.fleet.fullRedundancy(b.runId), 60_000);
    if (recoveredAt !== null) marks[`${b.runId} served, full redundancy`] = recoveredAt;
    await sleep(RUN_GRACE_MS + TAIL_MS); // the nodes drop the old run under load
    marks['end (old run dropped)'] = nowMs();
  });
  const firstNew = queries.filter((q) => q.runId === b.runId).reduce((m, q) => Math.min(m, q.t + q.ms), Infinity);
  const lastOld = queries.filter((q) => q.runId === a.runId).reduce((m, q) => Math.max(m, q.t + q.ms), -Infinity);
  const oldAfterNew = queries.filter((q) => q.runId === a.runId && q.t > firstNew).length;
  const notes = [
    `first ${b.runId} answer ${Number.isFinite(firstNew) ? `${((firstNew - faultAt) / 1000).toFixed(2)} s` : 'never'} after the publish; ` +
      `last ${a.runId} answer ${Number.isFinite(lastOld) ? `${((lastOld - faultAt) / 1000).toFixed(2)} s` : '-'} after it; ` +
      `${oldAfterNew} ${a.runId} answers to queries sent after the first ${b.runId} answer`,
  ];
  return {
    ...base([a, b]),
    queries,
    faultAt,
    clearedAt: faultAt,
    recoveredAt,
    recoverTimeoutMs: 60_000,
    marks,
    healthBefore,
    healthAfter: await ctx.fleet.health(),
    notes,
  };
}

/** The stuck run's damaged shard and the node to kill: a replica of that shard. */
function stuckPlan(ctx: Ctx): { dbId: number; owners: string[]; victim: string } {
  const placement = placeRun(ctx.runs.c.manifest, ctx.fleet.nodes.map((n) => n.id), REPLICATION);
  const dbId = ctx.runs.c.manifest.shards[0].db_id;
  const owners = placement.get(dbId) ?? [];
  return { dbId, owners, victim: owners[0] };
}

async function stuckRunThenKill(ctx: Ctx): Promise<ScenarioOutcome> {
  const { b, c } = ctx.runs;
  const { dbId, owners, victim } = stuckPlan(ctx);
  const healthBefore = await ctx.fleet.health();
  const marks: Record<string, number> = {};
  const notes: string[] = [
    `shard ${dbId} of ${c.runId} damaged in the store (replicas ${owners.join(', ')}); ${victim} is SIGKILLed: run ${c.runId} can never be ready on it, so it still holds ${b.runId}`,
  ];
  let faultAt = 0;
  let clearedAt = 0;
  let recoveredAt: number | null = null;
  const queries = await withLoad(ctx, async () => {
    await sleep(LEAD_MS);
    marks[`publish ${c.runId} (shard ${dbId} damaged)`] = nowMs();
    await pointAt(ctx.store, c);
    const tried = await until('every node loaded its part of the stuck run', () => everyNodeTried(ctx.fleet, c.runId), 60_000);
    if (tried === null) notes.push(`not every node finished loading its part of ${c.runId} within 60 s`);
    else marks[`every node loaded its part of ${c.runId}`] = tried;
    await sleep(RUN_GRACE_MS + 1000);
    marks['run grace passed'] = nowMs();
    notes.push(`before the kill: ${describeRuns(await ctx.fleet.nodeStatuses())}`);
    faultAt = marks[`SIGKILL ${victim}`] = nowMs();
    await ctx.fleet.killNode(victim);
    await sleep(3000);
    clearedAt = marks[`restart ${victim}`] = nowMs();
    await ctx.fleet.restartNode(victim);
    recoveredAt = await until('full redundancy', () => ctx.fleet.fullRedundancy(b.runId), 20_000);
    if (recoveredAt !== null) marks['full redundancy'] = recoveredAt;
    await sleep(TAIL_MS);
  });
  notes.push(`at the end: ${describeRuns(await ctx.fleet.nodeStatuses())}`);
  return {
    ...base([b]),
    queries,
    faultAt,
    clearedAt,
    recoveredAt,
    recoverTimeoutMs: 20_000,
    marks,
    healthBefore,
    healthAfter: await ctx.fleet.health(),
    notes,
  };
}

async function routerRestartWhileStuck(ctx: Ctx): Promise<ScenarioOutcome> {
  const { b, c } = ctx.runs;
  const notes: string[] = [];
  const setup = await settleOn(ctx, b);
  if (setup) notes.push(setup);
  const healthBefore = await ctx.fleet.health();
  const marks: Record<string, number> = {};
  const first = await withLoad(ctx, async () => {
    await sleep(LEAD_MS);
    marks[`publish ${c.runId} again (still damaged)`] = nowMs();
    await pointAt(ctx.store, c);
    const tried = await until('every node tried the stuck run', () => everyNodeTried(ctx.fleet, c.runId), 60_000);
    if (tried === null) notes.push(`not every node finished loading its part of ${c.runId} within 60 s`);
    else marks[`every node loaded its part of ${c.runId}`] = tried;
  });
  const complete = await everyNodeReady(ctx.fleet, b.runId);
  notes.push(`at the restart ${b.runId} was ${complete.ok ? '' : 'NOT '}complete on every node: ${complete.detail}`);
  const faultAt = (marks['router SIGTERM'] = nowMs());
  const downMs = await ctx.fleet.restartRouter();
  const clearedAt = (marks['router SERVING again'] = nowMs());
  notes.push(`router down ${(downMs / 1000).toFixed(1)} s (the load paused meanwhile: one router cannot answer while it restarts)`);
  let recoveredAt: number | null = null;
  const second = await withLoad(ctx, async () => {
    recoveredAt = await until('full redundancy', () => ctx.fleet.fullRedundancy(b.runId), 20_000);
    if (recoveredAt !== null) marks[`${b.runId} served, full redundancy`] = recoveredAt;
    await sleep(recoveredAt === null ? TAIL_MS : 8000); // a few status polls and refreshes after the restart
  });
  const loadEndAt = nowMs();
  const healthAfter = await ctx.fleet.health();
  notes.push(`restarted router serves ${healthAfter.run_id || '(none)'}; pending ${healthAfter.pending_run_id || '(none)'}`);
  return {
    ...base([b]),
    queries: [...first, ...second],
    faultAt,
    clearedAt,
    // p50/p99 of the restarted router's answers (the load paused while it was down)
    windowStartAt: clearedAt,
    windowEndAt: loadEndAt,
    recoveredAt,
    recoverTimeoutMs: 20_000,
    marks,
    healthBefore,
    healthAfter,
    notes,
  };
}

async function deadlineStorm(ctx: Ctx): Promise<ScenarioOutcome> {
  const healthBefore = await ctx.fleet.health();
  const marks: Record<string, number> = {};
  const accept = [ctx.runs.d];
  const pre = await ctx.load.runCount(1, 100, NORMAL);
  const faultAt = (marks['storm: 300 x 8 ms deadline, c=8'] = nowMs());
  const storm = await ctx.load.runCount(CONCURRENCY, 300, { top_k: 10, timeout_ms: 8 });
  const clearedAt = (marks['100 normal searches, c=1'] = nowMs());
  const post = await ctx.load.runCount(1, 100, NORMAL);
  const deadline = storm.filter((q) => q.code === grpcStatus.DEADLINE_EXCEEDED);
  const stormOther = storm.filter((q) => q.code !== grpcStatus.DEADLINE_EXCEEDED);
  const postFailed = post.filter((q) => q.code !== 0).length;
  const preFailed = pre.filter((q) => q.code !== 0).length;
  const notes = [
    `before the storm: ${pre.length - preFailed}/${pre.length} answered; storm: ${storm.filter((q) => q.code === 0).length} answered, ${deadline.length} DEADLINE_EXCEEDED (expected), ` +
      `${stormOther.filter((q) => q.code !== 0).length} other failures; after: ${post.length - postFailed}/${post.length} answered (all must be)`,
  ];
  return {
    ...base(accept),
    queries: [...pre, ...stormOther, ...post],
    expected: { label: 'storm', queries: deadline },
    faultAt,
    clearedAt,
    windowStartAt: clearedAt,
    windowEndAt: nowMs(),
    marks,
    healthBefore,
    healthAfter: await ctx.fleet.health(),
    notes,
  };
}

async function malformedAfterRollback(ctx: Ctx): Promise<ScenarioOutcome> {
  const { b, d } = ctx.runs;
  const notes: string[] = [];
  const marks: Record<string, number> = {};
  const healthD = await ctx.fleet.health();
  notes.push(`before the rollback the router served ${healthD.run_id} (newest run: ${d.runId})`);
  await rollbackWithCli(ctx.storeDir, b.runId, childStderr);
  const setup = await settleOn(ctx, b, false);
  if (setup) notes.push(setup);
  const healthBefore = await ctx.fleet.health();
  let faultAt = 0;
  let malformedKey = '';
  const queries = await withLoad(ctx, async () => {
    await sleep(LEAD_MS);
    faultAt = marks['malformed manifest published'] = nowMs();
    malformedKey = await publishMalformedManifest(ctx.store, 'run-e');
    await sleep(Math.max(8000, 3 * POLL_MS + RUN_GRACE_MS + 2000));
  });
  const healthAfter = await ctx.fleet.health();
  notes.push(`malformed manifest ${malformedKey}; Health after: ${healthAfter.status}, serving ${healthAfter.run_id}`);
  notes.push(`nodes: ${describeRuns(await ctx.fleet.nodeStatuses())}`);
  return {
    ...base([b]),
    queries,
    faultAt,
    clearedAt: faultAt,
    marks,
    healthBefore,
    healthAfter,
    notes,
  };
}

async function partition(ctx: Ctx, netns: NetnsSet): Promise<ScenarioOutcome> {
  const { b } = ctx.runs;
  const victimIndex = 1;
  const victim = `node-${victimIndex}`;
  const notes = [
    `nodes in namespaces on ${ctx.fleet.nodes.map((n) => `${n.id}=${n.address}`).join(', ')}; router on ${ctx.fleet.routerAddress}; ` +
      `partition = a zero-length pfifo qdisc on both ends of ${victim}'s veth link (every packet dropped silently)`,
  ];
  const ready = await until('partition fleet at full redundancy', () => ctx.fleet.fullRedundancy(b.runId), 60_000);
  if (ready === null) notes.push(`set-up: not at full redundancy within 60 s: ${(await ctx.fleet.replicaProblems()).slice(0, 4).join('; ')}`);
  const healthBefore = await ctx.fleet.health();
  const marks: Record<string, number> = {};
  let faultAt = 0;
  let clearedAt = 0;
  let recoveredAt: number | null = null;
  const queries = await withLoad(ctx, async () => {
    await sleep(LEAD_MS);
    faultAt = marks[`drop ${victim}'s packets`] = nowMs();
    netns.partition(victimIndex);
    try {
      await sleep(10_000);
      notes.push(`${netns.droppedPackets(victimIndex) ?? '?'} packets dropped on the host side of ${victim}'s link`);
    } finally {
      netns.heal(victimIndex);
    }
    clearedAt = marks['packets let through'] = nowMs();
    recoveredAt = await until('full redundancy', () => ctx.fleet.fullRedundancy(b.runId), 40_000);
    if (recoveredAt !== null) marks['full redundancy'] = recoveredAt;
    await sleep(TAIL_MS);
  });
  return {
    ...base([b]),
    queries,
    faultAt,
    clearedAt,
    recoveredAt,
    recoverTimeoutMs: 40_000,
    marks,
    healthBefore,
    healthAfter: await ctx.fleet.health(),
    notes,
  };
}

async function scenario(rows: ScenarioRow[], name: string, fn: () => Promise<ScenarioOutcome>): Promise<void> {
  const t0 = Date.now();
  log(`scenario: ${name}`);
  let row: ScenarioRow;
  try {
    row = scenarioRow(name, t0, await fn());
  } catch (err) {
    row = { ...skippedRow(name, `harness error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`), seconds: (Date.now() - t0) / 1000 };
  }
  const s = row.stats;
  log(
    `  ${name}: ${row.seconds.toFixed(1)} s` +
      (s ? `, ${s.sent} sent, ${s.ok} ok, ${s.failed} failed, ${s.partial} partial, ${s.wrongRun} wrong run${row.goalMet ? '' : ' (goal missed)'}` : `, ${row.skipped}`),
  );
  rows.push(row);
}

/** What the scenario section (issue 12) measured. */
interface FaultsResult {
  rows: ScenarioRow[];
  buildSeconds: number;
  backend: string;
}

/** The scenario section: builds run-a .. run-d, runs scenarios 1-9 (see the module comment). */
async function faultsSection(dir: string, data: BenchData): Promise<FaultsResult> {
  const storeDir = join(dir, 'store');
  const store = new FileObjectStore(storeDir);
  const queriesFile = join(dir, 'queries.f32');

  const ids = { a: 'run-a', b: 'run-b', c: 'run-c', d: 'run-d' } as const;
  const buildStart = Date.now();
  let seed = 1;
  for (const runId of Object.values(ids)) {
    log(`building ${runId} (shardfleet build, seed ${seed})`);
    await buildRun({ storeDir, images: data.images, labels: data.labels, runId, seed: seed++, numDbs: NUM_DBS, stderr: childStderr });
  }
  const runs = { a: await findRun(store, ids.a), b: await findRun(store, ids.b), c: await findRun(store, ids.c), d: await findRun(store, ids.d) };
  await pointAt(store, runs.a);
  const buildSeconds = (Date.now() - buildStart) / 1000;
  log(`built 4 runs in ${buildSeconds.toFixed(0)} s; _CURRENT -> ${runs.a.runId}`);
  const fleetConfig: FleetConfig = {
    storeDir,
    cacheDir: join(dir, 'cache'),
    numNodes: NUM_NODES,
    replication: REPLICATION,
    commonArgs: ['--poll-interval-ms', String(POLL_MS)],
    nodeArgs: ['--run-grace-ms', String(RUN_GRACE_MS)],
    routerArgs: [],
    stderr: childStderr,
    env: { SHARDFLEET_LOG_LEVEL: process.env.SHARDFLEET_LOG_LEVEL ?? 'warn' },
    readyTimeoutMs: 120_000,
  };
  const fleet = await startLocalFleet(fleetConfig);
  log(`cluster up: router ${fleet.routerAddress}, ${fleet.nodes.map((n) => `${n.id}=${n.address}`).join(', ')}`);
  const load = await LoadClient.start(fleet.routerAddress, queriesFile, data.dim);
  const ctx: Ctx = { storeDir, store, runs, queriesFile, dim: data.dim, fleetConfig, fleet, load };
  const rows: ScenarioRow[] = [];

  await load.runCount(CONCURRENCY, 2000, NORMAL); // warm-up (JIT, channels, page cache)
  await scenario(rows, 'baseline (no fault)', () => baseline(ctx));
  await scenario(rows, 'node SIGKILL', () => nodeSigkill(ctx));
  await scenario(rows, 'node SIGSTOP 10 s', async () => {
    const setup = await settleOn(ctx, runs.a, false, false);
    const o = await nodeSigstop(ctx);
    if (setup) o.notes.unshift(setup);
    return o;
  });
  await scenario(rows, 'snapshot swap', async () => {
    const setup = await settleOn(ctx, runs.a, false, false);
    const o = await snapshotSwap(ctx);
    if (setup) o.notes.unshift(setup);
    return o;
  });
  const damaged = await damageShardFile(storeDir, runs.c, stuckPlan(ctx).dbId);
  await scenario(rows, 'stuck new run, then node SIGKILL', () => stuckRunThenKill(ctx));
  await scenario(rows, 'router restart while a run is stuck', () => routerRestartWhileStuck(ctx));
  await scenario(rows, 'short-deadline storm, then normal load', async () => {
    const setup = await settleOn(ctx, runs.d);
    await damaged.restore();
    const o = await deadlineStorm(ctx);
    if (setup) o.notes.unshift(setup);
    return o;
  });
  await scenario(rows, 'malformed manifest after a rollback', () => malformedAfterRollback(ctx));

  log('stopping the cluster');
  await load.close();
  await fleet.stop();

  const partitionName = 'network partition 10 s (netns)';
  const unavailable = args['no-netns'] ? '--no-netns given' : netnsUnavailable();
  if (unavailable) {
    log(`partition skipped: ${unavailable}`);
    rows.push(skippedRow(partitionName, unavailable));
  } else {
    let netns: NetnsSet | undefined;
    try {
      netns = NetnsSet.create(NUM_NODES);
    } catch (err) {
      const reason = `cannot make a partition: ${err instanceof Error ? err.message : String(err)}`;
      log(`partition skipped: ${reason}`);
      rows.push(skippedRow(partitionName, reason));
    }
    if (netns) {
      const set = netns;
      await pointAt(store, runs.b); // away from the malformed manifest: these nodes start cold
      const netnsConfig = { ...fleetConfig, cacheDir: join(dir, 'cache-netns') };
      await scenario(rows, partitionName, async () => {
        const netFleet = await startNetnsFleet(netnsConfig, set);
        const netLoad = await LoadClient.start(netFleet.routerAddress, queriesFile, data.dim);
        try {
          await netLoad.runCount(CONCURRENCY, 2000, NORMAL); // warm-up
          return await partition({ ...ctx, fleet: netFleet, load: netLoad }, set);
        } finally {
          await netLoad.close();
          await netFleet.stop();
        }
      });
      set.remove();
    }
  }
  await store.close();
  return { rows, buildSeconds, backend: runs.a.manifest.index.backend };
}

/**
 * The scale-down section (issue 20, defect 8): builds one run into its own store and runs
 * bench/lib/fault-scale-down.ts's two scenarios (4 -> 2 nodes with SIGTERM at once, 2 -> 4 at
 * once) on a fleet of its own.
 */
async function scaleDownSection(dir: string, data: BenchData): Promise<{ rows: ScenarioRow[]; buildSeconds: number }> {
  const storeDir = join(dir, 'store-scale');
  const store = new FileObjectStore(storeDir);
  const buildStart = Date.now();
  log('scale-down: building run-s (shardfleet build, seed 1)');
  await buildRun({ storeDir, images: data.images, labels: data.labels, runId: 'run-s', seed: 1, numDbs: NUM_DBS, stderr: childStderr });
  const run = await findRun(store, 'run-s');
  await pointAt(store, run);
  await store.close();
  const buildSeconds = (Date.now() - buildStart) / 1000;
  const rows = await runScaleScenarios({
    storeDir,
    runId: run.runId,
    manifest: run.manifest,
    queriesFile: join(dir, 'queries.f32'),
    dim: data.dim,
    cacheDir: join(dir, 'cache-scale'),
    ...fleetRunOptions(),
  });
  for (const row of rows) {
    const st = row.stats;
    log(`  ${row.scenario}: ${st ? `${st.sent} sent, ${st.failed} failed, ${st.partial} partial, ${st.wrongRun} wrong run` : row.skipped}`);
  }
  return { rows, buildSeconds };
}

/** The JSON and text of a finished benchmark. */
async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'shardfleet-faults-'));
  if (!args.keep) onExit('remove the temp folder', () => rmSync(dir, { recursive: true, force: true }));
  else log(`keeping ${dir}`);
  const data = await loadData();
  const code = args.label ? `${args.label} (${gitDescription()})` : gitDescription();
  log(`data: ${data.source}`);
  log(`code: ${code}`);
  log(`sections: ${sections.join(', ')}`);
  writeFileSync(join(dir, 'queries.f32'), Buffer.from(data.queries.buffer, data.queries.byteOffset, data.queries.byteLength));

  const faults = sections.includes('faults') ? await faultsSection(dir, data) : undefined;
  const abuse = sections.includes('abuse')
    ? await runAbuseSection({
        dir,
        images: data.images,
        labels: data.labels,
        queries: data.queries,
        queriesFile: join(dir, 'queries.f32'),
        dim: data.dim,
        stderr: childStderr,
        log,
        heapMb: ABUSE_HEAP_MB,
        rssCapMb: ABUSE_RSS_CAP_MB,
        streams: ABUSE_STREAMS,
        halfOpen: ABUSE_HALF_OPEN,
        caseFilter: args.cases?.split(',').map((x) => x.trim()).filter((x) => x),
      })
    : undefined;
  const scaleDown = sections.includes('scale-down') ? await scaleDownSection(dir, data) : undefined;
  const aliasSwap = sections.includes('alias-swap')
    ? await runAliasSwapSection({
        dir,
        images: data.images,
        labels: data.labels,
        queriesFile: join(dir, 'queries.f32'),
        dim: data.dim,
        numNodes: NUM_NODES,
        replication: REPLICATION,
        ...fleetRunOptions(),
        log,
      })
    : undefined;

  const totalSeconds = (Date.now() - benchStart) / 1000;
  const date = new Date().toISOString().slice(0, 10);
  const parts: string[] = [
    `# shardfleet fault benchmark (issues 12, 20, 24), ${new Date().toISOString()}\n` +
      `data: ${data.source}\n` +
      `code: ${code}; sections: ${sections.join(', ')}; total ${totalSeconds.toFixed(0)} s${faults ? ` (builds of the scenario runs ${faults.buildSeconds.toFixed(0)} s)` : ''}`,
  ];
  let faultsGoal: { text: string; met: number; applicable: number } | undefined;
  if (faults) {
    const { rows } = faults;
    const applicable = rows.filter((r) => !r.skipped && r.goalApplies);
    const met = applicable.filter((r) => r.goalMet).length;
    const goal = `goal: 0 failed and 0 partial (and 0 wrong-run) queries in every scenario where each shard keeps a ready replica — met in ${met} of ${applicable.length} scenario(s)`;
    faultsGoal = { text: goal, met, applicable: applicable.length };
    const legend =
      '* p50/p99 of answered queries started between the fault and full redundancy (or the end of the scenario); router restart: every answer of the restarted router; storm: the 100 normal searches after it. ' +
      '"bad until": seconds from the fault to the end of the last failed/partial/wrong-run query. ' +
      '"recover": seconds from clearing the fault to the router serving the expected run with every shard on 2 loaded replicas.';
    parts.push(
      `## Scenarios\ncluster: router + ${NUM_NODES} shard nodes (processes), R=${REPLICATION}, ${NUM_DBS} shards (${faults.backend}), --run-grace-ms ${RUN_GRACE_MS}, --poll-interval-ms ${POLL_MS}; ` +
        `load: closed loop, concurrency ${CONCURRENCY}, top_k 10, ${NORMAL.timeout_ms / 1000} s deadline, separate client process\n\n` +
        `${formatTable(rows)}\n\n${legend}\n${goal}\n\n${formatDetails(rows)}`,
    );
  }
  let abuseGoal: { text: string; met: number; applicable: number } | undefined;
  if (abuse) {
    const ran = abuse.rows.filter((r) => !r.skipped);
    const met = ran.filter((r) => r.goalMet).length;
    const text = `goal: every target alive, no process lost and 0 failed normal queries in every abuse case — met in ${met} of ${ran.length} case(s)`;
    abuseGoal = { text, met, applicable: ran.length };
    parts.push(
      `## Abuse (issue 20)\n${abuse.setup}; set-up ${abuse.setupSeconds.toFixed(0)} s, section ${abuse.seconds.toFixed(0)} s\n\n` +
        `${formatAbuseTable(abuse.rows)}\n\n` +
        'answer: status (and message, cut) the request got; call ms: its latency; same-connection probe: a Health (router) / Status (node) call sent 300 ms later on the same HTTP/2 connection; ' +
        'worst normal ms: the slowest normal query of the load during the case.\n' +
        `${text}\n\n${formatAbuseDetails(abuse.rows)}`,
    );
  }
  let scaleGoal: { text: string; met: number; applicable: number } | undefined;
  if (scaleDown) {
    const applicable = scaleDown.rows.filter((r) => !r.skipped && r.goalApplies);
    const met = applicable.filter((r) => r.goalMet).length;
    const text = `goal: 0 failed, 0 partial and 0 wrong-run queries while nodes leave or join in numbers with SIGTERM — met in ${met} of ${applicable.length} scenario(s)`;
    scaleGoal = { text, met, applicable: applicable.length };
    parts.push(
      `## Scale-down and scale-up (issue 20)\nrouter + 4 shard nodes (processes, dns+srv: membership from a test DNS server), R=2, ${NUM_DBS} shards, --run-grace-ms ${RUN_GRACE_MS}; ` +
        `load: closed loop, concurrency ${CONCURRENCY}, top_k 10; build ${scaleDown.buildSeconds.toFixed(0)} s\n\n` +
        `${formatTable(scaleDown.rows)}\n\n"recover": seconds until every shard is on its placement owners among the remaining (or all 4) nodes, loaded.\n${text}\n\n${formatDetails(scaleDown.rows)}`,
    );
  }
  let aliasGoal: { text: string; met: number; applicable: number } | undefined;
  if (aliasSwap) {
    const met = aliasSwap.rows.filter((r) => r.goalMet).length;
    const text = `goal: 0 failed, 0 partial, 0 mixed and 0 stale answers, every switch seen, while an alias switches under load — met in ${met} of ${aliasSwap.rows.length} phase(s)`;
    aliasGoal = { text, met, applicable: aliasSwap.rows.length };
    parts.push(
      `## Alias swap (issue 24)\n${aliasSwap.setup}; builds ${aliasSwap.buildSeconds.toFixed(0)} s\n\n` +
        `${formatAliasSwapTable(aliasSwap.rows)}\n\n` +
        'mixed: answers whose run_id is not the current run of the answering collection, or with an id outside its id set (or from a collection that is no target of the alias); ' +
        'stale: answers from the collection the alias left, to queries started after the new one was visible (its first answer ended, or Refresh returned); ' +
        'before: the load with no switch; switching: the phase\'s load; lag: from the write of _ALIASES (updateAliases returned) to the end of the first answer from the new collection.\n' +
        `${text}\n\n${formatAliasSwapDetails(aliasSwap.rows)}`,
    );
  }
  process.stdout.write(`${parts.join('\n\n')}\n`);

  const defaultName = sections.length === 1 && sections[0] !== 'faults' ? `faults-${sections[0]}-${date}.json` : `faults-${date}.json`;
  const resultsFile = args.out ?? join(ROOT, 'bench', 'results', defaultName);
  mkdirSync(dirname(resultsFile), { recursive: true });
  writeFileSync(
    resultsFile,
    `${JSON.stringify(
      {
        title: 'shardfleet fault benchmark (issues 12, 20, 24)',
        date: new Date().toISOString(),
        data: data.source,
        code,
        sections,
        totalSeconds,
        ...(faults
          ? {
              cluster: { nodes: NUM_NODES, replication: REPLICATION, shards: NUM_DBS, backend: faults.backend, runGraceMs: RUN_GRACE_MS, pollIntervalMs: POLL_MS },
              load: { concurrency: CONCURRENCY, top_k: NORMAL.top_k, timeout_ms: NORMAL.timeout_ms },
              buildSeconds: faults.buildSeconds,
              goal: faultsGoal,
              rows: faults.rows,
            }
          : {}),
        ...(abuse
          ? {
              abuse: {
                setup: abuse.setup,
                heapMb: ABUSE_HEAP_MB,
                rssCapMb: ABUSE_RSS_CAP_MB,
                load: { concurrency: LOAD_CONCURRENCY, top_k: 10, timeout_ms: 10_000 },
                setupSeconds: abuse.setupSeconds,
                seconds: abuse.seconds,
                goal: abuseGoal,
                rows: abuse.rows,
              },
            }
          : {}),
        ...(scaleDown ? { scaleDown: { buildSeconds: scaleDown.buildSeconds, goal: scaleGoal, rows: scaleDown.rows } } : {}),
        ...(aliasSwap
          ? {
              aliasSwap: {
                setup: aliasSwap.setup,
                collections: aliasSwap.collections,
                load: { concurrency: CONCURRENCY, top_k: NORMAL.top_k, timeout_ms: NORMAL.timeout_ms },
                buildSeconds: aliasSwap.buildSeconds,
                goal: aliasGoal,
                rows: aliasSwap.rows,
              },
            }
          : {}),
      },
      null,
      1,
    )}\n`,
  );
  log(`wrote ${resultsFile}; total ${totalSeconds.toFixed(0)} s`);
}

try {
  await main();
} catch (err) {
  process.stderr.write(`fault benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
} finally {
  runCleanup();
}
