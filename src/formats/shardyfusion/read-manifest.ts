/**
 * Reading a shardyfusion manifest object as a shardfleet {@link Manifest}: its SQLite tables
 * (sqlite-manifest.ts), translated (manifest-translation.ts).
 */
import type { Manifest } from '../../common/manifest.ts';
import type { ObjectStore } from '../../common/storage/object-store.ts';
import { translateShardyfusionManifest } from './manifest-translation.ts';
import { readShardyfusionManifestTables } from './sqlite-manifest.ts';

/**
 * The manifest at `key` of `store`, given its bytes (a SQLite database image).
 * @throws ManifestParseError naming the key (see translateShardyfusionManifest); StorageError
 *   from listing the store.
 */
export async function readShardyfusionManifest(store: ObjectStore, key: string, bytes: Buffer): Promise<Manifest> {
  const tables = readShardyfusionManifestTables(bytes, key);
  const prefix = tables.buildMeta.s3_prefix.replace(/\/+$/, '');
  return translateShardyfusionManifest(store, key, tables, `${prefix}/${key}`);
}
