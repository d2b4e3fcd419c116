/**
 * A shard that received no vectors (possible with the EXPLICIT, CEL and LSH strategies): it has
 * no files and every search returns no hits.
 */
import type { FetchedRow, ShardHit, ShardIndexReader } from './shard-index-reader.ts';

/** The reader of an empty shard. */
export class EmptyShardReader implements ShardIndexReader {
  constructor(readonly dbId: number) {}

  /** Always no hits. */
  async search(): Promise<ShardHit[]> {
    return [];
  }

  /** Always absent: an empty shard has no rows. */
  async fetchByIds(ids: readonly string[]): Promise<Array<FetchedRow | undefined>> {
    return ids.map(() => undefined);
  }

  close(): void {}
}
