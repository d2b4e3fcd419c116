/**
 * Work bounds of a search call, checked BEFORE any shard is searched: the bytes of the hits a
 * call would bring back (results x (vector dims x 4 bytes + payload estimate + per-hit overhead)).
 * The router checks every Search and the total of every BatchSearch; a shard node checks every
 * SearchShards call (a coalesced call carries several requests' queries); both refuse a call over
 * the limit with RESOURCE_EXHAUSTED naming the limit, the estimate and `--max-response-bytes`.
 *
 * The estimate counts top_k hits per probed shard (the most a shard returns), so it never
 * undercounts ids, scores and vectors; payloads are unknown before the search and are counted at
 * {@link PAYLOAD_ESTIMATE_BYTES} each (the node also bounds the real answer bytes while packing).
 */
import { ConfigValidationError, ResourceExhaustedError } from './errors.ts';

/** The CLI flag (router and shard node) that sets the limit; env SHARDFLEET_MAX_RESPONSE_BYTES. */
export const MAX_RESPONSE_BYTES_FLAG = '--max-response-bytes';

/**
 * Default limit of one call's estimated answer, bytes (64 MiB). Ordinary requests stay far below:
 * a 1,000-query BatchSearch of top_k 10 over 8 shards without vectors is about 3.8 MB (24 MB with
 * payloads); one top_k 1,000 Search with vectors over 8 shards of a 784-d snapshot is about 27 MB.
 */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/** Bytes counted per hit for its id, score and framing. */
export const HIT_OVERHEAD_BYTES = 48;
/** Bytes counted per hit for its payload JSON when payloads are asked for. */
export const PAYLOAD_ESTIMATE_BYTES = 256;

/** What the estimate needs of one query. */
export interface QueryWork {
  /** Shards the query searches (in this call). */
  shards: number;
  topK: number;
  includeVector: boolean;
  includePayload: boolean;
}

/** Estimated bytes of one hit of a `dim`-dimensional run. */
export function hitBytes(dim: number, includeVector: boolean, includePayload: boolean): number {
  return HIT_OVERHEAD_BYTES + (includeVector ? 4 * dim : 0) + (includePayload ? PAYLOAD_ESTIMATE_BYTES : 0);
}

/** Estimated answer bytes of `queries` on a run of dimension `dim`: sum of shards x top_k x hit bytes. */
export function estimateAnswerBytes(queries: Iterable<QueryWork>, dim: number): number {
  let bytes = 0;
  for (const q of queries) bytes += q.shards * q.topK * hitBytes(dim, q.includeVector, q.includePayload);
  return bytes;
}

/** `67,108,864 bytes (64.0 MiB)`. */
export function formatBytes(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  return `${Math.round(bytes).toLocaleString('en-US')} bytes (${mib >= 1024 ? `${(mib / 1024).toFixed(2)} GiB` : `${mib.toFixed(1)} MiB`})`;
}

/**
 * Refuses work whose estimated answer exceeds `limit`.
 * @param what the call, for the message (e.g. `BatchSearch of 100 queries`).
 * @param detail how the estimate was made (e.g. `100 queries x 8 shards x top_k 1000 x 3,440 bytes per hit`).
 * @throws ResourceExhaustedError naming the estimate, the limit and {@link MAX_RESPONSE_BYTES_FLAG}
 *   when `estimate > limit`.
 */
export function checkAnswerBytes(estimate: number, limit: number, what: string, detail: string): void {
  if (estimate <= limit) return;
  throw new ResourceExhaustedError(
    `${what} would bring back an estimated ${formatBytes(estimate)} of hits (${detail}), over the limit of ${formatBytes(limit)} per call ` +
      `(${MAX_RESPONSE_BYTES_FLAG}); ask for fewer queries, a smaller top_k, fewer shards (num_probes), or no vectors/payloads`,
  );
}

/**
 * Validates a configured limit (undefined or 0 = the default). @throws ConfigValidationError naming {@link MAX_RESPONSE_BYTES_FLAG} unless
 * it is a safe integer >= 1.
 */
export function resolveMaxResponseBytes(value: number | undefined): number {
  if (value === undefined || value === 0) return DEFAULT_MAX_RESPONSE_BYTES;
  if (!Number.isSafeInteger(value) || value < 1) throw new ConfigValidationError(`${MAX_RESPONSE_BYTES_FLAG} must be a positive integer (bytes), got ${value}`);
  return value;
}
