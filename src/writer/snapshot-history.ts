/**
 * Snapshot history of a store: list the published runs, roll `_CURRENT` back to an earlier run,
 * and clean up old runs and orphaned run folders (DESIGN.md "Object layout and publish").
 *
 * - Runs are found through their manifests, `manifests/<ts>_run_id=<id>/manifest.json`; the key
 *   sorts by creation time, so "newer" and "older" always mean key order. Keys that do not follow
 *   this layout are ignored (never listed, never deleted).
 * - Every move of `_CURRENT` is a conditional write against the etag read before the decision
 *   was made, so a rollback computed from a stale pointer fails instead of overwriting a newer
 *   publish.
 * - Cleanup deletes a run's manifest first and its objects after, so a crash in between leaves an
 *   orphaned `runs/<id>/` folder (removed by a later cleanup), never a manifest whose shards are
 *   gone.
 */
import pLimit from 'p-limit';
import {
  CURRENT_KEY,
  MANIFESTS_PREFIX,
  parseManifestKey,
  type ManifestKeyParts,
  parseCurrentPointer,
  type CurrentPointer,
  type Manifest,
  type RoutingRecall,
} from '../common/manifest.ts';
import {
  ConfigValidationError,
  ManifestParseError,
  ObjectNotFoundError,
  PreconditionFailedError,
  SnapshotNotFoundError,
  errorMessage,
} from '../common/errors.ts';
import type { ObjectInfo, ObjectStore } from '../common/storage/object-store.ts';
import { getPointerBytes, readManifest } from '../common/store-reads.ts';
import { assertNotShardyfusionPrefix } from './foreign-prefix.ts';
import { movePointer } from './publish.ts';

/** One published run, as listed by {@link listRuns}. */
export interface RunSummary {
  runId: string;
  /** Key of the run's manifest. */
  manifestKey: string;
  /** Creation time, RFC 3339 (the manifest's `created_at`, or the key's timestamp when malformed). */
  createdAt: string;
  /** Total vectors (null when the manifest is malformed). */
  vectors: number | null;
  /** Number of shards (null when the manifest is malformed). */
  shards: number | null;
  /** Sharding strategy (null when the manifest is malformed). */
  strategy: string | null;
  /** Index backend (null when the manifest is malformed). */
  backend: string | null;
  /** Total bytes of the shard files (null when the manifest is malformed). */
  bytes: number | null;
  /** Default num_probes of the manifest (null when malformed). */
  numProbes: number | null;
  /** CLUSTER / LSH runs: the routing recall curve measured at build time (null otherwise, or in older manifests). */
  routingRecall: RoutingRecall | null;
  /** True when `_CURRENT` points at this manifest. */
  current: boolean;
  /** Why the manifest is unusable (unreadable, invalid JSON, schema errors, run id mismatch). */
  error?: string;
}

/** Result of {@link rollback}. */
export interface RollbackResult {
  /** Run `_CURRENT` pointed to before (null when there was no `_CURRENT`). */
  from: string | null;
  /** Run `_CURRENT` points to now. */
  to: string;
  /** Manifest `_CURRENT` points to now. */
  manifestKey: string;
  /**
   * Where `_CURRENT` moved, in manifest order: `back` to an older run, `forward` to a newer one
   * (`--run-id` may name either), `same` when it already pointed at that manifest, `set` when
   * there was no readable `_CURRENT` to compare with.
   */
  direction: 'back' | 'forward' | 'same' | 'set';
}

/** Options of {@link cleanup}. */
export interface CleanupOptions {
  /** How many of the newest runs to keep (>= 1). The current run and newer ones are always kept. */
  keepRuns: number;
  /**
   * An orphaned `runs/<id>/` folder (no manifest) is removed only when its newest object is at
   * least this old, so a build in progress is never touched. Default 60 minutes.
   */
  orphanGraceMs?: number;
  /** Compute and return what would be deleted, deleting nothing. */
  dryRun?: boolean;
  /** "Now" for the grace period (tests). Default: the current time. */
  now?: Date;
}

