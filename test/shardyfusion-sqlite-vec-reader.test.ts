/**
 * shardyfusion's sqlite-vec shards read by src/formats/shardyfusion (issue 21), on the GENUINE
 * samples of test/fixtures/shardyfusion (shardyfusion's own writer wrote every shard.db; its own
 * reader recorded every answer in expected/<name>.json):
 *
 * - every shard of every sample opens, its row count equals the manifest's row_count, and its
 *   shard.db matches the MD5 ETag its shard.sidecar binds;
 * - for the 50 queries of each sample, every shard searched (top_k 10) and merged as shardyfusion
 *   merges (stable by score, shards in query order) equals `all_shards` (ids and order, ties at k
 *   excepted; l2 scores = expected^2, cosine equal; payloads equal), and shardfleet's own merge
 *   gives the same ids; the probed shards of `default` / `home_shard_only` give those answers;
 * - stored vectors (includeVector, fetchByIds) equal the t10k rows the samples were built from;
 * - fetchByIds finds ids 0, 50, ..., 1950 in exactly the shard `id_shards` names;
 * - KV (both unified samples): every `kv_get` key via canonical bytes -> storedKeyOf -> the kv
 *   table equals shardyfusion's answer (value or absence, stored key hex); `kv_key_errors` give
 *   clear errors; open-time checks fail with errors naming shard and file.
 *
 * Queries are t10k rows [9000, 9050) as float32/255: from test/fixtures/shardyfusion/
 * queries-t10k-9000-9050.u8 when present, else from the bundled examples/data t10k file (the same
 * bytes as ../shared/datasets/fashion-mnist).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';
import { InvalidQueryError, VectorIndexError } from '../src/common/errors.ts';
import type { Manifest, ShardEntry } from '../src/common/manifest.ts';
import { canonicalKeyBytes } from '../src/common/routing/key-hash-routing.ts';
import { mergeTopK } from '../src/common/topk-merge.ts';
import { EncodedKeyKvReader, keyEncodingProblem, storedKeyOf, type KvKeyType, type ShardyfusionKeyEncoding } from '../src/formats/shardyfusion/key-encoding.ts';
import { openShardyfusionShard, openShardyfusionShardWith, shardyfusionShardSpec, type ShardyfusionShardSpec } from '../src/formats/shardyfusion/open-shard.ts';
import { sidecarTag, verifyShardDbAgainstSidecar, type SidecarCheck } from '../src/formats/shardyfusion/sidecar-check.ts';
import { ShardyfusionSqliteVecReader, parseVec0Declaration } from '../src/formats/shardyfusion/sqlite-vec-shard-reader.ts';
import { decodeIdMapValue } from '../src/formats/shardyfusion/vector-id.ts';
import type { ShardHit, ShardIndexReader } from '../src/shard-node/shard-index-reader.ts';
import { readIdxImages } from '../src/writer/input/idx-source.ts';
import { FASHION_IMAGES, FASHION_LABELS, tempDir } from './helpers/fixtures.ts';
import {
  SHARDYFUSION_FIXTURES,
  SHARDYFUSION_SAMPLES,
  expectedSample,
  unpackShardyfusionSamples,
  type ExpectedAnswer,
  type ExpectedSample,
  type ShardyfusionSample,
  type UnpackedSamples,
} from './helpers/shardyfusion-samples.ts';

const DIM = 784;
const TOP_K = 10;
const QUERY_ROW0 = 9000;
const NUM_QUERIES = 50;
const QUERIES_U8 = join(SHARDYFUSION_FIXTURES, 'queries-t10k-9000-9050.u8');

/** t10k rows [9000, 9050) as float32/255, from the committed .u8 file or the bundled IDX file. */
async function loadQueries(): Promise<Float32Array[] | string> {
  let bytes: Uint8Array;
  if (existsSync(QUERIES_U8)) {
    bytes = readFileSync(QUERIES_U8);
    if (bytes.length !== NUM_QUERIES * DIM) return `${QUERIES_U8} has ${bytes.length} bytes, expected ${NUM_QUERIES * DIM}`;
  } else if (existsSync(FASHION_IMAGES)) {
    const idx = await readIdxImages(FASHION_IMAGES, { start: QUERY_ROW0, limit: NUM_QUERIES });
    bytes = Uint8Array.from(idx.vectors);
  } else {
    return `neither ${QUERIES_U8} nor ${FASHION_IMAGES} exists`;
  }
  return Array.from({ length: NUM_QUERIES }, (_, q) => Float32Array.from(bytes.subarray(q * DIM, (q + 1) * DIM), (x) => x / 255));
}

