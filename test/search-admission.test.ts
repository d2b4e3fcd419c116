/**
 * Units of the shard node's search admission (search-admission.ts) and the shared work estimate
 * (work-bounds.ts): pure logic, no processes (the behaviour through real processes is in
 * work-bounds.test.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ResourceExhaustedError } from '../src/common/errors.ts';
import { checkAnswerBytes, DEFAULT_MAX_RESPONSE_BYTES, estimateAnswerBytes } from '../src/common/work-bounds.ts';
import { SearchAdmission } from '../src/shard-node/search-admission.ts';

describe('search admission', () => {
  test('at most `limit` calls run at once, in FIFO order; a waiting call whose signal aborts leaves the queue without running', async () => {
    const admission = new SearchAdmission(2);
    const started: number[] = [];
    const gates: Array<() => void> = [];
    const work = (i: number) => () =>
      new Promise<number>((resolve) => {
        started.push(i);
        gates[i] = () => resolve(i);
      });
    const ac = new AbortController();
    const runs = [0, 1, 2, 3].map((i) => admission.run(i === 2 ? ac.signal : undefined, work(i)));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(started, [0, 1]);
    assert.equal(admission.queued, 2);
    ac.abort(new Error('caller gone'));
    await assert.rejects(runs[2], /caller gone/);
    gates[0]();
    await runs[0];
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(started, [0, 1, 3], 'the aborted call never ran; the next one took its turn');
    gates[1]();
    gates[3]();
    assert.deepEqual(await Promise.all([runs[1], runs[3]]), [1, 3]);
    assert.equal(admission.active, 0);
  });
});

describe('work estimate', () => {
  test('ordinary requests fit the default; the heavy batch of issue 20 does not', () => {
    const dim = 784;
    const batch = (n: number, topK: number, vec: boolean, payload: boolean, shards = 8) =>
      estimateAnswerBytes(Array.from({ length: n }, () => ({ shards, topK, includeVector: vec, includePayload: payload })), dim);
    assert.ok(batch(1000, 10, false, true) <= DEFAULT_MAX_RESPONSE_BYTES, '1,000 queries of top_k 10 with payloads');
    assert.ok(batch(1, 1000, true, true) <= DEFAULT_MAX_RESPONSE_BYTES, 'one top_k 1000 search with vectors and payloads over 8 shards');
    const heavy = batch(100, 1000, true, true);
    assert.equal(heavy, 2_752_000_000);
    assert.throws(
      () => checkAnswerBytes(heavy, DEFAULT_MAX_RESPONSE_BYTES, 'BatchSearch of 100 queries', 'detail'),
      (err: unknown) => err instanceof ResourceExhaustedError && /estimated 2,752,000,000 bytes .* over the limit of 67,108,864 bytes .*--max-response-bytes/.test(err.message),
    );
  });
});
