/**
 * What `build --input` names, resolved to the list of files ("parts") to read, in order:
 * - a local file, or a `file://` URL of one;
 * - a local folder (or `file://` URL of one): every file below it, recursively, such as the part
 *   files Spark, Dask or Ray write (`part-00000-*.parquet`, also inside hive-style `key=value/`
 *   subfolders);
 * - a glob of local files (`data/part-*.parquet`, `data/**\/*.parquet`);
 * - `s3://bucket/key` (one object), `s3://bucket/prefix/` or a prefix with no object of that
 *   name (every object below it), or a glob of keys (`s3://bucket/ds/part-*.parquet`).
 * In folders and globs, files and folders whose name starts with `_` or `.` (`_SUCCESS`,
 * `_metadata`, `_temporary/`, `.part-0.parquet.crc`) and `*.crc` files are skipped. Parts are
 * sorted by path (UTF-8 byte order), the order Spark numbers them in.
 */
import { readdir, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AsyncBuffer } from 'hyparquet';
import { ConfigValidationError, errorMessage } from '../../common/errors.ts';
import type { ObjectStore } from '../../common/storage/object-store.ts';
import { compareKeys } from '../../common/storage/object-store.ts';

/** One file of the input. */
export interface InputPart {
  /** Its name in messages and records' locations: a local path or `s3://bucket/key`. */
  name: string;
  /** Size in bytes. */
  size: number;
  /** Where it is: a local file, or an object of a store. */
  location: { kind: 'local'; path: string } | { kind: 'object'; store: ObjectStore; key: string };
}

/** The resolved `--input`. */
export interface ResolvedInput {
  /** `--input` as given. */
  given: string;
  /** The parts, in read order (at least one). */
  parts: InputPart[];
  /** True for a folder, prefix or glob (even when it matched one file). */
  dataset: boolean;
}

/** Opens the object store of an `s3://bucket` URL (with the build's S3 connection flags). */
export type OpenStore = (url: string) => ObjectStore;

