/**
 * Per-shard hits on the node -> router hop, packed (shard_node.proto `ShardResult`): parallel
 * arrays `ids`, `scores`, `payloads_json` (only when payloads were asked for) and `vectors` (every
 * hit's stored vector, concatenated float32 little-endian, only when vectors were asked for),
 * instead of one `Hit` message per hit, which costs protobufjs about twice the work to encode and
 * decode. The node packs ({@link packHits}); the router unpacks into the `Hit` shape the merge
 * and the public response use ({@link unpackHits}).
 */
import type { Hit__Output } from './proto-gen/shardfleet/v1/Hit.ts';
import type { ScoredHit } from './topk-merge.ts';

/** A hit as a shard search yields it: id, score, payload JSON ("" when absent), stored vector when asked for. */
export interface PackableHit extends ScoredHit {
  /** The stored vector (length dim), present when the query asked for vectors. */
  vector?: Float32Array;
}

/** The packed hit fields of one `ShardResult`. */
export interface PackedHits {
  ids: string[];
  /** One per id. */
  scores: number[];
  /** One per id when payloads were asked for, else empty. */
  payloads_json: string[];
  /** 4 * dim bytes per id when vectors were asked for, else empty. */
  vectors: Buffer;
}

/** The packed fields as decoded from a `ShardResult__Output`. */
export type PackedHitsInput = Pick<PackedHits, 'ids' | 'scores' | 'payloads_json'> & { vectors: Uint8Array };

const NO_VECTOR = Buffer.alloc(0);

/**
 * Packs a shard's hits (best first) into `ShardResult` fields.
 * @param includePayload send each hit's `payload_json` (else none are sent).
 * @param includeVector send each hit's stored vector (else none are sent).
 * @throws RangeError when `includeVector` is set and a hit has no vector, or the vectors differ
 *   in length (the packed layout needs one length for every hit).
 */
export function packHits(hits: readonly PackableHit[], includePayload: boolean, includeVector: boolean): PackedHits {
  const n = hits.length;
  const ids = new Array<string>(n);
  const scores = new Array<number>(n);
  for (let j = 0; j < n; j++) {
    ids[j] = hits[j].id;
    scores[j] = hits[j].score;
  }
  const payloads_json = includePayload ? hits.map((h) => h.payload_json) : [];
  let vectors = NO_VECTOR;
  if (includeVector && n > 0) {
    const dim = hits[0].vector?.length ?? 0;
    vectors = Buffer.allocUnsafe(n * dim * 4);
    for (let j = 0; j < n; j++) {
      const v = hits[j].vector;
      if (v === undefined || v.length !== dim) {
        throw new RangeError(`hit ${hits[j].id} has ${v === undefined ? 'no stored vector' : `a vector of ${v.length} dimensions, expected ${dim}`}`);
      }
      vectors.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), j * dim * 4);
    }
  }
  return { ids, scores, payloads_json, vectors };
}

/**
 * Unpacks a `ShardResult`'s hits, best first, into `Hit` objects (`vector` is a view of 4 * dim
 * bytes of `r.vectors`, or empty; it is forwarded as bytes, never viewed as a Float32Array, so an
 * unaligned decode buffer is fine).
 * @throws RangeError when the arrays disagree: scores not one per id, payloads neither none nor
 *   one per id, vector bytes not a multiple of 4 per id.
 */
export function unpackHits(r: PackedHitsInput): Hit__Output[] {
  const n = r.ids.length;
  if (r.scores.length !== n) throw new RangeError(`malformed packed hits: ${n} ids but ${r.scores.length} scores`);
  const payloads = r.payloads_json.length;
  if (payloads !== 0 && payloads !== n) throw new RangeError(`malformed packed hits: ${n} ids but ${payloads} payloads`);
  const vectorBytes = r.vectors.byteLength;
  const stride = n === 0 ? 0 : vectorBytes / n;
  if (vectorBytes !== 0 && (!Number.isInteger(stride) || stride % 4 !== 0)) {
    throw new RangeError(`malformed packed hits: ${vectorBytes} vector bytes for ${n} ids are not whole float32 vectors`);
  }
  const bytes = Buffer.isBuffer(r.vectors) ? r.vectors : Buffer.from(r.vectors.buffer, r.vectors.byteOffset, vectorBytes);
  const hits = new Array<Hit__Output>(n);
  for (let j = 0; j < n; j++) {
    hits[j] = {
      id: r.ids[j],
      score: r.scores[j],
      payload_json: payloads === 0 ? '' : r.payloads_json[j],
      vector: vectorBytes === 0 ? NO_VECTOR : bytes.subarray(j * stride, (j + 1) * stride),
    };
  }
  return hits;
}
