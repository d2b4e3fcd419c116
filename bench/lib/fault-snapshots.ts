/**
 * Snapshot operations of the fault benchmark on a file:// store: build runs with the
 * `shardfleet build` CLI, point `_CURRENT` at a run (the publish step, movePointer), roll back
 * with the `shardfleet rollback` CLI, damage one shard file (same size, one byte flipped, so its
 * sha256 check fails on every node) and publish a malformed manifest.
 */
import type { ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnCli } from '../../src/cli/local-cluster.ts';
import { MANIFESTS_PREFIX, manifestKey, parseManifest, type Manifest } from '../../src/common/manifest.ts';
import type { ObjectStore } from '../../src/common/storage/object-store.ts';
import { movePointer } from '../../src/writer/publish.ts';
import { trackChild } from './exit-cleanup.ts';

/** A published run of the store. */
export interface StoredRun {
  runId: string;
  manifestKey: string;
  manifest: Manifest;
}

/**
 * Runs a one-shot `shardfleet <args>` command (build, rollback) as a child process.
 * @throws Error naming the command and its exit code when it fails.
 */
export async function runCli(args: string[], stderr: 'inherit' | 'ignore'): Promise<void> {
  const child: ChildProcess = trackChild(spawnCli(args, { SHARDFLEET_LOG_LEVEL: process.env.SHARDFLEET_LOG_LEVEL ?? 'warn' }, stderr));
  child.stdin?.end();
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])));
  if (code !== 0) throw new Error(`shardfleet ${args.slice(0, 2).join(' ')} ... failed (exit code ${code}, signal ${signal})`);
}

/** The newest manifest of `runId`. @throws Error when the run has no manifest. */
export async function findRun(store: ObjectStore, runId: string): Promise<StoredRun> {
  const keys = (await store.list(MANIFESTS_PREFIX)).map((o) => o.key).filter((k) => k.endsWith(`_run_id=${runId}/manifest.json`));
  const key = keys.sort().at(-1);
  if (key === undefined) throw new Error(`run ${runId} has no manifest under ${MANIFESTS_PREFIX}`);
  return { runId, manifestKey: key, manifest: parseManifest(await store.get(key), key) };
}

/** Options of {@link buildRun}. */
export interface BuildRunOptions {
  storeDir: string;
  images: string;
  labels?: string;
  runId: string;
  seed: number;
  numDbs: number;
  stderr: 'inherit' | 'ignore';
  /** More `shardfleet build` flags (e.g. `--filter-columns label:int`). */
  extraArgs?: string[];
}

/** `shardfleet build` of the IDX images (CLUSTER, l2, the default backend) as run `runId`; it becomes `_CURRENT`. */
export async function buildRun(o: BuildRunOptions): Promise<void> {
  await runCli(
    [
      'build',
      '--store',
      o.storeDir,
      '--input',
      o.images,
      ...(o.labels ? ['--labels', o.labels] : []),
      '--num-dbs',
      String(o.numDbs),
      '--metric',
      'l2',
      '--seed',
      String(o.seed),
      '--run-id',
      o.runId,
      '--no-progress',
      ...(o.extraArgs ?? []),
    ],
    o.stderr,
  );
}

/** Points `_CURRENT` at `run` (the last step of a publish; conditional on the pointer read). */
export async function pointAt(store: ObjectStore, run: StoredRun): Promise<void> {
  await movePointer(store, run.manifestKey, run.runId);
}

/** `shardfleet rollback --run-id <runId>`. */
export async function rollbackWithCli(storeDir: string, runId: string, stderr: 'inherit' | 'ignore'): Promise<void> {
  await runCli(['rollback', '--store', storeDir, '--run-id', runId], stderr);
}

/** A damaged shard file and how to put it back. */
export interface DamagedFile {
  /** Store key of the file. */
  key: string;
  restore(): Promise<void>;
}

/**
 * Flips one byte in the middle of shard `dbId`'s largest file (same size), directly in the
 * store's folder, so every node's sha256 check of that file fails.
 */
export async function damageShardFile(storeDir: string, run: StoredRun, dbId: number): Promise<DamagedFile> {
  const shard = run.manifest.shards.find((s) => s.db_id === dbId);
  if (!shard) throw new Error(`run ${run.runId} has no shard ${dbId}`);
  const file = shard.files.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const key = `${shard.url}${file.path}`;
  const path = join(storeDir, key);
  const good = await readFile(path);
  const bad = Buffer.from(good);
  bad[Math.floor(bad.length / 2)] ^= 0xff;
  await writeFile(path, bad);
  return { key, restore: () => writeFile(path, good) };
}

/**
 * Writes a manifest that is not valid JSON for run `runId` (a truncated object, as an
 * interrupted writer leaves it) and points `_CURRENT` at it.
 * @returns the malformed manifest's key.
 */
export async function publishMalformedManifest(store: ObjectStore, runId: string): Promise<string> {
  const key = manifestKey(runId, new Date());
  await store.put(key, `{"format_version": 1, "run_id": "${runId}", "shards": [`);
  await movePointer(store, key, runId);
  return key;
}