const GLOB_CHARS = /[*?[]/;

/** True when a file or folder name is bookkeeping of a dataset writer, not data. */
function isIgnoredName(name: string): boolean {
  return name.startsWith('_') || name.startsWith('.') || name.toLowerCase().endsWith('.crc');
}

/** True when any segment of a `/`-separated relative path is ignored (see {@link isIgnoredName}). */
function isIgnoredPath(rel: string): boolean {
  return rel.split('/').some(isIgnoredName);
}

/**
 * A glob as a regular expression over `/`-separated paths: `**` any characters (also `/`), `*`
 * and `?` any characters but `/`, `[...]` a character class; the rest literally.
 */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') {
      if (glob[i + 1] === '*') {
        i++;
        if (glob[i + 1] === '/') {
          i++;
          out += '(?:.*/)?';
        } else out += '.*';
      } else out += '[^/]*';
    } else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const close = glob.indexOf(']', i + 1);
      if (close < 0) out += '\\[';
      else {
        out += `[${glob.slice(i + 1, close).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else out += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

/** Splits a `/`-separated pattern into its literal leading folders and the rest (from the first segment with a glob character). */
function splitGlob(pattern: string): { base: string; rest: string } {
  const segments = pattern.split('/');
  const first = segments.findIndex((s) => GLOB_CHARS.test(s));
  return { base: segments.slice(0, first).join('/'), rest: segments.slice(first).join('/') };
}

/** Every regular file below `dir`, as `/`-separated paths relative to it, skipping ignored names. */
async function walk(dir: string, rel = ''): Promise<{ rel: string; size: number }[]> {
  const out: { rel: string; size: number }[] = [];
  const entries = await readdir(join(dir, rel), { withFileTypes: true });
  for (const e of entries) {
    if (isIgnoredName(e.name)) continue;
    const childRel = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) out.push(...(await walk(dir, childRel)));
    else if (e.isFile() || e.isSymbolicLink()) {
      const st = await stat(join(dir, childRel)).catch(() => undefined);
      if (st?.isFile()) out.push({ rel: childRel, size: st.size });
    }
  }
  return out;
}

function noParts(given: string, what: string): ConfigValidationError {
  return new ConfigValidationError(
    `--input ${given}: ${what} (files and folders starting with "_" or "." and *.crc files are skipped)`,
  );
}

/** Resolves a local path, folder or glob. */
async function resolveLocal(given: string, path: string): Promise<ResolvedInput> {
  const normalized = path.split(sep).join('/');
  if (GLOB_CHARS.test(normalized)) {
    const { base, rest } = splitGlob(normalized);
    const root = resolve(base === '' ? '.' : base);
    const matcher = globToRegExp(rest);
    let files: { rel: string; size: number }[];
    try {
      files = await walk(root);
    } catch (err) {
      throw new ConfigValidationError(`--input ${given}: cannot list ${root}: ${errorMessage(err)}`, { cause: err });
    }
    const parts = files.filter((f) => matcher.test(f.rel)).map((f) => localPart(join(root, f.rel), f.size));
    if (parts.length === 0) throw noParts(given, `the pattern matches no file below ${root}`);
    return { given, parts: sortParts(parts), dataset: true };
  }
  const abs = resolve(path);
  let st;
  try {
    st = await stat(abs);
  } catch (err) {
    throw new ConfigValidationError(`--input ${given}: no such file or folder (${errorMessage(err)})`, { cause: err });
  }
  if (st.isFile()) return { given, parts: [localPart(abs, st.size)], dataset: false };
  if (!st.isDirectory()) throw new ConfigValidationError(`--input ${given}: not a regular file or folder`);
  const files = await walk(abs);
  if (files.length === 0) throw noParts(given, 'the folder holds no input files');
  return { given, parts: sortParts(files.map((f) => localPart(join(abs, f.rel), f.size))), dataset: true };
}

function localPart(path: string, size: number): InputPart {
  return { name: path, size, location: { kind: 'local', path } };
}

function sortParts(parts: InputPart[]): InputPart[] {
  return parts.sort((a, b) => compareKeys(a.name, b.name));
}

/** Resolves `s3://bucket/key`, a prefix or a glob of keys. */
async function resolveS3(given: string, openStore: OpenStore): Promise<ResolvedInput> {
  const m = /^s3:\/\/([^/?#]+)\/?(.*)$/i.exec(given);
  if (m === null || m[1] === '') throw new ConfigValidationError(`--input ${given}: expected s3://bucket/key, s3://bucket/prefix/ or a glob of keys`);
  const bucket = m[1];
  const path = m[2];
  const store = openStore(`s3://${bucket}`);
  const part = (key: string, size: number): InputPart => ({ name: `s3://${bucket}/${key}`, size, location: { kind: 'object', store, key } });
  const dataFiles = (objects: { key: string; size: number }[], below: string) =>
    objects.filter((o) => !isIgnoredPath(o.key.slice(below.length))).map((o) => part(o.key, o.size));
  try {
    if (GLOB_CHARS.test(path)) {
      const { base, rest } = splitGlob(path);
      const below = base === '' ? '' : `${base}/`;
      const matcher = globToRegExp(rest);
      const parts = dataFiles(await store.list(below, { etags: false }), below).filter((p) => matcher.test(p.name.slice(`s3://${bucket}/${below}`.length)));
      if (parts.length === 0) throw noParts(given, `the pattern matches no object under s3://${bucket}/${below}`);
      return { given, parts: sortParts(parts), dataset: true };
    }
    if (path !== '' && !path.endsWith('/')) {
      const info = await store.head(path);
      if (info !== undefined) return { given, parts: [part(path, info.size)], dataset: false };
    }
    const below = path === '' || path.endsWith('/') ? path : `${path}/`;
    const parts = dataFiles(await store.list(below, { etags: false }), below);
    if (parts.length === 0) throw noParts(given, `no such object, and no input objects under s3://${bucket}/${below}`);
    return { given, parts: sortParts(parts), dataset: true };
  } catch (err) {
    if (err instanceof ConfigValidationError) throw err;
    throw new ConfigValidationError(`--input ${given}: ${errorMessage(err)}`, { cause: err });
  }
}

/**
 * Resolves `--input` to its parts (see the module comment). Lists folders and prefixes; reads no
 * file's content.
 * @param openStore opens `s3://bucket` with the build's S3 flags (used for `s3://` inputs only).
 * @throws ConfigValidationError naming `--input`: a missing file or folder, an empty folder or
 *   prefix, a glob that matches nothing, a malformed URL, or an unreachable bucket.
 */
export async function resolveInput(given: string, openStore: OpenStore): Promise<ResolvedInput> {
  if (given.trim() === '') throw new ConfigValidationError('--input is empty');
  if (/^s3:\/\//i.test(given)) return resolveS3(given, openStore);
  if (/^file:/i.test(given)) {
    let path: string;
    try {
      path = fileURLToPath(given);
    } catch (err) {
      throw new ConfigValidationError(`--input ${given}: invalid file URL: ${errorMessage(err)}`, { cause: err });
    }
    return resolveLocal(given, path);
  }
  if (/^[a-z][a-z0-9+.-]+:\/\//i.test(given)) {
    throw new ConfigValidationError(`--input ${given}: unsupported URL; expected a local path, a folder, a glob, file:// or s3://`);
  }
  return resolveLocal(given, given);
}

/**
 * The bytes of an object as hyparquet's AsyncBuffer: each `slice(start, end)` is one ranged GET
 * ({@link ObjectStore.getRange}), so only the footer and the row groups read are fetched.
 * @throws ConfigValidationError naming `--input` when the store has no ranged reads.
 */
export function objectAsyncBuffer(part: InputPart & { location: { kind: 'object' } }): AsyncBuffer {
  const { store, key } = part.location;
  const getRange = store.getRange?.bind(store);
  if (getRange === undefined) throw new ConfigValidationError(`--input ${part.name}: the store ${store.url} cannot read byte ranges`);
  return {
    byteLength: part.size,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      const stop = Math.min(end ?? part.size, part.size);
      const from = Math.max(0, Math.min(start, stop));
      const buf = await getRange(key, from, stop);
      return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
    },
  };
}
