/**
 * Cleanup of a failed build (issue 20, defect 6): a build writes through a {@link WriteTracker},
 * which remembers every key it wrote, so that when the build fails before publishing, everything
 * it stored (routing metadata, shard files, plan, receipts) is deleted again and no orphan
 * `runs/<run_id>/` objects are left behind. Only keys this process wrote are deleted: another
 * run's objects are never touched.
 */
import type { Logger } from 'pino';
import { ConfigValidationError, errorMessage } from '../common/errors.ts';
import { runPrefix } from '../common/manifest.ts';
import type { ListOptions, ObjectInfo, ObjectStore, PutCondition, ReadLimits } from '../common/storage/object-store.ts';

/** An ObjectStore that records the keys written through it (put, upload, putIf). */
export class WriteTracker implements ObjectStore {
  private readonly keys = new Set<string>();

  /** @param inner the store every call is passed to. */
  constructor(private readonly inner: ObjectStore) {}

  get url(): string {
    return this.inner.url;
  }

  /** Keys written so far, in first-write order. */
  get written(): string[] {
    return [...this.keys];
  }

  get(key: string, limits?: ReadLimits): Promise<Buffer> {
    return this.inner.get(key, limits);
  }

  download(key: string, localPath: string, limits: ReadLimits): Promise<number> {
    return this.inner.download(key, localPath, limits);
  }

  async put(key: string, body: Buffer | string): Promise<void> {
    this.keys.add(key); // before the call: a failed write may still have left an object
    await this.inner.put(key, body);
  }

  async upload(localPath: string, key: string): Promise<void> {
    this.keys.add(key);
    await this.inner.upload(localPath, key);
  }

  async putIf(key: string, body: Buffer | string, condition: PutCondition): Promise<void> {
    const existed = this.keys.has(key);
    try {
      await this.inner.putIf(key, body, condition);
      this.keys.add(key);
    } catch (err) {
      // A failed conditional write left another writer's object in place: not ours to delete.
      if (!existed) this.keys.delete(key);
      throw err;
    }
  }

  /** Passes a ranged read through (only when the inner store has one). */
  get getRange(): ((key: string, start: number, end: number) => Promise<Buffer>) | undefined {
    const inner = this.inner;
    return inner.getRange === undefined ? undefined : (key, start, end) => inner.getRange!(key, start, end);
  }

  head(key: string): Promise<ObjectInfo | undefined> {
    return this.inner.head(key);
  }

  list(prefix: string, options?: ListOptions): Promise<ObjectInfo[]> {
    return this.inner.list(prefix, options);
  }

  delete(key: string): Promise<void> {
    this.keys.delete(key);
    return this.inner.delete(key);
  }

  /** Does not close the inner store (its owner does). */
  async close(): Promise<void> {}

  /**
   * Deletes every key written through this tracker (best effort: a failed delete is logged, not
   * thrown, so the build's own error is what the caller sees).
   * @returns the number of keys deleted.
   */
  async deleteWritten(log: Logger, runId: string): Promise<number> {
    let deleted = 0;
    for (const key of this.written) {
      try {
        await this.inner.delete(key);
        this.keys.delete(key);
        deleted++;
      } catch (err) {
        log.warn({ run_id: runId, key, err: errorMessage(err) }, 'could not delete an object of the failed build');
      }
    }
    if (deleted > 0) log.info({ run_id: runId, deleted }, 'failed build: deleted the objects it had stored');
    return deleted;
  }
}

/**
 * Refuses a run id that already has objects under `runs/<run_id>/`, so a failed build's cleanup
 * can never delete what an earlier run with the same id stored.
 * @throws ConfigValidationError naming the run id and `--run-id`.
 */
export async function assertRunIdUnused(store: ObjectStore, runId: string): Promise<void> {
  const prefix = runPrefix(runId);
  const existing = await store.list(prefix);
  if (existing.length > 0) {
    throw new ConfigValidationError(
      `run ${runId} already has ${existing.length} object(s) under ${store.url}/${prefix}; pass a new --run-id (or none for a fresh one)`,
    );
  }
}
