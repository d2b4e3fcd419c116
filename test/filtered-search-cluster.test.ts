/**
 * Filtered search through real processes (issue 15), for every backend (usearch, LanceDB,
 * sqlite-vec): Fashion-MNIST records with filter columns label:int, label_name:string,
 * price:float (some NULL) and on_sale:bool, a cluster-sharded snapshot, a router and 2 shard
 * nodes. For filters of about 1%, 10% and 50% selectivity and with OR / NOT / IN: every hit
 * matches, top_k hits come back whenever the probed shards hold at least top_k matches (else all
 * of them), recall@10 against the exact filtered top-10 over the probed shards; filters no shard
 * can match skip every shard (Route says why); bad filters are INVALID_ARGUMENT naming the
 * column and offset.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ShardfleetClient } from '../src/client/router-client.ts';
import type { LocalCluster } from '../src/cli/local-cluster.ts';
import { squaredL2 } from '../src/common/distance.ts';
import { matchesFilter, type FilterRow } from '../src/common/filter/filter-expr.ts';
import { compileFilter } from '../src/common/filter/cel-filter.ts';
import { loadShardRouting } from '../src/common/routing/load-routing.ts';
import { openObjectStore } from '../src/common/storage/open-object-store.ts';
import type { ObjectStore } from '../src/common/storage/object-store.ts';
import { buildSnapshot } from '../src/writer/build-snapshot.ts';
import type { BackendOptions } from '../src/writer/build-options.ts';
import { openIdxSource } from '../src/writer/input/idx-source.ts';
import { openJsonlSource } from '../src/writer/input/jsonl-source.ts';
import { FASHION_IMAGES, FASHION_LABELS, quietLogger, tempDir } from './helpers/fixtures.ts';
import { isGrpcStatus } from './helpers/grpc-assert.ts';
import { closeAll, serveStore } from './helpers/served-cluster.ts';

const N = 3000;
const NUM_DBS = 4;
const TOP_K = 10;
const COLUMNS = [
  { name: 'label', type: 'int' },
  { name: 'label_name', type: 'string' },
  { name: 'price', type: 'float' },
  { name: 'on_sale', type: 'bool' },
] as const;

interface Row {
  id: string;
  vector: Float32Array;
  payload: Record<string, unknown>;
  shard: number;
}

/** Filters of about 1%, 10% and 50% selectivity, and the OR / NOT / IN forms. */
const FILTERS = [
  'label == 3 && price < 10.0',
  'label_name == "Bag"',
  'price >= 50.0',
  'on_sale || label in [1, 2]',
  '!(label_name == "Shirt") && price != 12.5',
];

async function fashionRows(): Promise<Row[]> {
  const source = await openIdxSource({ imagesPath: FASHION_IMAGES, labelsPath: FASHION_LABELS, limit: N });
  const rows: Row[] = [];
  let i = 0;
  for await (const r of source.records()) {
    const price = i % 17 === 0 ? null : ((i * 37) % 1000) / 10;
    rows.push({ id: r.id, vector: r.vector, payload: { ...r.payload, price, on_sale: i % 7 === 0 }, shard: -1 });
    i++;
  }
  return rows;
}

const BACKENDS: Array<{ name: string; backend: BackendOptions; exact: boolean }> = [
  { name: 'usearch', backend: { backend: 'usearch' }, exact: false },
  { name: 'lancedb', backend: { backend: 'lancedb' }, exact: false },
  { name: 'sqlite-vec', backend: { backend: 'sqlite-vec' }, exact: true },
];

let rows: Row[];
let queries: Float32Array[];

before(async () => {
  rows = await fashionRows();
  const q = await openIdxSource({ imagesPath: FASHION_IMAGES, labelsPath: FASHION_LABELS, start: 9000, limit: 12 });
  queries = [];
  for await (const r of q.records()) queries.push(r.vector);
});

