/**
 * The fault benchmark's alias-swap section (issue 24): an alias switched back and forth between
 * two collections while a load of searches names the alias.
 *
 * Fleet: its own catalog root (a folder) with two collections of the bench's IDX images with
 * DISJOINT ids, built with `shardfleet build --start/--limit` (ids are the row numbers):
 * `fm-a` = rows 0..N-1 and `fm-b` = rows 5000..5000+N-1 (N = {@link ROWS}), each one run of
 * {@link NUM_DBS} shards; `_ALIASES` names `live` -> `fm-a`. A router and 3 shard nodes
 * (`shardfleet serve` processes, R=2) get `--store <root>` and the bench's poll interval (the
 * router re-reads `_ALIASES` once per poll). Load: the bench's closed loop (separate client
 * process), every search naming `collection: live`, each answer's collection, run_id and result
 * ids recorded.
 *
 * Phases, one load each:
 * 1. before: {@link BEFORE_MS} of load with no switch (the latency baseline);
 * 2. "poll": {@link SWITCHES} switches of `live` (fm-a -> fm-b -> fm-a ...), one every 1.5-2 s
 *    (spread, see switchGapMs), each one conditional write of `_ALIASES` (updateAliases, as
 *    `shardfleet alias set` does), and nothing else: the router sees it at its next poll;
 * 3. "Refresh": the same, each write followed at once by the router's Refresh with an empty
 *    collection (which re-reads `_ALIASES`).
 *
 * Counted per answer (bench/lib/alias-swap-report.ts): failed (by gRPC status), partial, MIXED
 * (an answer whose run_id is not its collection's current run, or with an id outside its
 * collection's id set, or from a collection that is no target of the alias), STALE (from the
 * collection the alias left, to a query started after the new one was visible: after the first
 * answer from it, or after Refresh returned), and per switch the lag from the write to the first
 * answer from the new collection. The goal: 0 failed, 0 partial, 0 mixed, 0 stale, every switch
 * seen.
 */
import { join } from 'node:path';
import { FileObjectStore } from '../../src/common/storage/file-object-store.ts';
import { updateAliases } from '../../src/common/catalog/aliases.ts';
import { waitFor } from '../../test/helpers/wait.ts';
import { aliasSwapRow, type AliasSwapRow, type CollectionTruth, type SwitchMark } from './alias-swap-report.ts';
import { startLocalFleet, type Fleet, type FleetRunOptions } from './fault-fleet.ts';
import { LoadClient, nowMs, type QueryRecord } from './fault-load.ts';
import { buildRun, findRun } from './fault-snapshots.ts';

/** Rows of each collection. */
export const ROWS = 2500;
/** Shards of each collection's run. */
export const NUM_DBS = 4;
/** First row of the second collection (the first starts at row 0; the ranges never overlap). */
const SECOND_START = 5000;
/** The alias the load names. */
export const ALIAS = 'live';
/** Switches per phase. */
export const SWITCHES = 8;
/** Time between two switches: from {@link SWITCH_MIN_MS} to {@link SWITCH_MIN_MS} + {@link SWITCH_SPREAD_MS}. */
export const SWITCH_MIN_MS = 1500;
const SWITCH_SPREAD_MS = 500;

/**
 * The time before switch `i + 1`, ms: {@link SWITCH_MIN_MS} plus a share of
 * {@link SWITCH_SPREAD_MS} stepping by the golden ratio's fraction, so the writes fall at
 * different points of the router's poll cycle (a fixed period that is a multiple of the poll
 * interval would measure the same lag every time).
 */
function switchGapMs(i: number): number {
  const frac = (i * 0.6180339887) % 1;
  return SWITCH_MIN_MS + Math.round(frac * SWITCH_SPREAD_MS);
}
/** Load with no switch before the phases (latency baseline); load after a phase's last switch. */
const BEFORE_MS = 4000;
const TAIL_MS = 2000;

/** What the section needs from the bench (`load.params.collection` is set to the alias). */
export interface AliasSwapInputs extends FleetRunOptions {
  /** A fresh folder for the catalog root and the shard caches. */
  dir: string;
  /** IDX images (and labels) of the base set: the collections are row ranges of it. */
  images: string;
  labels: string;
  queriesFile: string;
  dim: number;
  numNodes: number;
  replication: number;
  log: (msg: string) => void;
}