/** Result of {@link cleanup} (with `dryRun`, what would have been deleted). */
export interface CleanupResult {
  /** Runs whose manifest (and objects) were deleted, oldest first. */
  deletedRuns: string[];
  /** Orphaned run folders that were deleted. */
  deletedOrphans: string[];
  /** Runs kept, newest first. */
  kept: string[];
  /** Objects deleted (manifests included). */
  deletedObjects: number;
  /** Orphaned run folders left alone, with the reason (younger than the grace period, age unknown). */
  skippedOrphans: { runId: string; reason: string }[];
}

/** Default grace period of orphaned run folders: 60 minutes. */
export const DEFAULT_ORPHAN_GRACE_MS = 60 * 60 * 1000;

const READ_CONCURRENCY = 8;
const DELETE_CONCURRENCY = 16;

/** `_CURRENT` as read, with the etag to write against. */
interface PointerState {
  etag: string;
  pointer: CurrentPointer;
}

/**
 * Lists every run with a manifest, newest first (by manifest key, i.e. creation time). A
 * malformed or unreadable manifest is listed with `error` set and null statistics; it is not
 * fatal. A malformed `_CURRENT` marks no run as current.
 * @throws StorageError when the store fails.
 */
export async function listRuns(store: ObjectStore): Promise<RunSummary[]> {
  let currentRef: string | undefined;
  try {
    currentRef = (await readPointer(store))?.pointer.manifest_ref;
  } catch (err) {
    if (!(err instanceof ManifestParseError)) throw err;
  }
  return (await loadRuns(store)).map(({ summary }) => ({ ...summary, current: summary.manifestKey === currentRef }));
}

/**
 * Points `_CURRENT` at an earlier (or any listed) run: `{ runId }` names it, `{ offset: n }` takes
 * the n-th manifest older than the current one in manifest order (`offset: 1` = the run published
 * just before the current one). The write is conditional on the `_CURRENT` that was read.
 * @throws SnapshotNotFoundError when `runId` has no manifest (the message lists the runs that
 *   exist), or for `offset` when there is no `_CURRENT`;
 *   ConfigValidationError when `offset` is not an integer >= 1 or goes past the oldest run (the
 *   message lists the older runs);
 *   ManifestParseError when the target's manifest is malformed (naming the run and the key) or
 *   `_CURRENT` is malformed (for `offset`);
 *   PreconditionFailedError when another publisher moved `_CURRENT` since it was read;
 *   StorageError when the store fails.
 */
