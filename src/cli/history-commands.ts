/**
 * `shardfleet history`, `shardfleet rollback` and `shardfleet cleanup`: inspect the published
 * runs of a store, move `_CURRENT` back to an earlier run, and delete old runs.
 */
import { Option, type Command } from 'commander';
import { ConfigValidationError } from '../common/errors.ts';
import type { RollbackResult, RunSummary } from '../writer/snapshot-history.ts';
import { intArg } from './arg-parsers.ts';
import { ShardfleetCommand } from './env-options.ts';
import { addStoreOptions, openExistingStoreFromFlags, type StoreFlags } from './store-options.ts';

/** The `history` command. */
export function historyCommand(): Command {
  const cmd = new ShardfleetCommand('history').description('list the published runs of a store, newest first (* = current)');
  addStoreOptions(cmd)
    .option('--json', 'print JSON instead of a table')
    .action(async (flags: StoreFlags & { json?: boolean }) => {
      const store = await openExistingStoreFromFlags(flags);
      try {
        const { listRuns } = await import('../writer/snapshot-history.ts');
        const runs = await listRuns(store);
        if (flags.json) {
          process.stdout.write(JSON.stringify(runs.map(runJson), null, 2) + '\n');
        } else {
          process.stdout.write(formatHistory(runs));
        }
      } finally {
        await store.close();
      }
    });
  return cmd;
}

/** The `rollback` command. */
export function rollbackCommand(): Command {
  const cmd = new ShardfleetCommand('rollback').description('point _CURRENT at an earlier run, or with --run-id at any listed run (conditional write)');
  addStoreOptions(cmd)
    .addOption(new Option('--run-id <id>', 'the run to make current').conflicts('offset'))
    .addOption(new Option('--offset <n>', 'the n-th run before the current one in manifest order (1 = previous)').argParser(intArg))
    .action(async (flags: StoreFlags & { runId?: string; offset?: number }) => {
      if ((flags.runId === undefined) === (flags.offset === undefined)) {
        throw new ConfigValidationError('give exactly one of --run-id or --offset');
      }
      const store = await openExistingStoreFromFlags(flags);
      try {
        const { rollback } = await import('../writer/snapshot-history.ts');
        const res = await rollback(store, flags.runId !== undefined ? { runId: flags.runId } : { offset: flags.offset ?? 0 });
        process.stdout.write(`${describeMove(res)}\nmanifest ${store.url}/${res.manifestKey}\n`);
      } finally {
        await store.close();
      }
    });
  return cmd;
}

/** What a rollback did, in the direction it really moved `_CURRENT` (`--run-id` may name a newer run). */
export function describeMove(res: RollbackResult): string {
  switch (res.direction) {
    case 'back':
      return `rolled back _CURRENT from ${res.from} to ${res.to}`;
    case 'forward':
      return `moved _CURRENT forward from ${res.from} to ${res.to} (a newer run)`;
    case 'same':
      return `_CURRENT already pointed at ${res.to}; unchanged`;
    case 'set':
      return `set _CURRENT to ${res.to} (there was no readable _CURRENT before)`;
  }
}

/** The `cleanup` command. */
export function cleanupCommand(): Command {
  const cmd = new ShardfleetCommand('cleanup').description(
    'delete old runs (manifest first, then its objects), keeping the N newest, the current run and newer ones; ' +
      'also remove orphaned run folders older than the grace period',
  );
  addStoreOptions(cmd)
    .addOption(new Option('--keep-runs <n>', 'number of newest runs to keep (>= 1)').argParser(intArg).makeOptionMandatory())
    .option('--orphan-grace-minutes <m>', 'leave run folders without a manifest alone until their newest object is this old', intArg, 60)
    .option('--dry-run', 'print what would be deleted, delete nothing')
    .action(async (flags: StoreFlags & { keepRuns: number; orphanGraceMinutes: number; dryRun?: boolean }) => {
      const store = await openExistingStoreFromFlags(flags);
      try {
        const dryRun = flags.dryRun === true;
        const { cleanup } = await import('../writer/snapshot-history.ts');
        const res = await cleanup(store, { keepRuns: flags.keepRuns, orphanGraceMs: flags.orphanGraceMinutes * 60_000, dryRun });
        const verb = dryRun ? 'would delete' : 'deleted';
        const lines: string[] = [];
        for (const id of res.deletedRuns) lines.push(`${verb} run ${id}`);
        for (const id of res.deletedOrphans) lines.push(`${verb} orphaned run folder runs/${id}/`);
        for (const s of res.skippedOrphans) lines.push(`kept orphaned run folder runs/${s.runId}/: ${s.reason}`);
        lines.push(`kept ${res.kept.length} run(s): ${res.kept.join(', ') || '(none)'}`);
        lines.push(
          `${verb} ${res.deletedRuns.length} run(s), ${res.deletedOrphans.length} orphaned folder(s), ${res.deletedObjects} object(s)${dryRun ? ' (dry run)' : ''}`,
        );
        process.stdout.write(lines.join('\n') + '\n');
      } finally {
        await store.close();
      }
    });
  return cmd;
}

function runJson(r: RunSummary): Record<string, unknown> {
  return {
    run_id: r.runId,
    manifest_key: r.manifestKey,
    created_at: r.createdAt,
    vectors: r.vectors,
    shards: r.shards,
    strategy: r.strategy,
    backend: r.backend,
    bytes: r.bytes,
    num_probes: r.numProbes,
    routing_recall: r.routingRecall,
    current: r.current,
    ...(r.error !== undefined ? { error: r.error } : {}),
  };
}

/** A fixed-width table, then one line per malformed manifest with its error. */
function formatHistory(runs: RunSummary[]): string {
  if (runs.length === 0) return 'no runs (no manifests under manifests/)\n';
  const header = ['', 'run_id', 'created', 'vectors', 'shards', 'strategy', 'backend', 'size', 'probes', 'recall@probes 1..'];
  const rows = runs.map((r) => [
    r.current ? '*' : '',
    r.runId,
    r.createdAt,
    r.vectors === null ? '-' : String(r.vectors),
    r.shards === null ? '-' : String(r.shards),
    r.strategy ?? (r.error !== undefined ? 'MALFORMED' : '-'),
    r.backend ?? '-',
    r.bytes === null ? '-' : humanBytes(r.bytes),
    r.numProbes === null ? '-' : String(r.numProbes),
    r.routingRecall === null ? '-' : compactCurve(r.routingRecall.recall_at_probes),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const fmt = (row: string[]): string => row.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  const out = [fmt(header), ...rows.map(fmt)];
  for (const r of runs) if (r.error !== undefined) out.push(`error in ${r.runId}: ${r.error}`);
  if (!runs.some((r) => r.current)) out.push('no run is current (_CURRENT is missing, malformed, or points at no listed manifest)');
  return out.join('\n') + '\n';
}

/** A recall curve as `0.885/0.986/0.998/1.000`: 3 decimals, up to the first value that rounds to 1.000. */
function compactCurve(curve: readonly number[]): string {
  const end = curve.findIndex((r) => r >= 0.9995);
  return curve.slice(0, end < 0 ? curve.length : end + 1).map((r) => r.toFixed(3)).join('/');
}

function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}
