/**
 * Typed errors shared by the writer, the shard node and the router.
 *
 * Every error carries a `grpcCode` (the numeric `grpc.status` value it maps to at a service edge),
 * so the servers translate errors to gRPC statuses in one place (`toServiceError` in
 * `src/common/grpc-status.ts`). Messages name the offending thing: record line, shard id, file.
 *
 * The numeric codes are the canonical gRPC status codes
 * (https://grpc.github.io/grpc/core/md_doc_statuscodes.html); they are written as numbers here so
 * that this module has no gRPC dependency.
 */

/** Canonical gRPC status codes used by shardfleet errors. */
export const GrpcCode = {
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** One of the canonical gRPC status codes listed in {@link GrpcCode}. */
export type GrpcCodeValue = (typeof GrpcCode)[keyof typeof GrpcCode];

/** Base class of every shardfleet error. `grpcCode` is the status it maps to at a service edge. */
export abstract class ShardfleetError extends Error {
  abstract readonly grpcCode: GrpcCodeValue;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A configuration value, CLI flag or request field is invalid (INVALID_ARGUMENT). */
export class ConfigValidationError extends ShardfleetError {
  readonly grpcCode = GrpcCode.INVALID_ARGUMENT;
}

/**
 * An input record is invalid: wrong dimension, NaN/Inf, duplicate id, unparsable line.
 * `location` names the file and record (e.g. `data.jsonl line 17` or `images.idx record 42`).
 */
export class InputRecordError extends ConfigValidationError {
  constructor(
    readonly location: string,
    detail: string,
  ) {
    super(`${location}: ${detail}`);
  }
}

/** A query is invalid: wrong byte length or dimension, NaN/Inf, bad top_k (INVALID_ARGUMENT). */
export class InvalidQueryError extends ShardfleetError {
  readonly grpcCode = GrpcCode.INVALID_ARGUMENT;
}

/** Building, opening or searching a shard's vector index failed (INTERNAL). Names the shard. */
export class VectorIndexError extends ShardfleetError {
  readonly grpcCode = GrpcCode.INTERNAL;
}

/** A manifest or `_CURRENT` pointer could not be parsed or failed schema validation. */
export class ManifestParseError extends ShardfleetError {
  readonly grpcCode = GrpcCode.FAILED_PRECONDITION;
}

/** There is no published snapshot (`_CURRENT` missing) at the store prefix. */
export class SnapshotNotFoundError extends ShardfleetError {
  readonly grpcCode = GrpcCode.FAILED_PRECONDITION;
}

/** A reader (router or shard node) is not in a state to answer, e.g. no snapshot loaded yet. */
export class ReaderStateError extends ShardfleetError {
  readonly grpcCode = GrpcCode.FAILED_PRECONDITION;
}

/**
 * Not every required shard could answer or be found. `missingShards` lists the db ids.
 * At the router this maps to UNAVAILABLE; at publish time it means a shard is missing.
 */
export class ShardCoverageError extends ShardfleetError {
  readonly grpcCode = GrpcCode.UNAVAILABLE;
  constructor(
    message: string,
    readonly missingShards: readonly number[],
  ) {
    super(message);
  }
}

/**
 * The caller's deadline passed before enough shards answered (DEADLINE_EXCEEDED): the caller ran
 * out of time, which is neither a coverage failure nor a node failure. `missingShards` lists the
 * db ids that had not answered.
 */
export class DeadlineExceededError extends ShardfleetError {
  readonly grpcCode = GrpcCode.DEADLINE_EXCEEDED;
  constructor(
    message: string,
    readonly missingShards: readonly number[],
  ) {
    super(message);
  }
}

/**
 * A request would cost more than a configured bound allows (RESOURCE_EXHAUSTED): e.g. its
 * estimated answer bytes exceed `--max-response-bytes`. The message names the limit, the
 * estimate and the flag that raises it. Retrying the same request elsewhere cannot succeed.
 */
export class ResourceExhaustedError extends ShardfleetError {
  readonly grpcCode = GrpcCode.RESOURCE_EXHAUSTED;
}

/** A downloaded shard file does not match the manifest's sha256 or byte size (UNAVAILABLE). */
export class ShardIntegrityError extends ShardfleetError {
  readonly grpcCode = GrpcCode.UNAVAILABLE;
}

/** The object store failed (network, permissions, I/O) (UNAVAILABLE). */
export class StorageError extends ShardfleetError {
  readonly grpcCode = GrpcCode.UNAVAILABLE;
}

/**
 * A store object is larger than its reader accepts (the manifest's size for shard files and
 * routing arrays, a fixed cap for manifests and `_CURRENT`) (UNAVAILABLE). Raised before the
 * content is read when the backend knows the size (fstat, Content-Length), else once more than
 * `maxBytes` bytes arrived; never more than `maxBytes + 1` bytes are read or written.
 * `seenBytes` is the object's size when known, undefined when only "more than maxBytes" is.
 */
export class ObjectTooLargeError extends StorageError {
  constructor(
    readonly key: string,
    readonly maxBytes: number,
    readonly seenBytes: number | undefined,
    storeUrl: string,
  ) {
    super(`object ${key} in ${storeUrl} is ${describeSeenBytes(maxBytes, seenBytes)}, over the ${maxBytes} bytes this read accepts; not read past that`);
  }
}

/** `123 bytes`, or `more than <maxBytes> bytes` when the size is unknown. */
export function describeSeenBytes(maxBytes: number, seenBytes: number | undefined): string {
  return seenBytes === undefined ? `more than ${maxBytes} bytes` : `${seenBytes} bytes`;
}

/**
 * A server cannot listen on `address` (`host:port`) because another socket already holds it
 * (UNAVAILABLE). The CLI exits with a distinct code for it so that a launcher that picked the port
 * can pick another (see `shardfleet local`).
 */
export class AddressInUseError extends ShardfleetError {
  readonly grpcCode = GrpcCode.UNAVAILABLE;
  constructor(
    readonly address: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot listen on ${address}: the address is already in use`, options);
  }
}

/** An object that must exist does not (NOT_FOUND). `key` is the full object key. */
export class ObjectNotFoundError extends ShardfleetError {
  readonly grpcCode = GrpcCode.NOT_FOUND;
  constructor(readonly key: string) {
    super(`object not found: ${key}`);
  }
}

/**
 * A conditional write lost a race: the object changed (If-Match) or already exists
 * (If-None-Match). Another publisher moved `_CURRENT` first (ABORTED).
 */
export class PreconditionFailedError extends ShardfleetError {
  readonly grpcCode = GrpcCode.ABORTED;
  constructor(
    readonly key: string,
    detail = 'the object changed since it was read',
  ) {
    super(`conditional write of ${key} failed: ${detail}`);
  }
}

/** Returns the error's message, whatever was thrown. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
