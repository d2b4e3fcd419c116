/**
 * Assertion helper for gRPC errors: `assert.rejects(promise, isGrpcStatus(code, /message/))`.
 */
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';

/** A predicate for assert.rejects checking the status code and that the details match `pattern`. */
export function isGrpcStatus(code: grpc.status, pattern: RegExp) {
  return (err: unknown): boolean => {
    const e = err as grpc.ServiceError;
    assert.equal(e.code, code, `expected ${grpc.status[code]}, got ${e.code}: ${e.details}`);
    assert.match(e.details, pattern);
    return true;
  };
}