/** One opened sample: its expected answers and a reader per shard db_id (undefined: empty shard). */
interface OpenSample {
  name: ShardyfusionSample;
  expected: ExpectedSample;
  spec: ShardyfusionShardSpec;
  dirs: Map<number, string>;
  readers: Array<ShardIndexReader | undefined>;
  checks: Map<number, SidecarCheck>;
}

interface Winner {
  db_id: number;
  db_url: string;
  row_count: number;
}

function winnersOf(expected: ExpectedSample): Winner[] {
  return (expected as unknown as { write_result: { winners: Winner[] } }).write_result.winners;
}

function isUnified(expected: ExpectedSample): boolean {
  return expected.kv_get !== undefined;
}

/** The key type shardfleet's translation gives a unified sample (utf8 str keys / u64be int keys). */
function keyTypeOf(encoding: ShardyfusionKeyEncoding): KvKeyType {
  return encoding === 'u64be' || encoding === 'u32be' ? 'int' : 'string';
}

/** The local folder of a shard: `db_url` (s3://sfkit/<name>/...) under the unpacked bucket. */
function shardDir(samples: UnpackedSamples, dbUrl: string): string {
  const m = /^s3:\/\/sfkit\/(.+)$/.exec(dbUrl);
  assert.ok(m, dbUrl);
  return join(samples.bucketDir, m[1]!);
}

/** Canonical key bytes of a recorded key (int keys from `key_str`: 2^63-1 does not survive JSON.parse). */
function canonicalOf(keyStr: string, keyType: KvKeyType): Uint8Array {
  return canonicalKeyBytes(keyType === 'int' ? BigInt(keyStr) : keyStr);
}

/** shardyfusion's merge: all hits in query order, stable-sorted by score, first k (vector/_merge.py:18-35). */
function shardyfusionMerge(lists: ShardHit[][], k: number): ShardHit[] {
  return lists.flat().sort((a, b) => a.score - b.score).slice(0, k);
}

/** Asserts `got` equals shardyfusion's answer (ties at k excepted; scores converted). */
function assertAnswer(got: ShardHit[], want: ExpectedAnswer, metric: string, what: string): void {
  assert.equal(got.length, want.results.length, `${what}: hit count`);
  const kth = want.results.at(-1)?.score;
  const tiedIds = new Set([...want.results.filter((r) => r.score === kth).map((r) => String(r.id)), ...want.ties_at_k.map(String)]);
  want.results.forEach((r, i) => {
    const hit = got[i]!;
    if (r.score === kth && tiedIds.size > 1) {
      assert.ok(tiedIds.has(hit.id), `${what}: hit ${i} ${hit.id} is not one of the ids tied at k`);
      return;
    }
    assert.equal(hit.id, String(r.id), `${what}: hit ${i}`);
    if (metric === 'l2') {
      const squared = r.score * r.score;
      assert.ok(Math.abs(hit.score - squared) <= 1e-5 * Math.max(squared, 1e-12), `${what}: hit ${i} score ${hit.score} vs ${r.score}^2 = ${squared}`);
    } else {
      assert.ok(Math.abs(hit.score - r.score) <= 1e-6, `${what}: hit ${i} score ${hit.score} vs ${r.score}`);
    }
    assert.deepEqual(JSON.parse(hit.payload_json), r.payload, `${what}: hit ${i} payload`);
  });
}

/** The t10k row of a sample's vector id (`1030` or `"fm-01030"`). */
function rowOfId(id: string): number {
  return Number(id.startsWith('fm-') ? id.slice(3) : id);
}

let samples: UnpackedSamples;
let queries: Float32Array[] | string;
let base: { vectors: Float32Array; labels: Uint8Array };
const opened = new Map<ShardyfusionSample, OpenSample>();

/** The stored float32 vector of t10k row `row` (float32(x) / 255, as the samples were written). */
function baseVector(row: number): Float32Array {
  return Float32Array.from(base.vectors.subarray(row * DIM, (row + 1) * DIM), (x) => x / 255);
}

before(async () => {
  samples = unpackShardyfusionSamples();
  queries = await loadQueries();
  const idx = await readIdxImages(FASHION_IMAGES, { labelsPath: FASHION_LABELS, limit: 2000 });
  base = { vectors: idx.vectors, labels: idx.labels! };
  for (const name of SHARDYFUSION_SAMPLES) {
    const expected = expectedSample(name);
    const config = expected.config as { num_dbs: number; metric: 'l2' | 'cosine'; key_encoding?: ShardyfusionKeyEncoding };
    const readers: Array<ShardIndexReader | undefined> = new Array(config.num_dbs).fill(undefined);
    const dirs = new Map<number, string>();
    const checks = new Map<number, SidecarCheck>();
    const spec: ShardyfusionShardSpec = { backend: 'sqlite-vec', dim: DIM, metric: config.metric };
    if (isUnified(expected)) spec.kv = { backend: 'sqlite', keyType: keyTypeOf(config.key_encoding!), keyEncoding: config.key_encoding! };
    for (const w of winnersOf(expected)) {
      const dir = shardDir(samples, w.db_url);
      dirs.set(w.db_id, dir);
      readers[w.db_id] = await openShardyfusionShardWith({ ...spec, rowCount: w.row_count }, w.db_id, dir, (c) => checks.set(w.db_id, c));
    }
    opened.set(name, { name, expected, spec, dirs, readers, checks });
  }
});