for (const b of BACKENDS) {
  describe(`filtered search through a router + 2 nodes: ${b.name}`, () => {
    let dir: Awaited<ReturnType<typeof tempDir>>;
    let store: ObjectStore;
    let cluster: LocalCluster;
    let client: ShardfleetClient;

    before(async () => {
      dir = await tempDir(`filtered-${b.name}`);
      const path = join(dir.path, 'input.jsonl');
      await writeFile(path, rows.map((r) => JSON.stringify({ id: r.id, vector: Array.from(r.vector), payload: r.payload })).join('\n') + '\n');
      store = openObjectStore(join(dir.path, 'store'));
      const built = await buildSnapshot({
        store,
        source: await openJsonlSource({ path }),
        sharding: { strategy: 'cluster', numDbs: NUM_DBS, numProbes: 2 },
        backend: b.backend,
        filterColumns: [...COLUMNS],
        metric: 'l2',
        seed: 7,
        progress: false,
        log: quietLogger(),
      });
      const routing = await loadShardRouting(store, built.manifest);
      for (const r of rows) r.shard = routing.assign({ id: r.id, vector: r.vector, location: r.id });
      ({ cluster, client } = await serveStore(join(dir.path, 'store'), dir.path));
    });
    after(() => closeAll({ client, cluster, store, dir }));

    test('SnapshotInfo lists the filter columns', async () => {
      const info = await client.snapshotInfo();
      assert.deepEqual(info.filter_columns, Object.fromEntries(COLUMNS.map((c) => [c.name, c.type])));
    });

    test('every hit matches; top_k hits whenever the probed shards hold them; recall@10 against the exact filtered top-10 of the probed shards', async () => {
      for (const text of FILTERS) {
        const expr = compileFilter(text, [...COLUMNS])!;
        const matching = rows.filter((r) => matchesFilter(expr, r.payload as FilterRow));
        let recallSum = 0;
        for (const q of queries) {
          const res = await client.search({ vector: Array.from(q), top_k: TOP_K, filter: text, include_payload: true });
          for (const h of res.results) assert.ok(matchesFilter(expr, JSON.parse(h.payload_json) as FilterRow), `${text}: hit ${h.id} ${h.payload_json} does not match`);
          const probed = new Set(res.shard_ids);
          const exact = matching
            .filter((r) => probed.has(r.shard))
            .map((r) => ({ id: r.id, d: squaredL2(q, 0, r.vector, 0, q.length) }))
            .sort((x, y) => x.d - y.d)
            .slice(0, TOP_K);
          assert.equal(res.results.length, exact.length, `${text}: ${res.results.length} hits, ${exact.length} matches in the probed shards (top ${TOP_K})`);
          const got = new Set(res.results.map((h) => h.id));
          recallSum += exact.length === 0 ? 1 : exact.filter((e) => got.has(e.id)).length / exact.length;
        }
        const recall = recallSum / queries.length;
        console.log(`# ${b.name}: filter ${JSON.stringify(text)} selectivity ${((100 * matching.length) / rows.length).toFixed(1)}%: recall@10 ${recall.toFixed(3)} vs exact filtered top-10 of the probed shards`);
        assert.ok(b.exact ? recall === 1 : recall >= 0.9, `${text}: recall@10 ${recall}`);
      }
    });

    test('a filter no shard can match skips every shard, and Route says why', async () => {
      const res = await client.search({ vector: Array.from(queries[0]), filter: 'label_name == "Spaceship"' });
      assert.deepEqual([res.results.length, res.num_shards_queried], [0, 0]);
      const route = await client.route({ vector: Array.from(queries[0]), filter: 'price > 5000.0' });
      assert.equal(route.shards.length, 0);
      assert.equal(route.skipped.length, NUM_DBS);
      assert.match(route.skipped[0].reason, /the filter cannot match \(price in \[/);
    });

    test('bad filters are INVALID_ARGUMENT naming the column or construct and its offset', async () => {
      const v = Array.from(queries[0]);
      await assert.rejects(client.search({ vector: v, filter: 'label == 3 && colour == "red"' }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, /unknown filter column "colour" .* at offset 14/));
      await assert.rejects(client.search({ vector: v, filter: 'label == "3"' }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, /column "label" is int but is compared with a string literal at offset 9/));
      await assert.rejects(client.search({ vector: v, filter: 'size(label_name) > 3' }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, /unsupported construct a function call/));
    });
  });
}