export async function rollback(store: ObjectStore, target: { runId: string } | { offset: number }): Promise<RollbackResult> {
  let state: PointerState | undefined;
  let pointerError: ManifestParseError | undefined;
  try {
    state = await readPointer(store);
  } catch (err) {
    if (!(err instanceof ManifestParseError)) throw err;
    pointerError = err;
  }
  // After rollback's own read of _CURRENT: its conditional write must stay against that read's etag.
  await assertNotShardyfusionPrefix(store, 'roll back');
  const runs = await loadRuns(store);

  let chosen: LoadedRun;
  if ('runId' in target) {
    const matches = runs.filter((r) => r.summary.runId === target.runId);
    if (matches.length === 0) {
      throw new SnapshotNotFoundError(`run ${JSON.stringify(target.runId)} has no manifest at ${store.url}; runs: ${describeRuns(runs)}`);
    }
    // Several manifests for one run id: the newest valid one.
    chosen = matches.find((r) => r.manifest !== undefined) ?? matches[0];
  } else {
    const { offset } = target;
    if (!Number.isInteger(offset) || offset < 1) throw new ConfigValidationError(`offset must be an integer >= 1, got ${offset}`);
    if (pointerError !== undefined) throw pointerError;
    if (state === undefined) {
      throw new SnapshotNotFoundError(`no ${CURRENT_KEY} at ${store.url}, so there is nothing to count an offset from; use a run id (runs: ${describeRuns(runs)})`);
    }
    const currentRef = state.pointer.manifest_ref;
    const older = runs.filter((r) => r.summary.manifestKey < currentRef);
    if (offset > older.length) {
      throw new ConfigValidationError(
        `offset ${offset} is out of range: ${older.length} run(s) are older than the current run ${state.pointer.run_id}` +
          (older.length > 0 ? ` (${describeRuns(older)})` : ''),
      );
    }
    chosen = older[offset - 1];
  }
  if (chosen.manifest === undefined) {
    throw new ManifestParseError(`cannot roll back to run ${chosen.summary.runId}: its manifest ${chosen.summary.manifestKey} is malformed: ${chosen.summary.error}`);
  }

  // `state` undefined with a pointer error: the malformed _CURRENT exists; its etag is unknown
  // here, so re-read it for the condition.
  const condition = state !== undefined ? { ifMatch: state.etag } : await conditionForMissingOrMalformed(store, pointerError !== undefined);
  const runId = chosen.manifest.run_id;
  const pointer = await movePointer(
    store,
    chosen.summary.manifestKey,
    runId,
    condition,
    `rolling back to run ${runId}; ${CURRENT_KEY} was not changed by this rollback`,
    state?.pointer,
  );
  const before = state?.pointer.manifest_ref;
  const direction = before === undefined ? 'set' : pointer.manifest_ref === before ? 'same' : pointer.manifest_ref < before ? 'back' : 'forward';
  return { from: state?.pointer.run_id ?? null, to: pointer.run_id, manifestKey: pointer.manifest_ref, direction };
}

/**
 * Deletes old runs and orphaned run folders.
 *
 * Keeps the `keepRuns` newest runs (by manifest key), the run `_CURRENT` points to, every run
 * newer than it, and every run whose objects a kept manifest references. For each other run it
 * deletes the manifest first, then every object under `runs/<id>/` (unless a kept manifest still
 * uses that run id). A `runs/<id>/` folder with no manifest at all is removed only when its
 * newest object is older than `orphanGraceMs`; when the store does not report object times the
 * folder is kept (`skippedOrphans` says why). Before each run is deleted `_CURRENT` is checked
 * again, so a concurrent rollback to a run about to be deleted stops the cleanup.
 * @throws ConfigValidationError when `keepRuns` is not an integer >= 1 or `orphanGraceMs` is
 *   negative; ManifestParseError when `_CURRENT` is malformed (the current run is unknown, so
 *   nothing is deleted); PreconditionFailedError when `_CURRENT` moved during the cleanup (what
 *   was deleted before stays deleted; rerun); StorageError when the store fails.
 */
