/**
 * The package name and version, read from package.json (recorded in manifests and logs).
 */
import { createRequire } from 'node:module';

const pkg = createRequire(import.meta.url)('../../package.json') as { name: string; version: string };

/** Package name (`shardfleet`). */
export const WRITER_NAME: string = pkg.name;
/** Package version. */
export const WRITER_VERSION: string = pkg.version;
