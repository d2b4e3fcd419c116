/**
 * FreshRun (src/common/fresh-run.ts): the run answering a call starts after the call; calls while
 * a run is in flight share one more run; a failed run rejects its callers and does not wedge.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FreshRun } from '../src/common/fresh-run.ts';

/** An operation whose runs are released by hand; each run resolves to the version it read when it started. */
function gatedOperation(): { op: () => Promise<number>; releaseAll: () => void; started: () => number; version: { value: number } } {
  const version = { value: 0 };
  let runs = 0;
  let gates: Array<() => void> = [];
  return {
    version,
    started: () => runs,
    releaseAll: () => {
      const g = gates;
      gates = [];
      for (const release of g) release();
    },
    op: () => {
      runs++;
      const seen = version.value;
      return new Promise<number>((resolve) => gates.push(() => resolve(seen)));
    },
  };
}

test('a call while a run is in flight gets a later run that saw the change; callers meanwhile share it', async () => {
  const g = gatedOperation();
  const fresh = new FreshRun(g.op);
  const first = fresh.run();
  assert.equal(g.started(), 1);
  g.version.value = 1; // a write after the first run started
  const second = fresh.run();
  const third = fresh.run();
  assert.equal(second, third, 'one queued run for both');
  assert.equal(g.started(), 1, 'the queued run waits for the one in flight');
  g.releaseAll();
  assert.equal(await first, 0);
  while (g.started() < 2) await new Promise((r) => setImmediate(r));
  g.releaseAll();
  assert.deepEqual([await second, await third], [1, 1]);
  assert.equal(g.started(), 2);
  // Idle again: a call starts its own run at once.
  const fourth = fresh.run();
  assert.equal(g.started(), 3);
  g.releaseAll();
  assert.equal(await fourth, 1);
});

test('a failed run rejects its callers; the queued run still starts and the next call works', async () => {
  let runs = 0;
  let fail: (err: Error) => void = () => undefined;
  const fresh = new FreshRun(() => {
    runs++;
    if (runs === 1) return new Promise<number>((_, reject) => (fail = reject));
    return Promise.resolve(runs);
  });
  const first = fresh.run();
  const queued = fresh.run();
  fail(new Error('store down'));
  await assert.rejects(first, /store down/);
  assert.equal(await queued, 2);
  assert.equal(await fresh.run(), 3);
});
