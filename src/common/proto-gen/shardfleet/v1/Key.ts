// Original file: proto/shardfleet/v1/router.proto

import type { Long } from '@grpc/proto-loader';

/**
 * A lookup key. KV snapshots: the field of the manifest's kv.key_type (string -> string_key,
 * int -> int_key or int_key_decimal, bytes -> bytes_key). Vector-only snapshots: the record id
 * as string_key.
 */
export interface Key {
  'string_key'?: (string);
  /**
   * The router decodes int64 as a JavaScript number: an int_key beyond +-(2^53-1) is rejected
   * (INVALID_ARGUMENT); send such keys in int_key_decimal.
   */
  'int_key'?: (number | string | Long);
  'bytes_key'?: (Buffer | Uint8Array | string);
  /**
   * An int64 key as decimal text ("-42", "9007199254740993"), exact over the whole int64 range.
   */
  'int_key_decimal'?: (string);
  'kind'?: "string_key"|"int_key"|"bytes_key"|"int_key_decimal";
}

/**
 * A lookup key. KV snapshots: the field of the manifest's kv.key_type (string -> string_key,
 * int -> int_key or int_key_decimal, bytes -> bytes_key). Vector-only snapshots: the record id
 * as string_key.
 */
export interface Key__Output {
  'string_key'?: (string);
  /**
   * The router decodes int64 as a JavaScript number: an int_key beyond +-(2^53-1) is rejected
   * (INVALID_ARGUMENT); send such keys in int_key_decimal.
   */
  'int_key'?: (number);
  'bytes_key'?: (Buffer);
  /**
   * An int64 key as decimal text ("-42", "9007199254740993"), exact over the whole int64 range.
   */
  'int_key_decimal'?: (string);
  'kind'?: "string_key"|"int_key"|"bytes_key"|"int_key_decimal";
}
