/**
 * `build` balances CLUSTER shards by default (src/cli/build-command.ts): the manifest records the
 * default balance factor and one centroid offset per shard, the output reports the shard sizes,
 * and `--no-balanced` / `--balanced off` give plain nearest-centroid shards.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CURRENT_KEY, parseCurrentPointer, parseManifest, type Manifest } from '../src/common/manifest.ts';
import { openObjectStore } from '../src/common/storage/open-object-store.ts';
import { DEFAULT_BALANCE_FACTOR } from '../src/writer/balance-defaults.ts';
import { FASHION_IMAGES, tempDir } from './helpers/fixtures.ts';
import { runCli } from './helpers/run-cli.ts';

describe('build --balanced', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    dir = await tempDir('cli-balanced');
  });
  after(async () => {
    await dir.remove();
  });

  async function build(name: string, extra: string[]): Promise<{ manifest: Manifest; stdout: string }> {
    const storePath = join(dir.path, name);
    const out = await runCli(['build', '--store', storePath, '--input', FASHION_IMAGES, '--limit', '1000', '--num-dbs', '4', '--recall-queries', '100', '--no-progress', ...extra]);
    assert.equal(out.code, 0, out.stderr);
    const store = openObjectStore(storePath);
    try {
      const pointer = parseCurrentPointer(await store.get(CURRENT_KEY));
      return { manifest: parseManifest(await store.get(pointer.manifest_ref), pointer.manifest_ref), stdout: out.stdout };
    } finally {
      await store.close();
    }
  }

  test('is on by default: balance factor and centroid offsets in the manifest, sizes within the cap, sizes printed', async () => {
    const { manifest, stdout } = await build('default', []);
    assert.equal(manifest.sharding.strategy, 'cluster');
    if (manifest.sharding.strategy !== 'cluster') return;
    assert.equal(manifest.sharding.balance_factor, DEFAULT_BALANCE_FACTOR);
    assert.equal(manifest.sharding.centroid_offsets?.length, 4);
    const sizes = manifest.shards.map((s) => s.vector_count);
    // 1,000 vectors are all in the training sample: the cap holds exactly.
    assert.ok(Math.max(...sizes) <= Math.ceil((DEFAULT_BALANCE_FACTOR * 1000) / 4), `sizes ${sizes.join(',')}`);
    assert.match(stdout, new RegExp(`shard sizes: min ${Math.min(...sizes)}, max ${Math.max(...sizes)}, mean 250\\.0 vectors \\(max/mean [0-9.]+, balanced ${DEFAULT_BALANCE_FACTOR}\\)`));
  });

  test('--no-balanced and --balanced off build plain nearest-centroid shards; --balanced 1.5 sets the factor', async () => {
    for (const [name, flags] of [['no', ['--no-balanced']], ['off', ['--balanced', 'off']]] as const) {
      const { manifest, stdout } = await build(name, [...flags]);
      assert.ok(manifest.sharding.strategy === 'cluster' && manifest.sharding.balance_factor === null, name);
      assert.ok(manifest.sharding.strategy === 'cluster' && manifest.sharding.centroid_offsets === undefined, name);
      assert.match(stdout, /unbalanced\)/);
    }
    const { manifest } = await build('factor', ['--balanced', '1.5']);
    assert.ok(manifest.sharding.strategy === 'cluster' && manifest.sharding.balance_factor === 1.5);
  });

  test('a factor below 1 is refused naming the flag', async () => {
    const out = await runCli(['build', '--store', join(dir.path, 'bad'), '--input', FASHION_IMAGES, '--balanced', '0.5']);
    assert.notEqual(out.code, 0);
    assert.match(out.stderr, /--balanced/);
  });
});
