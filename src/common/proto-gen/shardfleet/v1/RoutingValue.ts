// Original file: proto/shardfleet/v1/common.proto

import type { Long } from '@grpc/proto-loader';

/**
 * One value of a routing context (CEL-sharded snapshots). Use the field matching the column's
 * declared CEL type (int -> int_value, uint -> uint_value, ...); int_value is also accepted for
 * uint and double columns when the value fits. 64-bit values beyond +-2^53 lose precision in the
 * JavaScript router; send such keys as strings (string columns) instead.
 */
export interface RoutingValue {
  'int_value'?: (number | string | Long);
  'uint_value'?: (number | string | Long);
  'string_value'?: (string);
  'bytes_value'?: (Buffer | Uint8Array | string);
  'double_value'?: (number | string);
  'bool_value'?: (boolean);
  'kind'?: "int_value"|"uint_value"|"string_value"|"bytes_value"|"double_value"|"bool_value";
}

/**
 * One value of a routing context (CEL-sharded snapshots). Use the field matching the column's
 * declared CEL type (int -> int_value, uint -> uint_value, ...); int_value is also accepted for
 * uint and double columns when the value fits. 64-bit values beyond +-2^53 lose precision in the
 * JavaScript router; send such keys as strings (string columns) instead.
 */
export interface RoutingValue__Output {
  'int_value'?: (number);
  'uint_value'?: (number);
  'string_value'?: (string);
  'bytes_value'?: (Buffer);
  'double_value'?: (number);
  'bool_value'?: (boolean);
  'kind'?: "int_value"|"uint_value"|"string_value"|"bytes_value"|"double_value"|"bool_value";
}
