/**
 * Loads the public gRPC contract (`proto/shardfleet/v1/*.proto`) with @grpc/proto-loader, typed
 * by the classes that `npm run proto:gen` generates into `src/common/proto-gen/`.
 *
 * Loader options match the generator's: field names keep their snake_case, 64-bit integers are
 * JS numbers, enums are strings, and omitted fields get their defaults.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ConfigValidationError } from './errors.ts';
import type { ProtoGrpcType as RouterProto } from './proto-gen/router.ts';
import type { ProtoGrpcType as ShardNodeProto } from './proto-gen/shard_node.ts';

export type { RouterClient } from './proto-gen/shardfleet/v1/Router.ts';
export type { ShardNodeClient } from './proto-gen/shardfleet/v1/ShardNode.ts';

/** Folder holding the `.proto` files (the include root). */
export const PROTO_DIR = fileURLToPath(new URL('../../proto', import.meta.url));

/** @grpc/proto-loader options; keep in sync with the `proto:gen` script. */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  arrays: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

/**
 * Default largest gRPC message accepted or sent, in bytes (64 MiB): a batch of high-dimensional
 * queries or results with payloads can exceed grpc-js's 4 MiB default. Servers take their own
 * limit from configuration (`--max-message-bytes`, see `newServer` in `grpc-server.ts`); a
 * message above the receiver's limit fails with RESOURCE_EXHAUSTED.
 */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/**
 * Channel options with message size limits, for clients (and, historically, servers).
 * @param maxMessageBytes largest message received and sent, bytes (default {@link MAX_MESSAGE_BYTES}).
 * @throws ConfigValidationError when `maxMessageBytes` is not a positive integer.
 */
export function channelOptions(maxMessageBytes: number = MAX_MESSAGE_BYTES): grpc.ChannelOptions {
  if (!Number.isSafeInteger(maxMessageBytes) || maxMessageBytes <= 0) {
    throw new ConfigValidationError(`max message size must be a positive integer number of bytes, got ${maxMessageBytes}`);
  }
  return {
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': maxMessageBytes,
    ...LEAN_CALL_OPTIONS,
  };
}

/**
 * grpc-js features shardfleet does not use, turned off on every client channel and server because
 * they cost work on every call: channelz (per-call counters and trace events kept for the channelz
 * admin service).
 */
export const LEAN_CALL_OPTIONS: grpc.ChannelOptions = {
  'grpc.enable_channelz': 0,
};

/** Channel options for clients and servers (message size limits of {@link MAX_MESSAGE_BYTES}). */
export const CHANNEL_OPTIONS: grpc.ChannelOptions = channelOptions();

let routerProto: RouterProto | undefined;
let shardNodeProto: ShardNodeProto | undefined;

/** The `shardfleet.v1.Router` package definition (loaded once). */
export function loadRouterProto(): RouterProto {
  routerProto ??= grpc.loadPackageDefinition(
    protoLoader.loadSync('shardfleet/v1/router.proto', PROTO_LOADER_OPTIONS),
  ) as unknown as RouterProto;
  return routerProto;
}

/** The `shardfleet.v1.ShardNode` package definition (loaded once). */
export function loadShardNodeProto(): ShardNodeProto {
  shardNodeProto ??= grpc.loadPackageDefinition(
    protoLoader.loadSync('shardfleet/v1/shard_node.proto', PROTO_LOADER_OPTIONS),
  ) as unknown as ShardNodeProto;
  return shardNodeProto;
}

let servicesDefinition: protoLoader.PackageDefinition | undefined;

/** The .proto files of shardfleet's services, relative to {@link PROTO_DIR} (their import paths). */
export const SERVICE_PROTO_FILES: readonly string[] = ['shardfleet/v1/router.proto', 'shardfleet/v1/shard_node.proto'];

/**
 * The proto-loader package definition of every shardfleet service (`router.proto` and
 * `shard_node.proto` loaded together, loaded once): what server reflection describes.
 */
export function loadServicesPackageDefinition(): protoLoader.PackageDefinition {
  servicesDefinition ??= protoLoader.loadSync([...SERVICE_PROTO_FILES], PROTO_LOADER_OPTIONS);
  return servicesDefinition;
}
