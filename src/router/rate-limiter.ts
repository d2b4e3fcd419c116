/**
 * Token-bucket rate limiting at the router: requests beyond the configured rate fail fast with
 * RESOURCE_EXHAUSTED instead of queueing behind the shard nodes.
 *
 * Costs: a `Search` costs one token; a `BatchSearch` costs one token PER QUERY in the batch (so a
 * batch cannot bypass the limit), and a batch larger than the burst is always refused. `Route`,
 * `SnapshotInfo`, `ShardDetails`, `Health`, `Refresh` and the standard health/reflection services
 * are not limited. The bucket is per router process: N router replicas admit N x the rate.
 */
import { ConfigValidationError, GrpcCode, ShardfleetError } from '../common/errors.ts';

/** A request was refused by the rate limiter (RESOURCE_EXHAUSTED). Retrying later can succeed. */
export class RateLimitedError extends ShardfleetError {
  readonly grpcCode = GrpcCode.RESOURCE_EXHAUSTED;
  constructor(
    message: string,
    /** Milliseconds until the request's cost is available (Infinity when it exceeds the burst). */
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}

/** Options of {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** Sustained rate, tokens (queries) per second; > 0. */
  ratePerSecond: number;
  /** Bucket capacity, tokens: the largest burst admitted at once; >= 1. Starts full. */
  burst: number;
  /** Clock in milliseconds (default `performance.now`, monotonic). Injected by tests. */
  now?: () => number;
}

/** A token bucket: refills continuously at `ratePerSecond` up to `burst` tokens. */
export class TokenBucket {
  readonly ratePerSecond: number;
  readonly burst: number;
  private readonly now: () => number;
  private tokens: number;
  private last: number;

  /** @throws ConfigValidationError when the rate is not > 0 or the burst is not >= 1 (finite). */
  constructor(options: TokenBucketOptions) {
    const { ratePerSecond, burst } = options;
    if (!Number.isFinite(ratePerSecond) || ratePerSecond <= 0) {
      throw new ConfigValidationError(`rate limit must be a positive number of queries per second, got ${ratePerSecond}`);
    }
    if (!Number.isFinite(burst) || burst < 1) {
      throw new ConfigValidationError(`rate-limit burst must be a number >= 1, got ${burst}`);
    }
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.now = options.now ?? (() => performance.now());
    this.tokens = burst;
    this.last = this.now();
  }

  private refill(): void {
    const t = this.now();
    const elapsedMs = Math.max(0, t - this.last); // a clock going backwards adds nothing
    this.last = t;
    this.tokens = Math.min(this.burst, this.tokens + (elapsedMs * this.ratePerSecond) / 1000);
  }

  /** Tokens available now (fractional). */
  available(): number {
    this.refill();
    return this.tokens;
  }

  /**
   * Takes `cost` tokens when available.
   * @param cost tokens to take (>= 0; default 1). A cost above `burst` is never satisfiable.
   * @returns true when taken, false (nothing taken) when not enough tokens are available.
   * @throws ConfigValidationError when `cost` is negative or not finite.
   */
  tryTake(cost = 1): boolean {
    if (!Number.isFinite(cost) || cost < 0) throw new ConfigValidationError(`rate-limit cost must be >= 0, got ${cost}`);
    this.refill();
    if (cost > this.tokens) return false;
    this.tokens -= cost;
    return true;
  }

  /** Milliseconds until `cost` tokens will be available (0 when available now; Infinity above the burst). */
  msUntilAvailable(cost = 1): number {
    if (cost > this.burst) return Infinity;
    const missing = cost - this.available();
    return missing <= 0 ? 0 : Math.ceil((missing * 1000) / this.ratePerSecond);
  }
}

/**
 * Takes `cost` tokens from `bucket` or refuses the request; a no-op when `bucket` is undefined
 * (rate limiting disabled).
 * @param cost 1 for `Search`, the number of queries for `BatchSearch`.
 * @param what the request, for the message (e.g. `Search`, `BatchSearch of 32 queries`).
 * @throws RateLimitedError (RESOURCE_EXHAUSTED) when not enough tokens are available.
 */
export function enforceRateLimit(bucket: TokenBucket | undefined, cost = 1, what = 'request'): void {
  if (!bucket || bucket.tryTake(cost)) return;
  const limits = `${bucket.ratePerSecond} queries/s, burst ${bucket.burst}`;
  if (cost > bucket.burst) {
    throw new RateLimitedError(`${what} costs ${cost} tokens, more than the router's rate-limit burst (${limits}); split it`, Infinity);
  }
  const wait = bucket.msUntilAvailable(cost);
  throw new RateLimitedError(`rate limit exceeded (${limits}) for ${what}; retry in ~${wait} ms`, wait);
}

/**
 * Builds the router's bucket from configuration.
 * @param qps queries per second; undefined or 0 disables rate limiting.
 * @param burst bucket size (default: max(1, ceil(qps)), i.e. one second's worth).
 * @returns the bucket, or undefined when disabled.
 * @throws ConfigValidationError when `qps` is negative or the values are invalid.
 */
export function rateLimiterFromConfig(qps: number | undefined, burst?: number): TokenBucket | undefined {
  if (qps === undefined || qps === 0) return undefined;
  return new TokenBucket({ ratePerSecond: qps, burst: burst ?? Math.max(1, Math.ceil(qps)) });
}
