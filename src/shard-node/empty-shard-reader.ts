/**
 * A shard that received no vectors (possible with the EXPLICIT, CEL and LSH strategies): it has
 * no files and every search returns no hits.
 */
import type { ScoredHit } from '../common/topk-merge.ts';
import type { ShardIndexReader } from './shard-index-reader.ts';

/** The reader of an empty shard. */
export class EmptyShardReader implements ShardIndexReader {
  constructor(readonly dbId: number) {}

  /** Always no hits. */
  async search(): Promise<ScoredHit[]> {
    return [];
  }

  close(): void {}
}
