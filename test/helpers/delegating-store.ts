/**
 * An ObjectStore that passes every call to `inner`: the base of the tests' recording and
 * fault-injecting stores, which override only the calls they watch.
 */
import type { ChildPrefixListing, ListOptions, ObjectInfo, ObjectStore, PutCondition, ReadLimits } from '../../src/common/storage/object-store.ts';

export class DelegatingStore implements ObjectStore {
  /** Ranged read, present when `inner` has one (as on the real stores). */
  getRange?: (key: string, start: number, end: number) => Promise<Buffer>;

  constructor(protected readonly inner: ObjectStore) {
    if (inner.getRange) this.getRange = (key, start, end) => this.rangeRead(key, start, end);
  }
  get url(): string {
    return this.inner.url;
  }
  /** What {@link getRange} does; override to watch ranged reads. */
  protected rangeRead(key: string, start: number, end: number): Promise<Buffer> {
    return this.inner.getRange!(key, start, end);
  }
  get(key: string, limits?: ReadLimits): Promise<Buffer> {
    return this.inner.get(key, limits);
  }
  download(key: string, localPath: string, limits: ReadLimits): Promise<number> {
    return this.inner.download(key, localPath, limits);
  }
  put(key: string, body: Buffer | string): Promise<void> {
    return this.inner.put(key, body);
  }
  upload(localPath: string, key: string): Promise<void> {
    return this.inner.upload(localPath, key);
  }
  putIf(key: string, body: Buffer | string, condition: PutCondition): Promise<void> {
    return this.inner.putIf(key, body, condition);
  }
  head(key: string): Promise<ObjectInfo | undefined> {
    return this.inner.head(key);
  }
  list(prefix: string, options?: ListOptions): Promise<ObjectInfo[]> {
    return this.inner.list(prefix, options);
  }
  listChildPrefixes(prefix: string, maxNames: number): Promise<ChildPrefixListing> {
    if (!this.inner.listChildPrefixes) throw new Error(`${this.inner.url} cannot list child prefixes`);
    return this.inner.listChildPrefixes(prefix, maxNames);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
