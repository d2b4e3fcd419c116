// Original file: proto/shardfleet/v1/router.proto

import type { Key as _shardfleet_v1_Key, Key__Output as _shardfleet_v1_Key__Output } from '../../shardfleet/v1/Key.ts';

/**
 * The outcome of one key.
 */
export interface GetResult {
  /**
   * The key, as requested.
   */
  'key'?: (_shardfleet_v1_Key | null);
  /**
   * True when the snapshot has the key. Meaningless when `error` is set.
   */
  'found'?: (boolean);
  /**
   * KV snapshots: the stored value bytes (empty for an empty value); vector-only: empty.
   */
  'value'?: (Buffer | Uint8Array | string);
  /**
   * The record's payload as JSON object text ("" when it has none or was not found).
   */
  'payload_json'?: (string);
  /**
   * The record's stored vector, little-endian float32 (only with include_vector).
   */
  'vector'?: (Buffer | Uint8Array | string);
  /**
   * The record id: a KV record's id is its key as text (string as is, int in decimal, bytes in
   * base64); a vector-only record's id is the key.
   */
  'id'?: (string);
  /**
   * The shard (db id) that answered (found or not); for a failed key the shard that could not.
   */
  'db_id'?: (number);
  /**
   * Why the key could not be looked up ("" on success): its shard had no answering replica.
   */
  'error'?: (string);
}

/**
 * The outcome of one key.
 */
export interface GetResult__Output {
  /**
   * The key, as requested.
   */
  'key': (_shardfleet_v1_Key__Output | null);
  /**
   * True when the snapshot has the key. Meaningless when `error` is set.
   */
  'found': (boolean);
  /**
   * KV snapshots: the stored value bytes (empty for an empty value); vector-only: empty.
   */
  'value': (Buffer);
  /**
   * The record's payload as JSON object text ("" when it has none or was not found).
   */
  'payload_json': (string);
  /**
   * The record's stored vector, little-endian float32 (only with include_vector).
   */
  'vector': (Buffer);
  /**
   * The record id: a KV record's id is its key as text (string as is, int in decimal, bytes in
   * base64); a vector-only record's id is the key.
   */
  'id': (string);
  /**
   * The shard (db id) that answered (found or not); for a failed key the shard that could not.
   */
  'db_id': (number);
  /**
   * Why the key could not be looked up ("" on success): its shard had no answering replica.
   */
  'error': (string);
}
