/** Collections for catalog tests: a small KV collection, publishing a staged run under a collection, waiting for them to be served. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ShardfleetClient } from '../../src/client/router-client.ts';
import type { ObjectStore } from '../../src/common/storage/object-store.ts';
import { buildSnapshot, type BuildResult } from '../../src/writer/build-snapshot.ts';
import { openJsonlSource } from '../../src/writer/input/jsonl-source.ts';
import { quietLogger } from './fixtures.ts';
import { waitFor } from './wait.ts';

/**
 * Builds a KV collection into `store`: keys `k0..k<keys-1>` with values `value-<i>` and 8-d
 * vectors, hash-sharded over 2 shards, sqlite-vec index plus a SQLite KV store. The JSONL input
 * is written to `<dirPath>/kv.jsonl`.
 */
export async function buildKvCollection(store: ObjectStore, dirPath: string, keys: number): Promise<BuildResult> {
  const jsonl = join(dirPath, 'kv.jsonl');
  const lines = Array.from({ length: keys }, (_, i) => JSON.stringify({ key: `k${i}`, value: `value-${i}`, vector: Array.from({ length: 8 }, (_, d) => Math.sin(i + d)) }));
  await writeFile(jsonl, lines.join('\n') + '\n');
  return buildSnapshot({
    store,
    source: await openJsonlSource({ path: jsonl }),
    sharding: { strategy: 'hash', numDbs: 2 },
    backend: { backend: 'sqlite-vec' },
    kv: { backend: 'sqlite' },
    metric: 'l2',
    progress: false,
    log: quietLogger(),
  });
}

/** Copies a staged snapshot's objects under `to`, `_CURRENT` last (how a writer publishes). */
export async function publishStaged(from: ObjectStore, to: ObjectStore): Promise<void> {
  for (const o of await from.list('')) if (o.key !== '_CURRENT') await to.put(o.key, await from.get(o.key, { maxBytes: o.size }));
  await to.put('_CURRENT', await from.get('_CURRENT'));
}

/**
 * Waits (up to 120 s) until the router behind `client` serves `count` collections, each with a
 * run and full coverage.
 * @throws Error from waitFor when they are not served in time.
 */
export async function waitForCollections(client: ShardfleetClient, count: number): Promise<void> {
  await waitFor(`${count} collections to be served`, async () => {
    const h = await client.health();
    return h.collections.length === count && h.collections.every((c) => c.run_id !== '' && c.coverage === 1);
  }, { timeoutMs: 120_000 });
}