export async function cleanup(store: ObjectStore, options: CleanupOptions): Promise<CleanupResult> {
  const { keepRuns, dryRun = false } = options;
  const graceMs = options.orphanGraceMs ?? DEFAULT_ORPHAN_GRACE_MS;
  const now = options.now ?? new Date();
  if (!Number.isInteger(keepRuns) || keepRuns < 1) throw new ConfigValidationError(`keep-runs must be an integer >= 1, got ${keepRuns}`);
  if (!Number.isFinite(graceMs) || graceMs < 0) throw new ConfigValidationError(`orphan grace period must be >= 0 ms, got ${graceMs}`);

  // runs/ first, then manifests: a run that publishes its manifest in between is seen with its
  // manifest, never as an orphan.
  await assertNotShardyfusionPrefix(store, 'clean up');
  const runObjects = groupByRun(await store.list('runs/'));
  const state = await readPointer(store);
  const runs = await loadRuns(store);
  const currentRef = state?.pointer.manifest_ref;

  const keep: LoadedRun[] = [];
  const drop: LoadedRun[] = [];
  runs.forEach((r, i) => {
    const key = r.summary.manifestKey;
    const isKept = i < keepRuns || (currentRef !== undefined && key >= currentRef) || r.summary.runId === state?.pointer.run_id;
    (isKept ? keep : drop).push(r);
  });

  // Run folders that must survive: kept runs, the current run, and any run folder a kept
  // manifest references (a manifest may point at files of another run).
  const protectedRuns = new Set<string>(keep.map((r) => r.summary.runId));
  if (state !== undefined) protectedRuns.add(state.pointer.run_id);
  for (const r of keep) if (r.manifest !== undefined) for (const id of referencedRuns(r.manifest)) protectedRuns.add(id);

  const result: CleanupResult = { deletedRuns: [], deletedOrphans: [], kept: keep.map((r) => r.summary.runId), deletedObjects: 0, skippedOrphans: [] };
  const limit = pLimit(DELETE_CONCURRENCY);
  const deleteAll = async (keys: string[]): Promise<void> => {
    if (!dryRun) await Promise.all(keys.map((k) => limit(() => store.delete(k))));
    result.deletedObjects += keys.length;
  };

  // Oldest first, manifest before objects.
  for (const r of [...drop].reverse()) {
    if (!dryRun) await assertPointerUnchanged(store, state);
    await deleteAll([r.summary.manifestKey]);
    const id = r.summary.runId;
    if (!protectedRuns.has(id)) {
      await deleteAll((runObjects.get(id) ?? []).map((o) => o.key));
      // Objects written after the listing (should not happen for a published run) are left for
      // the orphan pass of a later cleanup.
    }
    result.deletedRuns.push(id);
  }

  // Orphans: run folders no manifest names.
  const named = new Set(runs.map((r) => r.summary.runId));
  for (const [id, objects] of runObjects) {
    if (named.has(id) || protectedRuns.has(id)) continue;
    const newest = newestModified(objects);
    if (newest === undefined) {
      result.skippedOrphans.push({ runId: id, reason: `the store does not report object times, so its age is unknown` });
      continue;
    }
    const ageMs = now.getTime() - newest.getTime();
    if (ageMs < graceMs) {
      result.skippedOrphans.push({
        runId: id,
        reason: `newest object written ${Math.max(0, Math.round(ageMs / 60_000))} min ago, within the ${Math.round(graceMs / 60_000)} min grace period (a build may be in progress)`,
      });
      continue;
    }
    await deleteAll(objects.map((o) => o.key));
    result.deletedOrphans.push(id);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------

interface LoadedRun {
  summary: Omit<RunSummary, 'current'>;
  manifest?: Manifest;
}

/** Every manifest under `manifests/` that follows the key layout, newest first, parsed. */
async function loadRuns(store: ObjectStore): Promise<LoadedRun[]> {
  const entries = (await store.list(MANIFESTS_PREFIX, { etags: false }))
    .map((o) => ({ key: o.key, m: parseManifestKey(o.key) }))
    .filter((e): e is { key: string; m: ManifestKeyParts } => e.m !== undefined)
    .sort((a, b) => (a.key < b.key ? 1 : a.key > b.key ? -1 : 0));
  const limit = pLimit(READ_CONCURRENCY);
  return Promise.all(
    entries.map(({ key, m }) =>
      limit(async (): Promise<LoadedRun> => {
        const runId = m.runId;
        const base = { runId, manifestKey: key, createdAt: m.createdAt, vectors: null, shards: null, strategy: null, backend: null, bytes: null, numProbes: null, routingRecall: null };
        let manifest: Manifest;
        try {
          manifest = await readManifest(store, key);
        } catch (err) {
          if (!(err instanceof ManifestParseError || err instanceof ObjectNotFoundError)) throw err;
          return { summary: { ...base, error: errorMessage(err) } };
        }
        if (manifest.run_id !== runId) {
          return { summary: { ...base, error: `manifest ${key} names run ${manifest.run_id} but its key names run ${runId}` } };
        }
        return {
          manifest,
          summary: {
            ...base,
            createdAt: manifest.created_at,
            vectors: manifest.build_stats.total_vectors,
            shards: manifest.shards.length,
            strategy: manifest.sharding.strategy,
            backend: manifest.index.backend,
            bytes: manifest.build_stats.total_bytes,
            numProbes: manifest.sharding.num_probes,
            routingRecall: manifest.routing_recall ?? null,
          },
        };
      }),
    ),
  );
}

/**
 * Reads `_CURRENT` with the etag it had before the read (so a conditional write against that
 * etag fails if the pointer changed at any time after), or undefined when it does not exist.
 * @throws ManifestParseError when it is malformed.
 */
async function readPointer(store: ObjectStore): Promise<PointerState | undefined> {
  const info = await store.head(CURRENT_KEY);
  if (info === undefined) return undefined;
  let bytes: Buffer;
  try {
    bytes = await getPointerBytes(store);
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return undefined;
    throw err;
  }
  return { etag: info.etag, pointer: parseCurrentPointer(bytes) };
}

/** Write condition when `_CURRENT` is missing (create-only) or malformed (its present etag). */
async function conditionForMissingOrMalformed(store: ObjectStore, malformed: boolean): Promise<{ ifNoneMatch: '*' } | { ifMatch: string }> {
  if (!malformed) return { ifNoneMatch: '*' };
  const info = await store.head(CURRENT_KEY);
  return info === undefined ? { ifNoneMatch: '*' } : { ifMatch: info.etag };
}

/** @throws PreconditionFailedError when `_CURRENT` no longer has the etag `state` was read with. */
async function assertPointerUnchanged(store: ObjectStore, state: PointerState | undefined): Promise<void> {
  const info = await store.head(CURRENT_KEY);
  if ((info?.etag ?? null) !== (state?.etag ?? null)) {
    throw new PreconditionFailedError(CURRENT_KEY, 'it was moved while cleanup was running; cleanup stopped before deleting more (rerun it)');
  }
}

/** Objects under `runs/` grouped by run id (`runs/<id>/...`); keys directly under `runs/` are ignored. */
function groupByRun(objects: ObjectInfo[]): Map<string, ObjectInfo[]> {
  const byRun = new Map<string, ObjectInfo[]>();
  for (const o of objects) {
    const m = /^runs\/([^/]+)\/./.exec(o.key);
    if (m === null) continue;
    const list = byRun.get(m[1]);
    if (list === undefined) byRun.set(m[1], [o]);
    else list.push(o);
  }
  return byRun;
}

/** Run ids whose folders a manifest references (shard urls and routing metadata refs). */
function referencedRuns(m: Manifest): Set<string> {
  const refs: string[] = m.shards.map((s) => s.url);
  const s = m.sharding;
  if (s.strategy === 'cluster') refs.push(s.centroids.ref);
  if (s.strategy === 'lsh') {
    refs.push(s.hyperplanes.ref);
    if (s.center !== null) refs.push(s.center.ref);
  }
  const ids = new Set<string>();
  for (const ref of refs) {
    const match = /^runs\/([^/]+)\//.exec(ref);
    if (match !== null) ids.add(match[1]);
  }
  ids.add(m.run_id);
  return ids;
}

/** Newest modification time of `objects` (S3 LastModified / file mtime), or undefined for none. */
function newestModified(objects: ObjectInfo[]): Date | undefined {
  let newest = -Infinity;
  for (const o of objects) newest = Math.max(newest, o.lastModified.getTime());
  return Number.isFinite(newest) ? new Date(newest) : undefined;
}

function describeRuns(runs: LoadedRun[]): string {
  if (runs.length === 0) return '(none)';
  const shown = runs.slice(0, 20).map((r) => r.summary.runId + (r.manifest === undefined ? ' (malformed)' : ''));
  return shown.join(', ') + (runs.length > 20 ? `, ... (${runs.length} in all)` : '');
}