after(() => {
  for (const s of opened.values()) for (const r of s.readers) r?.close();
  samples?.remove();
});

describe('shardyfusion sqlite-vec shards (genuine samples)', () => {
  test('every shard of every sample opens; row counts equal the manifest; shard.db matches its sidecar ETag', () => {
    for (const s of opened.values()) {
      const winners = winnersOf(s.expected);
      assert.ok(winners.length > 0, s.name);
      for (const w of winners) {
        const reader = s.readers[w.db_id];
        assert.ok(reader, `${s.name} shard ${w.db_id}`);
        assert.equal(reader.dbId, w.db_id);
        const index = ShardyfusionSqliteVecReader.open(s.dirs.get(w.db_id)!, w.db_id, { dim: DIM, metric: s.spec.metric });
        assert.equal(index.rowCount, w.row_count, `${s.name} shard ${w.db_id}`);
        assert.equal(index.dim, DIM);
        index.close();
        index.close(); // idempotent
        assert.equal(isUnified(s.expected), reader.kv !== undefined, `${s.name}: kv present only for unified samples`);
        const check = s.checks.get(w.db_id);
        assert.equal(check?.status, 'verified', `${s.name} shard ${w.db_id}: ${JSON.stringify(check)}`);
      }
      // Rows of all shards = the 2000 vectors written.
      assert.equal(winners.reduce((n, w) => n + w.row_count, 0), 2000, s.name);
    }
  });

  test('search over all shards, merged, equals shardyfusion all_shards for the 50 queries of every sample', async (t) => {
    if (typeof queries === 'string') return t.skip(queries);
    const qs = queries;
    for (const s of opened.values()) {
      const metric = s.spec.metric;
      assert.equal(s.expected.queries.length, NUM_QUERIES);
      for (const q of s.expected.queries) {
        assert.equal(q.t10k_row, QUERY_ROW0 + q.query_index);
        const query = qs[q.query_index]!;
        // shard_ids=[0..n-1]: every shard in db_id order (an empty one answers nothing).
        const lists = await Promise.all(s.readers.map((r) => r?.search(query, TOP_K, true, {}) ?? Promise.resolve([])));
        for (const list of lists) for (let i = 1; i < list.length; i++) assert.ok(list[i - 1]!.score <= list[i]!.score, `${s.name} q${q.query_index}: a shard's hits are ordered by distance`);
        const merged = shardyfusionMerge(lists, TOP_K);
        assertAnswer(merged, q.all_shards, metric, `${s.name} q${q.query_index} all_shards`);
        // shardfleet's router merge (ties by id) gives the same list: the samples have no ties.
        assert.deepEqual(mergeTopK(lists, TOP_K).map((h) => h.id), merged.map((h) => h.id), `${s.name} q${q.query_index}: mergeTopK`);
        // The probed shards of the recorded default / home-shard answers give those answers.
        const probed = q.route_default_probes ?? (q.home_shard !== undefined ? [q.home_shard] : undefined);
        const probedAnswer = q.route_default_probes ? q.default : q.home_shard_only;
        if (probed && probedAnswer) {
          const plists = await Promise.all(probed.map((db) => s.readers[db]?.search(query, TOP_K, true, {}) ?? Promise.resolve([])));
          assertAnswer(shardyfusionMerge(plists, TOP_K), probedAnswer, metric, `${s.name} q${q.query_index} probed ${probed.join(',')}`);
        } else if (isUnified(s.expected)) {
          assertAnswer(merged, q.default!, metric, `${s.name} q${q.query_index} default`);
        }
      }
    }
  });

  test('includeVector returns the stored float32 vector; includePayload false gives ""', async (t) => {
    if (typeof queries === 'string') return t.skip(queries);
    for (const s of opened.values()) {
      const reader = s.readers.find((r) => r !== undefined)!;
      const hits = await reader.search(queries[0]!, 5, false, { includeVector: true, nprobes: 3, ef: 7, refineFactor: 2 });
      assert.equal(hits.length, 5);
      for (const h of hits) {
        assert.equal(h.payload_json, '');
        assert.deepEqual(h.vector, baseVector(rowOfId(h.id)), `${s.name}: vector of ${h.id}`);
      }
      const plain = await reader.search(queries[0]!, 5, true, {});
      assert.equal(Object.hasOwn(plain[0]!, 'vector'), false);
      assert.deepEqual((await reader.search(queries[0]!, 0, true, {})), []);
    }
    // A zero cosine query: vec0's NaN distances score 1 (shardyfusion would return NaN).
    const zero = await opened.get('fm-lsh-cosine')!.readers[0]!.search(new Float32Array(DIM), 7, true, {});
    assert.equal(zero.length, 7);
    for (const h of zero) assert.equal(h.score, 1);
  });

  test('a filter, a wrong-length or non-finite query are refused with InvalidQueryError naming the shard', async (t) => {
    if (typeof queries === 'string') return t.skip(queries);
    const reader = opened.get('fm-cluster-l2')!.readers[0]!;
    await assert.rejects(reader.search(queries[0]!, 10, true, { filter: { op: 'in', column: 'label', values: [3] } }), (err: unknown) => {
      assert.ok(err instanceof InvalidQueryError);
      assert.match(err.message, /shard 0: filters are not supported on shardyfusion snapshots: shardyfusion declares no filter columns/);
      return true;
    });
    await assert.rejects(reader.search(new Float32Array(783), 10, true, {}), (err: unknown) => err instanceof InvalidQueryError && /shard 0: query has 783 values/.test(err.message));
    const bad = queries[0]!.slice();
    bad[5] = Number.NaN;
    await assert.rejects(reader.search(bad, 10, true, {}), (err: unknown) => err instanceof InvalidQueryError && /query value 5 is NaN/.test(err.message));
  });

  test('fetchByIds finds ids 0, 50, ..., 1950 in exactly the shard id_shards names, with payload and vector', async () => {
    for (const s of opened.values()) {
      const home = new Map(s.expected.id_shards.map(([id, db]) => [String(id), db]));
      const strIds = typeof s.expected.id_shards[0]![0] === 'string';
      const ids = Array.from({ length: 40 }, (_, i) => (strIds ? `fm-${String(i * 50).padStart(5, '0')}` : String(i * 50)));
      const absent = strIds ? ['fm-02000', 'fm-42', '0', ''] : ['2000', '-1', 'fm-00000', ''];
      for (const [db, reader] of s.readers.entries()) {
        if (reader === undefined) continue;
        const rows = await reader.fetchByIds([...ids, ...absent, ids[0]!], true, true);
        ids.forEach((id, i) => {
          const row = rows[i];
          if (home.get(id) !== db) {
            assert.equal(row, undefined, `${s.name}: ${id} is not in shard ${db}`);
            return;
          }
          assert.ok(row, `${s.name}: ${id} is in shard ${db}`);
          assert.deepEqual(JSON.parse(row.payload_json), { label: base.labels[rowOfId(id)] }, `${s.name}: payload of ${id}`);
          assert.deepEqual(row.vector, baseVector(rowOfId(id)), `${s.name}: vector of ${id}`);
        });
        for (let i = 0; i < absent.length; i++) assert.equal(rows[ids.length + i], undefined, `${s.name}: ${absent[i]} absent`);
        // A repeated id gets its own copy.
        const first = rows[0];
        const again = rows.at(-1);
        assert.deepEqual(first, again);
        if (first !== undefined) assert.notEqual(first.vector, again!.vector);
        const bare = await reader.fetchByIds(ids, false, false);
        for (const row of bare) if (row) assert.deepEqual(row, { payload_json: '' });
      }
      // Every one of the 40 ids is found somewhere.
      for (const id of ids) assert.ok(home.has(id), `${s.name}: ${id} in id_shards`);
    }
  });

  test('KV: every kv_get key of both unified samples via canonical bytes -> storedKeyOf -> kv table equals shardyfusion', async () => {
    for (const name of ['fm-unified-utf8-cosine', 'fm-unified-u64be-l2'] as const) {
      const s = opened.get(name)!;
      const { keyType, keyEncoding } = s.spec.kv!;
      const gets = s.expected.kv_get!;
      assert.equal(gets.length, 43);
      for (const g of gets) {
        const canonical = canonicalOf(g.key_str, keyType);
        assert.equal(keyEncodingProblem(canonical, keyType, keyEncoding), undefined, `${name} ${g.key_str}`);
        assert.equal(storedKeyOf(canonical, keyType, keyEncoding).toString('hex'), g.stored_key_hex, `${name} ${g.key_str}: stored key`);
        for (const [db, reader] of s.readers.entries()) {
          if (reader === undefined) continue;
          const [value] = await reader.kv!.getMany([canonical]);
          if (db === g.shard && g.present) {
            assert.ok(value, `${name} ${g.key_str} in shard ${db}`);
            assert.equal(Buffer.from(value).toString('utf8'), g.value, `${name} ${g.key_str}: value`);
          } else {
            assert.equal(value, undefined, `${name} ${g.key_str} not in shard ${db}`);
          }
        }
      }
      // kv_multi_get: one getMany per shard over the keys routed to it, in order.
      const multi = s.expected.kv_multi_get!;
      const byShard = new Map<number, number[]>();
      gets.forEach((g, i) => byShard.set(g.shard, [...(byShard.get(g.shard) ?? []), i]));
      for (const [db, idxs] of byShard) {
        const values = await s.readers[db]!.kv!.getMany(idxs.map((i) => canonicalOf(gets[i]!.key_str, keyType)));
        idxs.forEach((i, j) => assert.equal(values[j] === undefined ? null : Buffer.from(values[j]!).toString('utf8'), multi[i]![1], `${name} multi_get ${gets[i]!.key_str}`));
      }
    }
  });

  test('KV: kv_key_errors give clear errors naming the key and the encoding', async () => {
    const u64 = opened.get('fm-unified-u64be-l2')!;
    const errors = u64.expected.kv_key_errors as Array<{ key_str: string; get: { error: string; message: string } }>;
    const minusOne = errors.find((e) => e.key_str === '-1')!;
    const canonical = canonicalKeyBytes(-1n);
    const problem = keyEncodingProblem(canonical, 'int', 'u64be');
    assert.ok(problem);
    assert.match(problem, /^key -1: the snapshot stores int keys as u64be \(unsigned 64-bit big-endian\); negative keys cannot exist/);
    assert.ok(problem.includes(minusOne.get.message), `${problem} quotes shardyfusion's ${minusOne.get.message}`);
    assert.throws(() => storedKeyOf(canonical, 'int', 'u64be'), (err: unknown) => err instanceof InvalidQueryError && err.message === problem);
    const shard = u64.readers[0]!;
    await assert.rejects(shard.kv!.getMany([canonicalKeyBytes(5n), canonical]), (err: unknown) => {
      assert.ok(err instanceof InvalidQueryError);
      assert.match(err.message, /^shard 0 kv table \(.*shard\.db\): key -1: the snapshot stores int keys as u64be/);
      return true;
    });
    // 2^63: shardyfusion's int64 hash range error; shardfleet's canonical bytes refuse it first.
    const big = errors.find((e) => e.key_str === '9223372036854775808')!;
    assert.equal(big.get.error, 'ValueError');
    assert.throws(() => canonicalKeyBytes(2n ** 63n), /outside the signed 64-bit range/);
    // An int key on the utf8 snapshot.
    const utf8 = opened.get('fm-unified-utf8-cosine')!;
    const intOnUtf8 = (utf8.expected.kv_key_errors as Array<{ key_str: string; get: { error: string; message: string } }>)[0]!;
    assert.equal(intOnUtf8.get.error, 'ConfigValidationError');
    const p2 = keyEncodingProblem(canonicalKeyBytes(BigInt(intOnUtf8.key_str)), 'int', 'utf8');
    assert.ok(p2 !== undefined && p2.startsWith('key 42: the snapshot\'s key_encoding is utf8, which stores str or bytes keys; an int key cannot exist'), p2);
    assert.ok(p2.includes(intOnUtf8.get.message), `${p2} quotes ${intOnUtf8.get.message}`);
  });
});

