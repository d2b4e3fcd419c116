/**
 * Packed per-shard hits on the node -> router hop (src/common/packed-hits.ts): the node's packing
 * and the router's unpacking round-trip through the real protobuf encoding of ShardResult, with
 * and without payloads and vectors (unaligned decode buffers included), and malformed results
 * are refused with a reason instead of being read wrongly.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MessageTypeDefinition } from '@grpc/proto-loader';
import { packHits, unpackHits, type PackableHit } from '../src/common/packed-hits.ts';
import { loadServicesPackageDefinition } from '../src/common/proto.ts';
import type { ShardResult, ShardResult__Output } from '../src/common/proto-gen/shardfleet/v1/ShardResult.ts';

const codec = loadServicesPackageDefinition()['shardfleet.v1.ShardResult'] as MessageTypeDefinition<ShardResult, ShardResult__Output>;

function wire(r: ShardResult): ShardResult__Output {
  return codec.deserialize(codec.serialize(r));
}

const hits: PackableHit[] = [
  { id: 'a', score: 0.1234567890123, payload_json: '{"x":1}', vector: Float32Array.from([1, 2, 3]) },
  { id: 'b', score: 2.5, payload_json: '', vector: Float32Array.from([-1, 0.5, 1e-7]) },
  { id: '17', score: -3, payload_json: '{"y":"z"}', vector: Float32Array.from([4, 5, 6]) },
];

describe('packed hits', () => {
  test('round trip with payloads and vectors: same ids, exact float64 scores, payloads, vector bytes', () => {
    const out = unpackHits(wire({ db_id: 3, query_index: 1, error: '', ...packHits(hits, true, true) }));
    assert.deepEqual(
      out.map((h) => [h.id, h.score, h.payload_json, [...new Float32Array(new Uint8Array(h.vector).buffer)]]),
      hits.map((h) => [h.id, h.score, h.payload_json, [...(h.vector as Float32Array)]]),
    );
  });

  test('without payloads and vectors nothing extra is sent and hits read empty payloads and vectors', () => {
    const packed = packHits(hits, false, false);
    assert.deepEqual(packed.payloads_json, []);
    assert.equal(packed.vectors.length, 0);
    const out = unpackHits(wire({ db_id: 0, ...packed }));
    assert.deepEqual(out.map((h) => [h.id, h.score, h.payload_json, h.vector.length]), hits.map((h) => [h.id, h.score, '', 0]));
    assert.deepEqual(unpackHits(wire({ db_id: 0, error: 'shard 0: broken' })), []);
  });

  test('vectors decoded from an unaligned buffer are copied out byte for byte', () => {
    const packed = packHits(hits, false, true);
    const shifted = Buffer.alloc(packed.vectors.length + 1);
    packed.vectors.copy(shifted, 1);
    const out = unpackHits({ ...packed, vectors: shifted.subarray(1) });
    assert.deepEqual([...new Float32Array(new Uint8Array(out[1].vector).buffer)], [...(hits[1].vector as Float32Array)]);
  });

  test('a hit without its stored vector cannot be packed with include_vector', () => {
    assert.throws(() => packHits([{ id: 'x', score: 1, payload_json: '' }], false, true), /hit x has no stored vector/);
    assert.throws(() => packHits([hits[0], { ...hits[1], vector: Float32Array.from([1]) }], false, true), /hit b has a vector of 1 dimensions, expected 3/);
  });

  test('malformed packed results are refused', () => {
    const ok = packHits(hits, true, true);
    assert.throws(() => unpackHits({ ...ok, scores: [1] }), /3 ids but 1 scores/);
    assert.throws(() => unpackHits({ ...ok, payloads_json: ['{}'] }), /3 ids but 1 payloads/);
    assert.throws(() => unpackHits({ ...ok, vectors: Buffer.alloc(10) }), /10 vector bytes for 3 ids/);
  });
});
