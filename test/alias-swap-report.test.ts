/**
 * The fault benchmark's alias-swap figures (bench/lib/alias-swap-report.ts), on hand-made query
 * records (fast; no processes): which answers are mixed, each switch's lag and stale answers, the
 * row's goal, and the table.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { aliasSwapRow, formatAliasSwapDetails, formatAliasSwapTable, mixedReason, switchFigures, type CollectionTruth, type SwitchMark } from '../bench/lib/alias-swap-report.ts';
import type { QueryRecord } from '../bench/lib/fault-load.ts';

const TRUTH: Record<string, CollectionTruth> = {
  'fm-a': { runId: 'run-a', firstId: 0, count: 100 },
  'fm-b': { runId: 'run-b', firstId: 5000, count: 100 },
};

/** An answered query started at `t` taking `ms`, from `collection`'s run unless `runId` says otherwise. */
function answer(t: number, ms: number, collection: string, ids: string[], runId = TRUTH[collection]?.runId ?? 'run-x'): QueryRecord {
  return { t, ms, code: 0, runId, partial: false, collection, ids };
}

test('mixedReason: an answer wholly from its collection\'s current run is not mixed; a foreign id, another run or a collection that is no target is', () => {
  assert.equal(mixedReason(answer(0, 1, 'fm-a', ['0', '99', '42']), TRUTH), undefined);
  assert.equal(mixedReason(answer(0, 1, 'fm-b', ['5000', '5099']), TRUTH), undefined);
  assert.equal(mixedReason(answer(0, 1, 'fm-b', []), TRUTH), undefined, 'no ids, nothing foreign');
  assert.match(mixedReason(answer(0, 1, 'fm-a', ['3', '5003']), TRUTH) ?? '', /id "5003" is not in collection "fm-a" \(ids 0\.\.99\)/);
  assert.match(mixedReason(answer(0, 1, 'fm-b', ['5100']), TRUTH) ?? '', /id "5100" is not in collection "fm-b" \(ids 5000\.\.5099\)/, 'one past the range');
  assert.match(mixedReason(answer(0, 1, 'fm-a', ['x1']), TRUTH) ?? '', /id "x1"/);
  assert.match(mixedReason(answer(0, 1, 'fm-a', ['1'], 'run-b'), TRUTH) ?? '', /run_id "run-b" is not the current run "run-a" of collection "fm-a"/);
  assert.match(mixedReason(answer(0, 1, 'live', ['1'], 'run-a'), TRUTH) ?? '', /collection "live", which is not a target of the alias \(fm-a, fm-b\)/);
  assert.equal(mixedReason({ t: 0, ms: 1, code: 14, message: 'UNAVAILABLE: x', partial: false }, TRUTH), undefined, 'a failed query is counted as failed, not mixed');
});

test('switchFigures: lag from the write to the end of the first answer from the new collection; stale answers from the old one after it was visible', () => {
  const mark: SwitchMark = { from: 'fm-a', to: 'fm-b', startedAt: 1000, writtenAt: 1010, endAt: 3000 };
  const queries = [
    answer(900, 200, 'fm-b', ['5001']), // started before the write: not the first new answer
    answer(1005, 10, 'fm-a', ['1']),
    answer(1200, 30, 'fm-b', ['5002']), // first new answer, ends at 1230
    answer(1220, 10, 'fm-a', ['2']), // started before the new one was visible: fine
    answer(1240, 10, 'fm-a', ['3']), // stale
    answer(1300, 10, 'fm-b', ['5003']),
    answer(3100, 10, 'fm-a', ['4']), // outside the window (the next switch)
  ];
  assert.deepEqual(switchFigures(queries, mark), { from: 'fm-a', to: 'fm-b', lagMs: 220, stale: 1 });
  // With a Refresh that returned at 1100, the new collection is visible from then on.
  assert.deepEqual(switchFigures(queries, { ...mark, refreshedAt: 1100 }), { from: 'fm-a', to: 'fm-b', lagMs: 220, refreshMs: 90, stale: 2 });
  assert.equal(switchFigures(queries.slice(0, 2), mark).lagMs, null, 'never answered by the new collection');
});

test('aliasSwapRow: counts failed, mixed and stale answers; the goal needs 0 of each and every switch seen', () => {
  const before = [answer(0, 5, 'fm-a', ['1']), answer(1, 7, 'fm-a', ['2'])];
  const marks: SwitchMark[] = [
    { from: 'fm-a', to: 'fm-b', startedAt: 1000, writtenAt: 1010, endAt: 2000 },
    { from: 'fm-b', to: 'fm-a', startedAt: 2000, writtenAt: 2010, endAt: 3000 },
  ];
  const good = [answer(1100, 10, 'fm-b', ['5000']), answer(2300, 10, 'fm-a', ['0'])];
  const row = aliasSwapRow({ scenario: 'poll', seconds: 3, refresh: false, before, queries: good, marks, truth: TRUTH, notes: [] });
  assert.deepEqual([row.stats.sent, row.mixed, row.stale, row.unseen, row.goalMet], [2, 0, 0, 0, true]);
  assert.deepEqual(row.collections, { 'fm-b': 1, 'fm-a': 1 });
  assert.deepEqual(row.lag, { p50Ms: 100, maxMs: 300 });
  assert.deepEqual([row.before.queries, row.before.p50Ms], [2, 5]);

  const bad = [...good, answer(2400, 10, 'fm-a', ['5004']), { t: 2500, ms: 3, code: 14, message: 'UNAVAILABLE: gone', partial: false }];
  const missed = aliasSwapRow({ scenario: 'poll', seconds: 3, refresh: false, before, queries: bad, marks, truth: TRUTH, notes: ['n'] });
  assert.deepEqual([missed.mixed, missed.stats.failed, missed.stats.failedByStatus, missed.goalMet], [1, 1, { UNAVAILABLE: 1 }, false]);
  assert.equal(missed.mixedSamples[0].count, 1);
  const unseen = aliasSwapRow({ scenario: 'poll', seconds: 3, refresh: false, before, queries: good.slice(0, 1), marks, truth: TRUTH, notes: [] });
  assert.deepEqual([unseen.unseen, unseen.goalMet], [1, false]);

  const table = formatAliasSwapTable([row, missed, unseen]);
  assert.match(table, /\| poll \| 3 \| 2 \| 0 \| 0 \| 0 \| 0 \| 2 \| 5\.0 \/ 7\.0 \| 10\.0 \/ 10\.0 \| 100 \/ 300 \| fm-b: 1, fm-a: 1 \| met \|/);
  assert.match(table, /UNAVAILABLE 1 \| 0 \| 1 \| 0 \| 2 .*\| MISSED \|/);
  assert.match(table, /\| 2 \(1 never seen\) \|/);
  const details = formatAliasSwapDetails([missed, unseen]);
  assert.match(details, /switches: fm-a->fm-b 100 ms; fm-b->fm-a 300 ms/);
  assert.match(details, /1 x UNAVAILABLE: gone/);
  assert.match(details, /mixed: 1 x id "5004" is not in collection "fm-a"/);
  assert.match(details, /fm-b->fm-a never seen/);
});
