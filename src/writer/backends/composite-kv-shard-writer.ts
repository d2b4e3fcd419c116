/**
 * The `composite` KV + vector shard writer (`build --kv slatedb`, issue 14): a shard's vector
 * index writer (any backend, in this thread or in a pool worker) plus a SlateDB KV store under
 * `<shardDir>/kv/` written in this thread (SlateDB's native writes run on its own threads). Each
 * batch's vectors go to the index writer and its `keys[i] -> values[i]` to the KV store, so the
 * KV store of a shard gets exactly the keys of the shard's vectors.
 */
import { VectorIndexError } from '../../common/errors.ts';
import type { KvStoreWriter } from './kv-store-writer.ts';
import type { BuiltShard, ShardIndexWriter, ShardRows } from './shard-index-writer.ts';

/** An index writer and a KV store writer for one shard, driven as one `ShardIndexWriter`. */
export class CompositeKvShardWriter implements ShardIndexWriter {
  readonly dbId: number;

  /**
   * @param index the shard's vector index writer (its folder is the KV store's folder too).
   * @param kv the shard's KV store writer (e.g. a `SlateDbKvWriter` on the same shard folder).
   */
  constructor(
    private readonly index: ShardIndexWriter,
    private readonly kv: KvStoreWriter,
  ) {
    this.dbId = index.dbId;
  }

  /**
   * Puts the rows' entries into the KV store, then hands the vectors (without the KV entries) to
   * the index writer.
   * @throws VectorIndexError naming the shard when the rows carry no keys or a backend fails;
   *   InputRecordError naming a duplicate or out-of-range key.
   */
  async add(rows: ShardRows): Promise<void> {
    const { keys, values, ...vectorRows } = rows;
    if (keys === undefined || values === undefined) throw new VectorIndexError(`shard ${this.dbId}: a batch without keys for a shard with a KV store`);
    for (let i = 0; i < keys.length; i++) await this.kv.put(keys[i], values[i]);
    await this.index.add(vectorRows);
  }

  /**
   * Finishes the KV store, then the index.
   * @returns the index's BuiltShard with `kvEntries`.
   * @throws what either writer's `finish` throws (the other one is aborted).
   */
  async finish(): Promise<BuiltShard> {
    let kvEntries: number;
    try {
      kvEntries = (await this.kv.finish()).entries;
    } catch (err) {
      await this.index.abort();
      throw err;
    }
    const built = await this.index.finish();
    return { ...built, kvEntries };
  }

  /** Aborts both writers (the KV store's files are removed). Never throws. */
  async abort(): Promise<void> {
    await Promise.all([this.kv.abort(), this.index.abort()]);
  }
}
