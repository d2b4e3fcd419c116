/**
 * A view of one child prefix of a store as a store of its own: `childStore(root, 'items')` reads
 * and writes `items/<key>` of `root`, and its url is `<root.url>/items`. Used for the collections
 * of a catalog root (src/common/catalog/collection-catalog.ts): every collection shares the root's
 * client and sockets, and closing a child never closes the root.
 */
import { ConfigValidationError } from '../errors.ts';
import {
  assertValidPrefix,
  objectKeyProblem,
  type ChildPrefixListing,
  type ListOptions,
  type ObjectInfo,
  type ObjectStore,
  type PutCondition,
  type ReadLimits,
} from './object-store.ts';

/** The store `root` seen from `<child>/`. */
class PrefixedObjectStore implements ObjectStore {
  readonly url: string;
  readonly getRange?: (key: string, start: number, end: number) => Promise<Buffer>;
  readonly listChildPrefixes?: (prefix: string, maxNames: number) => Promise<ChildPrefixListing>;
  readonly rootProblem?: () => Promise<string | undefined>;
  private readonly base: string;

  constructor(
    private readonly root: ObjectStore,
    child: string,
  ) {
    this.base = `${child}/`;
    this.url = `${root.url.replace(/\/+$/, '')}/${child}`;
    const { getRange, listChildPrefixes, rootProblem } = root;
    if (getRange) this.getRange = (key, start, end) => getRange.call(root, this.k(key), start, end);
    if (listChildPrefixes) this.listChildPrefixes = (prefix, maxNames) => listChildPrefixes.call(root, this.p(prefix), maxNames);
    if (rootProblem) this.rootProblem = () => rootProblem.call(root);
  }

  /** The root's key of `key` (checked first, so a bad key is named as the caller gave it). */
  private k(key: string): string {
    const problem = objectKeyProblem(key);
    if (problem !== undefined) throw new ConfigValidationError(`invalid object key ${JSON.stringify(key)}: ${problem}`);
    return this.base + key;
  }

  private p(prefix: string): string {
    assertValidPrefix(prefix);
    return this.base + prefix;
  }

  get(key: string, limits?: ReadLimits): Promise<Buffer> {
    return this.root.get(this.k(key), limits);
  }
  download(key: string, localPath: string, limits: ReadLimits): Promise<number> {
    return this.root.download(this.k(key), localPath, limits);
  }
  put(key: string, body: Buffer | string): Promise<void> {
    return this.root.put(this.k(key), body);
  }
  upload(localPath: string, key: string): Promise<void> {
    return this.root.upload(localPath, this.k(key));
  }
  putIf(key: string, body: Buffer | string, condition: PutCondition): Promise<void> {
    return this.root.putIf(this.k(key), body, condition);
  }
  async head(key: string): Promise<ObjectInfo | undefined> {
    const info = await this.root.head(this.k(key));
    return info === undefined ? undefined : { ...info, key };
  }
  async list(prefix: string, options?: ListOptions): Promise<ObjectInfo[]> {
    const infos = await this.root.list(this.p(prefix), options);
    return infos.map((i) => ({ ...i, key: i.key.slice(this.base.length) }));
  }
  delete(key: string): Promise<void> {
    return this.root.delete(this.k(key));
  }
  /** Closes nothing: the root's owner closes the root. */
  async close(): Promise<void> {}
}

/**
 * The child prefix `child` of `root` as a store (see the module comment).
 * @param child one key segment (no `/`, not `.` / `..`), e.g. a collection name.
 * @throws ConfigValidationError when `child` is not one valid key segment.
 */
export function childStore(root: ObjectStore, child: string): ObjectStore {
  const problem = child.includes('/') ? 'must be one key segment (no "/")' : objectKeyProblem(child);
  if (problem !== undefined) throw new ConfigValidationError(`invalid child prefix ${JSON.stringify(child)}: ${problem}`);
  return new PrefixedObjectStore(root, child);
}