describe('shardyfusion key encodings (serde.py / routing.py rules)', () => {
  const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
  test('int keys: u64be big-endian unsigned, u32be 4 bytes; str / bytes keys unchanged under utf8 / raw', () => {
    assert.equal(hex(storedKeyOf(canonicalKeyBytes(2n ** 63n - 1n), 'int', 'u64be')), '7fffffffffffffff');
    assert.equal(hex(storedKeyOf(canonicalKeyBytes(258), 'int', 'u64be')), '0000000000000102');
    assert.equal(hex(storedKeyOf(canonicalKeyBytes(258), 'int', 'u32be')), '00000102');
    assert.equal(hex(storedKeyOf(canonicalKeyBytes('fm-é'), 'string', 'utf8')), hex(Buffer.from('fm-é')));
    assert.equal(hex(storedKeyOf(canonicalKeyBytes('k'), 'string', 'raw')), '6b');
    assert.equal(hex(storedKeyOf(Uint8Array.of(0, 255), 'bytes', 'raw')), '00ff');
    assert.equal(hex(storedKeyOf(Uint8Array.of(0, 255), 'bytes', 'utf8')), '00ff');
    // An 8-byte bytes key is the stored u64be form itself (routing.py:362-365).
    assert.equal(hex(storedKeyOf(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), 'bytes', 'u64be')), '0102030405060708');
  });
  test('keys that cannot exist: clear InvalidQueryError messages', () => {
    const cases: Array<[Uint8Array, KvKeyType, ShardyfusionKeyEncoding, RegExp]> = [
      [canonicalKeyBytes(2n ** 32n), 'int', 'u32be', /^key 4294967296: the snapshot stores int keys as u32be .*keys above 4294967295 cannot exist/],
      [canonicalKeyBytes(-5n), 'int', 'u32be', /^key -5: .*negative keys cannot exist/],
      [canonicalKeyBytes('abc'), 'string', 'u64be', /^key "abc": the snapshot stores int keys as u64be .*a string key cannot exist/],
      [Uint8Array.of(1, 2), 'bytes', 'u64be', /^key 0x0102: .*a bytes key must be the 8-byte stored form, got 2 bytes/],
      [canonicalKeyBytes(7n), 'int', 'raw', /^key 7: the snapshot's key_encoding is raw, .*got <class 'int'>/],
      [Uint8Array.of(1, 2, 3), 'int', 'u64be', /^key 0x010203: an int key's canonical form has 8 bytes, got 3$/],
    ];
    for (const [key, type, enc, re] of cases) {
      assert.match(keyEncodingProblem(key, type, enc) ?? '', re);
      assert.throws(() => storedKeyOf(key, type, enc), (err: unknown) => err instanceof InvalidQueryError && re.test(err.message));
    }
  });
  test('EncodedKeyKvReader encodes before the lookup and closes the inner store', async () => {
    const seen: string[] = [];
    let closed = 0;
    const inner = {
      getMany: async (keys: readonly Uint8Array[]) => keys.map((k) => (seen.push(hex(k)), undefined)),
      close: async () => void closed++,
    };
    const kv = new EncodedKeyKvReader(inner, 'int', 'u64be', 'shard 9 kv table (x)');
    await kv.getMany([canonicalKeyBytes(1n), canonicalKeyBytes(256n)]);
    assert.deepEqual(seen, ['0000000000000001', '0000000000000100']);
    await kv.close();
    assert.equal(closed, 1);
  });
});

describe('shardyfusion shard.db format details', () => {
  test('vec_id_map values decode as shardyfusion decodes them (int ids as decimal text, exact)', () => {
    assert.equal(decodeIdMapValue('{"v": 1030, "t": "int"}'), '1030');
    assert.equal(decodeIdMapValue('{"v": "fm-01030", "t": "str"}'), 'fm-01030');
    assert.equal(decodeIdMapValue('{"v": "1030", "t": "str"}'), '1030');
    assert.equal(decodeIdMapValue('{"v": 123456789012345678901234567890, "t": "int"}'), '123456789012345678901234567890');
    assert.equal(decodeIdMapValue('{"v": "caf\\u00e9 \\"x\\"", "t": "str"}'), 'café "x"');
    assert.equal(decodeIdMapValue('{"v": -0, "t": "int"}'), '0');
    assert.throws(() => decodeIdMapValue('not json'), /is not JSON/);
    assert.throws(() => decodeIdMapValue('{"v": 1.5, "t": "str"}'), /float/);
    assert.throws(() => decodeIdMapValue('{"id": 1}'), /not a \{"v", "t"\} object/);
  });
  test('vec0 declarations parse (dim, metric, default l2)', () => {
    assert.deepEqual(parseVec0Declaration('CREATE VIRTUAL TABLE vec_index USING vec0(embedding float[784] distance_metric=cosine)'), { type: 'float', dim: 784, metric: 'cosine' });
    assert.deepEqual(parseVec0Declaration('CREATE VIRTUAL TABLE vec_index USING vec0(embedding float[3])'), { type: 'float', dim: 3, metric: 'l2' });
    assert.equal(parseVec0Declaration('CREATE TABLE vec_index (x)'), undefined);
  });

  test('a shard written as shardyfusion writes it, with mixed int / str ids: ids decode, "1030" finds the int 1030 first', async () => {
    const tmp = await tempDir('sf-sqlite-ids-');
    try {
      // The DDL and inserts of shardyfusion's SqliteVecAdapter (sqlite_vec_adapter.py:266-299, 354-390).
      const db = new Database(join(tmp.path, 'shard.db'));
      sqliteVec.load(db);
      db.exec(`CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;
        CREATE VIRTUAL TABLE vec_index USING vec0(embedding float[4] distance_metric=l2);
        CREATE TABLE vec_payloads (rowid INTEGER PRIMARY KEY, payload TEXT NOT NULL);
        CREATE TABLE vec_id_map (internal_id INTEGER PRIMARY KEY, original_id TEXT NOT NULL);`);
      const rows: Array<[string, number[], string | null]> = [
        ['{"v": 1030, "t": "int"}', [1, 0, 0, 0], '{"label": 1}'],
        ['{"v": "1030", "t": "str"}', [2, 0, 0, 0], '{"label": 2}'],
        ['{"v": 1152921504606846977, "t": "int"}', [3, 0, 0, 0], '{"label": 3}'],
        ['{"v": "caf\\u00e9", "t": "str"}', [4, 0, 0, 0], null],
      ];
      rows.forEach(([id, v, payload], i) => {
        db.prepare('INSERT INTO vec_id_map (internal_id, original_id) VALUES (?, ?)').run(i, id);
        db.prepare('INSERT INTO vec_index (rowid, embedding) VALUES (?, ?)').run(BigInt(i), Buffer.from(Float32Array.from(v).buffer));
        if (payload !== null) db.prepare('INSERT INTO vec_payloads (rowid, payload) VALUES (?, ?)').run(i, payload);
      });
      // A vec0 row without an id map row keeps its rowid as the id (sqlite_vec_adapter.py:867).
      db.prepare('INSERT INTO vec_index (rowid, embedding) VALUES (?, ?)').run(4n, Buffer.from(Float32Array.of(5, 0, 0, 0).buffer));
      db.close();
      const reader = ShardyfusionSqliteVecReader.open(tmp.path, 0, { dim: 4, metric: 'l2', rowCount: 4 });
      try {
        const hits = reader.searchSync(Float32Array.of(0, 0, 0, 0), 10, true, {});
        assert.deepEqual(
          hits.map((h) => [h.id, h.score, h.payload_json]),
          [['1030', 1, '{"label": 1}'], ['1030', 4, '{"label": 2}'], ['1152921504606846977', 9, '{"label": 3}'], ['café', 16, ''], ['4', 25, '']],
        );
        const found = reader.fetchByIdsSync(['1030', '1152921504606846977', 'café', '4', '1030.0'], true, true);
        assert.deepEqual(found[0], { payload_json: '{"label": 1}', vector: Float32Array.of(1, 0, 0, 0) });
        assert.deepEqual(found[1], { payload_json: '{"label": 3}', vector: Float32Array.of(3, 0, 0, 0) });
        assert.deepEqual(found[2], { payload_json: '', vector: Float32Array.of(4, 0, 0, 0) });
        assert.equal(found[3], undefined); // unmapped rows are not looked up by id
        assert.equal(found[4], undefined);
      } finally {
        reader.close();
      }
      await assert.rejects(reader.fetchByIds(['1030'], true, false), (err: unknown) => err instanceof VectorIndexError && /after the shard was closed/.test(err.message));
      // A malformed id fails the search naming the shard, file and row.
      const db2 = new Database(join(tmp.path, 'shard.db'));
      db2.prepare('UPDATE vec_id_map SET original_id = ? WHERE internal_id = 2').run('{"v": [3], "t": "int"}');
      db2.close();
      const bad = ShardyfusionSqliteVecReader.open(tmp.path, 5, { dim: 4, metric: 'l2' });
      try {
        assert.throws(() => bad.searchSync(Float32Array.of(0, 0, 0, 0), 10, true, {}), (err: unknown) => err instanceof VectorIndexError && err.message.startsWith(`shard 5 (${join(tmp.path, 'shard.db')}): search failed: vec_id_map row 2: original_id`));
      } finally {
        bad.close();
      }
    } finally {
      await tmp.remove();
    }
  });

  test('open-time checks: dim, metric, row count, missing table, missing file, sidecar mismatch, LanceDB', async () => {
    const s = opened.get('fm-cluster-l2')!;
    const dir = s.dirs.get(1)!;
    const rowCount = winnersOf(s.expected).find((w) => w.db_id === 1)!.row_count;
    const opens = (spec: Partial<ShardyfusionShardSpec>, d = dir) => openShardyfusionShardWith({ backend: 'sqlite-vec', dim: DIM, metric: 'l2', rowCount, ...spec }, 1, d);
    const named = (re: RegExp, d = dir) => (err: unknown) => err instanceof VectorIndexError && err.message.startsWith(`shard 1 (${join(d, 'shard.db')})`) && re.test(err.message);
    await assert.rejects(opens({ dim: 512 }), named(/vec_index holds 784-dimensional vectors, the manifest says dim 512/));
    await assert.rejects(opens({ metric: 'cosine' }), named(/distance_metric=l2, the manifest says metric cosine/));
    await assert.rejects(opens({ metric: 'dot' }), named(/metric is dot/));
    await assert.rejects(opens({ rowCount: rowCount + 1 }), named(new RegExp(`vec_id_map holds ${rowCount} rows, the manifest's row_count is ${rowCount + 1}`)));
    await assert.rejects(opens({ backend: 'lancedb' }), (err: unknown) => err instanceof VectorIndexError && /cannot open LanceDB table/.test(err.message));
    const tmp = await tempDir('sf-sqlite-');
    try {
      // A copy without vec_payloads (and without the sidecar, whose tag no longer matches).
      const broken = join(tmp.path, 'broken');
      mkdirSync(broken);
      copyFileSync(join(dir, 'shard.db'), join(broken, 'shard.db'));
      const db = new Database(join(broken, 'shard.db'));
      sqliteVec.load(db);
      db.exec('DROP TABLE vec_payloads');
      db.close();
      await assert.rejects(opens({}, broken), named(/the file has no vec_payloads table/, broken));
      const empty = join(tmp.path, 'empty');
      mkdirSync(empty);
      await assert.rejects(opens({}, empty), named(/cannot open/, empty));
      // One flipped byte in shard.db: its MD5 no longer matches the sidecar's ETag.
      const flipped = join(tmp.path, 'flipped');
      mkdirSync(flipped);
      copyFileSync(join(dir, 'shard.sidecar'), join(flipped, 'shard.sidecar'));
      const bytes = readFileSync(join(dir, 'shard.db'));
      bytes[bytes.length - 100] ^= 0xff;
      writeFileSync(join(flipped, 'shard.db'), bytes);
      await assert.rejects(opens({}, flipped), named(/the file's MD5 is [0-9a-f]{32}, but .*shard\.sidecar binds the ETag "[0-9a-f]{32}".*not the one shardyfusion wrote/, flipped));
      assert.deepEqual(await verifyShardDbAgainstSidecar(broken, 1), { status: 'no-sidecar' });
      // Without the check the flipped copy opens (the byte is in unused vec0 chunk space).
      const r = await opens({ verifySidecar: false }, flipped);
      r.close();
    } finally {
      await tmp.remove();
    }
    const prefix = readFileSync(join(dir, 'shard.sidecar')).subarray(0, 60);
    const tag = sidecarTag(prefix);
    assert.ok('tag' in tag && /^"[0-9a-f]{32}"$/.test(tag.tag ?? ''));
    assert.deepEqual(sidecarTag(Buffer.from('SQLite format 3\0\0\0\0')), { problem: 'the file does not start with the SQPC magic' });
  });

  test('openShardyfusionShard reads the translated manifest (kv.key_encoding) and wraps unified shards', async () => {
    const s = opened.get('fm-unified-u64be-l2')!;
    const w = winnersOf(s.expected)[1]!;
    const entry = { db_id: w.db_id, url: 'shards/x/', files: [], vector_count: w.row_count, checkpoint_id: 'c', index_type: 'flat', kv_entries: w.row_count } satisfies ShardEntry;
    const manifest = {
      index: { dim: DIM, metric: 'l2', backend: 'sqlite-vec', index_type: 'flat', index_params: {} },
      kv: { backend: 'sqlite', key_type: 'int', key_encoding: 'u64be' },
    } as unknown as Manifest;
    assert.deepEqual(shardyfusionShardSpec(manifest, entry), { backend: 'sqlite-vec', dim: DIM, metric: 'l2', rowCount: w.row_count, shardUrl: 'shards/x/', kv: { backend: 'sqlite', keyType: 'int', keyEncoding: 'u64be' } });
    const reader = await openShardyfusionShard(manifest, entry, s.dirs.get(w.db_id)!);
    try {
      const present = s.expected.kv_get!.find((g) => g.present && g.shard === w.db_id)!;
      const [value] = await reader.kv!.getMany([canonicalKeyBytes(BigInt(present.key_str))]);
      assert.equal(Buffer.from(value!).toString('utf8'), present.value);
    } finally {
      reader.close();
    }
    const noEncoding = { ...manifest, kv: { backend: 'sqlite', key_type: 'int' } } as Manifest;
    assert.throws(() => shardyfusionShardSpec(noEncoding, entry), (err: unknown) => err instanceof VectorIndexError && /kv\.key_encoding is undefined/.test(err.message));
    const vectorOnly = { ...manifest, kv: undefined } as Manifest;
    assert.equal(shardyfusionShardSpec(vectorOnly, entry).kv, undefined);
  });
});
