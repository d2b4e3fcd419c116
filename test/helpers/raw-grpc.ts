/**
 * Raw gRPC calls for tests that send what a broken or hostile client sends: request bytes with no
 * serializer, and an optional bearer token.
 */
import * as grpc from '@grpc/grpc-js';

/** Metadata carrying `authorization: Bearer <token>` (none when `token` is undefined). */
export function bearer(token: string | undefined): grpc.Metadata {
  const md = new grpc.Metadata();
  if (token !== undefined) md.set('authorization', `Bearer ${token}`);
  return md;
}

/** What {@link rawUnary} got back: the status error (null on OK) and the response bytes, if any. */
export interface RawUnaryResult {
  err: grpc.ServiceError | null;
  res: Buffer | undefined;
}

/**
 * A unary call of method `path` (e.g. `/shardfleet.v1.Router/Search`) on `client`'s channel whose
 * request message is `bytes` as given, with `bearer(token)` metadata and a deadline `timeoutMs`
 * from now. Never rejects: a failed call resolves with its ServiceError.
 */
export function rawUnary(client: grpc.Client, path: string, bytes: Buffer, token: string | undefined, timeoutMs: number): Promise<RawUnaryResult> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      bytes,
      bearer(token),
      { deadline: Date.now() + timeoutMs },
      (err, res) => resolve({ err, res }),
    );
  });
}
