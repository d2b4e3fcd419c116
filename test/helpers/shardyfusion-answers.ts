/**
 * Comparing shardfleet's answers with shardyfusion's recorded ones (test/fixtures/shardyfusion):
 * ids and order (ties at k excepted), scores mapped to shardfleet's Hit contract (shardyfusion's l2
 * is the Euclidean distance, shardfleet's its square; cosine is 1 - cos in both), payloads.
 */
import assert from 'node:assert/strict';
import type { ExpectedAnswer } from './shardyfusion-samples.ts';

/** A hit as the router returns it (the fields compared). */
export interface HitLike {
  id: string;
  score: number;
  payload_json: string;
}

/** shardyfusion's score of a hit in shardfleet's contract. */
export function shardfleetScore(metric: string, sfScore: number): number {
  return metric === 'l2' ? sfScore * sfScore : sfScore;
}

/**
 * Asserts `got` equals shardyfusion's `want`: same length, the same ids in the same order except
 * that ids tied at the k-th score may take each other's place (shardyfusion's `ties_at_k`), each
 * score within 1e-5 relative of shardyfusion's (converted), and the same payload when `payloads`.
 * @param where names the query in failure messages.
 */
export function assertSameAnswer(got: readonly HitLike[], want: ExpectedAnswer, metric: string, where: string, payloads = true): void {
  assert.equal(got.length, want.results.length, `${where}: ${got.length} hits, shardyfusion has ${want.results.length}`);
  const lastScore = want.results.at(-1)?.score;
  const tiedIds = new Set([...want.ties_at_k.map(String), ...want.results.filter((r) => r.score === lastScore).map((r) => String(r.id))]);
  got.forEach((hit, i) => {
    const w = want.results[i];
    const atTie = want.ties_at_k.length > 0 && w.score === lastScore;
    if (atTie) assert.ok(tiedIds.has(hit.id), `${where}: hit ${i} is ${hit.id}; shardyfusion has one of ${[...tiedIds].join(', ')} (tied at k)`);
    else assert.equal(hit.id, String(w.id), `${where}: hit ${i} is ${hit.id}, shardyfusion's is ${w.id}`);
    const expected = shardfleetScore(metric, w.score);
    assert.ok(Math.abs(hit.score - expected) <= 1e-5 * Math.max(1, Math.abs(expected)), `${where}: hit ${i} (${hit.id}) score ${hit.score}, shardyfusion's ${w.score} -> ${expected}`);
    if (payloads && !atTie) assert.deepEqual(JSON.parse(hit.payload_json), w.payload, `${where}: hit ${i} (${hit.id}) payload`);
  });
}
