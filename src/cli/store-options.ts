/**
 * CLI flags shared by every command that opens a store (`--store` plus S3 connection flags).
 */
import { Option, type Command } from 'commander';
import { ConfigValidationError } from '../common/errors.ts';
import type { S3ConnectionOptions } from '../common/storage/open-object-store.ts';
import type { ObjectStore } from '../common/storage/object-store.ts';

/** Parsed store flags. */
export interface StoreFlags {
  store: string;
  s3Endpoint?: string;
  s3Region?: string;
  s3ForcePathStyle?: boolean;
}

/** Adds `--store` and the S3 flags to a command. */
export function addStoreOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--store <url>', 'snapshot store: s3://bucket/prefix, file:///abs/path or a local folder').env('SHARDFLEET_STORE').makeOptionMandatory(),
    )
    .addOption(new Option('--s3-endpoint <url>', 'S3 endpoint URL (MinIO, ...); default AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL'))
    .addOption(new Option('--s3-region <region>', 'S3 region; default AWS_REGION or us-east-1'))
    .addOption(new Option('--s3-force-path-style', 'path-style S3 URLs (default when an endpoint is set)'));
}

/**
 * Opens the store the flags name for a command that reads what is in it (history, rollback,
 * cleanup, publish, a build worker): a store whose root does not exist (ObjectStore.rootProblem:
 * a `file://` folder that is missing) is an error rather than an empty store, since it is most
 * likely a wrong `--store` or a volume that is not mounted.
 * @throws ConfigValidationError for a malformed URL, or naming `--store` and the folder when it
 *   does not exist (the store is closed first).
 */
export async function openExistingStoreFromFlags(flags: StoreFlags): Promise<ObjectStore> {
  const store = await openStoreFromFlags(flags);
  try {
    await assertStoreExists(store, flags.store);
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

/**
 * Checks that the store's root exists (see {@link openExistingStoreFromFlags}).
 * @param given the `--store` value as given, named in the error.
 * @throws ConfigValidationError `store folder <path> does not exist (--store <given>)`.
 */
export async function assertStoreExists(store: ObjectStore, given: string): Promise<void> {
  const problem = await store.rootProblem?.();
  if (problem === undefined) return;
  throw new ConfigValidationError(`${problem} (--store ${given})`);
}

/**
 * Opens the store the flags name (the store modules, and the AWS SDK, are loaded here rather than
 * when the command tree is built). @throws ConfigValidationError for a malformed URL.
 */
export async function openStoreFromFlags(flags: StoreFlags): Promise<ObjectStore> {
  const { openObjectStore } = await import('../common/storage/open-object-store.ts');
  return openObjectStore(flags.store, s3ConnectionFromFlags(flags));
}

/** The S3 connection the `--s3-*` flags give (also used for `build --input s3://...`). */
export function s3ConnectionFromFlags(flags: StoreFlags): S3ConnectionOptions {
  const s3: S3ConnectionOptions = {};
  if (flags.s3Endpoint) s3.endpoint = flags.s3Endpoint;
  if (flags.s3Region) s3.region = flags.s3Region;
  if (flags.s3ForcePathStyle) s3.forcePathStyle = true;
  return s3;
}