/** What the section measured. */
export interface AliasSwapResult {
  rows: AliasSwapRow[];
  /** The collections: their run and id range. */
  collections: Record<string, CollectionTruth>;
  buildSeconds: number;
  setup: string;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Builds the two collections, serves them, runs the phases (see the module comment). */
export async function runAliasSwapSection(o: AliasSwapInputs): Promise<AliasSwapResult> {
  const rootDir = join(o.dir, 'catalog');
  const root = new FileObjectStore(rootDir);
  const specs = [
    { name: 'fm-a', runId: 'run-fm-a', firstId: 0, seed: 1 },
    { name: 'fm-b', runId: 'run-fm-b', firstId: SECOND_START, seed: 2 },
  ];
  const buildStart = Date.now();
  const truth: Record<string, CollectionTruth> = {};
  for (const s of specs) {
    o.log(`alias-swap: building ${s.name} (rows ${s.firstId}..${s.firstId + ROWS - 1}, ${s.runId})`);
    const storeDir = join(rootDir, s.name);
    await buildRun({
      storeDir,
      images: o.images,
      labels: o.labels,
      runId: s.runId,
      seed: s.seed,
      numDbs: NUM_DBS,
      stderr: o.stderr,
      extraArgs: ['--start', String(s.firstId), '--limit', String(ROWS)],
    });
    const store = new FileObjectStore(storeDir);
    const run = await findRun(store, s.runId);
    await store.close();
    const count = run.manifest.build_stats.total_vectors;
    if (count !== ROWS) throw new Error(`${s.name}: the build read ${count} rows, expected ${ROWS} (--start ${s.firstId} --limit ${ROWS} of ${o.images})`);
    truth[s.name] = { runId: run.runId, firstId: s.firstId, count };
  }
  const [a, b] = specs.map((s) => s.name);
  await updateAliases(root, [{ kind: 'set', alias: ALIAS, collection: a }]);
  const buildSeconds = (Date.now() - buildStart) / 1000;

  let fleet: Fleet | undefined;
  let load: LoadClient | undefined;
  try {
    fleet = await startLocalFleet({
      storeDir: rootDir,
      cacheDir: join(o.dir, 'cache-alias'),
      numNodes: o.numNodes,
      replication: o.replication,
      commonArgs: o.commonArgs,
      nodeArgs: o.nodeArgs,
      routerArgs: [],
      stderr: o.stderr,
      env: o.env,
      readyTimeoutMs: o.readyTimeoutMs,
    });
    const f = fleet;
    await waitFor(
      'both collections served in full and the alias read',
      async () => {
        const h = await f.client.health(3000);
        const full = specs.every((s) => h.collections.some((c) => c.name === s.name && c.run_id === truth[s.name].runId && c.coverage === 1));
        return full && h.aliases.some((x) => x.alias === ALIAS && x.collection === a);
      },
      { timeoutMs: o.readyTimeoutMs, intervalMs: 200, retryOnError: true },
    );
    o.log(`alias-swap: cluster up: router ${f.routerAddress}; ${ALIAS} -> ${a}`);
    load = await LoadClient.start(f.routerAddress, o.queriesFile, o.dim);
    const params = { ...o.load.params, collection: ALIAS };
    const l = load;
    await l.run({ concurrency: o.load.concurrency, maxQueries: 2000, maxMs: 120_000, params }).done; // warm-up

    const beforeRun = l.run({ concurrency: o.load.concurrency, maxQueries: 0, maxMs: BEFORE_MS, params, recordAnswers: true });
    const before = await beforeRun.done;

    let current = a;
    const phase = async (refresh: boolean): Promise<AliasSwapRow> => {
      const t0 = Date.now();
      const scenario = refresh ? `alias swap, Refresh after each write (${SWITCHES} switches)` : `alias swap, router poll only (${SWITCHES} switches)`;
      o.log(`alias-swap: ${scenario}`);
      const run = l.run({ concurrency: o.load.concurrency, maxQueries: 0, maxMs: 120_000, params, recordAnswers: true });
      const marks: Omit<SwitchMark, 'endAt'>[] = [];
      const notes: string[] = [];
      let queries: QueryRecord[];
      try {
        await sleep(TAIL_MS);
        for (let i = 0; i < SWITCHES; i++) {
          const to = current === a ? b : a;
          const startedAt = nowMs();
          await updateAliases(root, [{ kind: 'set', alias: ALIAS, collection: to }]);
          const writtenAt = nowMs();
          let refreshedAt: number | undefined;
          if (refresh) {
            await f.client.refresh(30_000, '');
            refreshedAt = nowMs();
          }
          marks.push({ from: current, to, startedAt, writtenAt, refreshedAt });
          current = to;
          await sleep(Math.max(0, switchGapMs(i) - (nowMs() - startedAt)));
        }
        await sleep(TAIL_MS);
      } finally {
        queries = await run.stop();
      }
      const end = queries.reduce((m, q) => Math.max(m, q.t + q.ms), nowMs());
      const full: SwitchMark[] = marks.map((m, i) => ({ ...m, endAt: marks[i + 1]?.startedAt ?? end }));
      const h = await f.client.health(3000).catch(() => undefined);
      const shown = h?.aliases.find((x) => x.alias === ALIAS)?.collection;
      notes.push(`after the phase: Health says ${ALIAS} -> ${shown ?? '(none)'} (expected ${current})${h?.aliases_error ? `; aliases_error: ${h.aliases_error}` : ''}`);
      return aliasSwapRow({ scenario, seconds: (Date.now() - t0) / 1000, refresh, before, queries, marks: full, truth, notes });
    };
    const rows = [await phase(false), await phase(true)];
    for (const r of rows) {
      o.log(`  ${r.scenario}: ${r.stats.sent} sent, ${r.stats.failed} failed, ${r.mixed} mixed, ${r.stale} stale, lag p50 ${r.lag.p50Ms} ms / max ${r.lag.maxMs} ms${r.goalMet ? '' : ' (goal missed)'}`);
    }
    const setup =
      `catalog root with ${specs.map((s) => `${s.name} (rows ${s.firstId}..${s.firstId + ROWS - 1}, ${truth[s.name].runId}, ${NUM_DBS} shards)`).join(' and ')}, ` +
      `alias ${ALIAS}; router + ${o.numNodes} shard nodes (processes), R=${o.replication}, ${o.commonArgs.join(' ')}; ` +
      `load: closed loop, concurrency ${o.load.concurrency}, top_k ${o.load.params.top_k ?? '-'}, collection ${ALIAS}; ` +
      `${SWITCHES} switches per phase, one every ${SWITCH_MIN_MS / 1000}-${(SWITCH_MIN_MS + SWITCH_SPREAD_MS) / 1000} s (updateAliases); "before": ${BEFORE_MS / 1000} s of load with no switch`;
    return { rows, collections: truth, buildSeconds, setup };
  } finally {
    await load?.close();
    await fleet?.stop();
    await root.close();
  }
}
