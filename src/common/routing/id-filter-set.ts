/**
 * Router side of Get-by-id on snapshots whose routing says nothing about ids (CLUSTER, LSH,
 * EXPLICIT, CEL): the per-shard id filters (`id-filter.bin`, see id-filter.ts) of a run, loaded
 * and verified against the manifest, answering "which shards might hold this id".
 *
 * Shards without a filter file (snapshots built before filters existed, and HASH snapshots, whose
 * writer writes none because an id's shard follows from its hash) are always candidates when
 * they hold vectors; empty shards (vector_count 0) never are.
 */
import pLimit from 'p-limit';
import { getVerifiedShardFile } from '../verified-shard-file.ts';
import type { Manifest, ShardEntry } from '../manifest.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { ID_FILTER_FILE, IdFilter } from './id-filter.ts';

/** Default number of filter files downloaded at once. */
export const ID_FILTER_LOAD_CONCURRENCY = 8;

/** The id filters of one run and the shards that have none. */
export class IdFilterSet {
  /**
   * @param runId the run the filters belong to.
   * @param filters db id -> filter, for the non-empty shards that have one.
   * @param unfiltered db ids of the non-empty shards without a filter file, ascending.
   */
  constructor(
    readonly runId: string,
    private readonly filters: ReadonlyMap<number, IdFilter>,
    readonly unfiltered: readonly number[],
  ) {}

  /** Number of shards that have a filter. */
  get filteredShards(): number {
    return this.filters.size;
  }

  /** Total bytes of the loaded filter files. */
  get bytes(): number {
    let sum = 0;
    for (const f of this.filters.values()) sum += f.byteLength;
    return sum;
  }

  /** The filter of shard `dbId`, or undefined when it has none (empty or unfiltered shard). */
  filterOf(dbId: number): IdFilter | undefined {
    return this.filters.get(dbId);
  }

  /**
   * The db ids of the shards that might hold `id`, ascending: every non-empty shard whose filter
   * says maybe, plus every non-empty shard without a filter. Never an empty shard. An id held by
   * the run is always among them (Bloom filters have no false negatives); an absent id usually
   * gets only the unfiltered shards (≈ 0.8% false positives per filtered shard at 10 bits/id).
   */
  candidates(id: string): number[] {
    const out: number[] = [];
    for (const [dbId, filter] of this.filters) if (filter.mightContain(id)) out.push(dbId);
    if (this.unfiltered.length === 0) return out.sort((a, b) => a - b);
    return [...out, ...this.unfiltered].sort((a, b) => a - b);
  }
}

/** Options of {@link loadIdFilters}. */
export interface LoadIdFiltersOptions {
  /** Filter files downloaded at once (default {@link ID_FILTER_LOAD_CONCURRENCY}). */
  concurrency?: number;
}

async function loadShardFilter(store: ObjectStore, manifest: Manifest, shard: ShardEntry): Promise<IdFilter> {
  const { bytes, source } = await getVerifiedShardFile(store, manifest, shard, ID_FILTER_FILE, 'id filter');
  return IdFilter.parse(bytes, source);
}

/**
 * Downloads and verifies the id filter of every non-empty shard of `manifest` that lists
 * `id-filter.bin` in its `files` (a few at a time), checking each file's size and sha256 against
 * the manifest entry before parsing it. Shards that list no filter file are recorded as
 * unfiltered (always candidates).
 * @param store the snapshot store (the manifest's refs are relative to it).
 * @param manifest a parsed manifest (see parseManifest).
 * @returns the run's filters.
 * @throws ShardIntegrityError naming the shard and file when a filter's size or sha256 differs
 *   from the manifest's or its bytes are not a valid filter; StorageError naming the shard and
 *   file when a listed filter is missing or cannot be downloaded.
 */
export async function loadIdFilters(store: ObjectStore, manifest: Manifest, options: LoadIdFiltersOptions = {}): Promise<IdFilterSet> {
  const limit = pLimit(Math.max(1, options.concurrency ?? ID_FILTER_LOAD_CONCURRENCY));
  const filters = new Map<number, IdFilter>();
  const unfiltered: number[] = [];
  const loads: Promise<void>[] = [];
  for (const shard of manifest.shards) {
    if (shard.vector_count === 0) continue;
    const entry = shard.files.find((f) => f.path === ID_FILTER_FILE);
    if (entry === undefined) {
      unfiltered.push(shard.db_id);
      continue;
    }
    loads.push(
      limit(async () => {
        filters.set(shard.db_id, await loadShardFilter(store, manifest, shard));
      }),
    );
  }
  const settled = await Promise.allSettled(loads);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  const ordered = new Map([...filters].sort((a, b) => a[0] - b[0]));
  return new IdFilterSet(manifest.run_id, ordered, unfiltered.sort((a, b) => a - b));
}
