/**
 * The low-priority lane of exact searches on a shard node (ShardQuery.exact: the routers' live
 * recall reference queries, src/router/live-recall.ts). Exact searches never wait for, nor take,
 * a slot of the user searches' admission (search-admission.ts); instead at most `limit` (default
 * 1) run at once, and one is refused when the lane is full or when user searches are waiting for
 * admission, so a reference query never queues ahead of or beside a user query. The reference
 * search itself yields to the event loop between chunks (usearch-shard-reader.ts), so user
 * searches arriving while it runs interleave with it, and searches its shards one at a time with
 * a pause after each (run-search.ts, EXACT_PAUSE_FACTOR), so it takes at most a quarter of a core.
 */
import { ResourceExhaustedError } from '../common/errors.ts';

/** Default exact searches running at once on one node. */
export const DEFAULT_EXACT_SEARCHES = 1;
/** Most queries one exact SearchShards call may carry (the router sends one). */
export const MAX_EXACT_QUERIES = 8;

/** What the lane needs to know of the user searches' admission. */
export interface UserSearchQueue {
  /** SearchShards calls of user searches waiting for an admission slot. */
  readonly queued: number;
}

/** Why {@link ExactSearchLane.run} refused a call (the metrics label). */
export type ExactRefusal = 'exact_busy' | 'exact_users_waiting';

/** Thrown by {@link ExactSearchLane.run} when it refuses a call (RESOURCE_EXHAUSTED). */
export class ExactSearchRefusedError extends ResourceExhaustedError {
  constructor(
    message: string,
    readonly reason: ExactRefusal,
  ) {
    super(message);
  }
}

/** A bounded, non-queuing lane of exact searches. */
export class ExactSearchLane {
  private running = 0;

  /**
   * @param users the user searches' admission (only its queue length is read).
   * @throws RangeError when `limit` is not an integer >= 1.
   */
  constructor(
    private readonly users: UserSearchQueue,
    readonly limit: number = DEFAULT_EXACT_SEARCHES,
  ) {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`exact search limit must be an integer >= 1, got ${limit}`);
  }

  /** Exact searches running now. */
  get active(): number {
    return this.running;
  }

  /**
   * Runs `work` now, or refuses it without running it.
   * @throws ExactSearchRefusedError (RESOURCE_EXHAUSTED) when `limit` exact searches already run
   *   or user searches wait for admission; else what `work` throws.
   */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.users.queued > 0) {
      throw new ExactSearchRefusedError(`exact (live recall reference) search refused: ${this.users.queued} user search calls wait for admission; exact searches never delay them`, 'exact_users_waiting');
    }
    if (this.running >= this.limit) {
      throw new ExactSearchRefusedError(`exact (live recall reference) search refused: ${this.running} already running (at most ${this.limit} at once)`, 'exact_busy');
    }
    this.running += 1;
    try {
      return await work();
    } finally {
      this.running -= 1;
    }
  }
}
