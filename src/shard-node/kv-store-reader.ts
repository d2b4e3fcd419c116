/**
 * The contract between a shard node and a shard's downloaded key-value store (issue 14): point
 * lookups of many keys at once. Implementations: `slatedb-kv-reader.ts` (the `composite`
 * backend, `<shardDir>/kv/`) and `sqlite-kv-reader.ts` (the `unified` backend, a `kv` table in a
 * SQLite file). Writers: `src/writer/backends/kv-store-writer.ts`.
 *
 * Readers open the shard's local copy in the node's cache folder (downloaded and sha256-verified
 * by `shard-cache.ts`), never the object store; see `slatedb-kv-reader.ts` for why.
 */

/** A read-only, open KV store of one shard. */
export interface KvStoreReader {
  /**
   * Looks up `keys`. The result has one slot per key, in order: the value (a fresh copy the caller
   * owns; an empty `Uint8Array` for an empty value), or `undefined` when the key is absent. A key
   * that cannot be stored (empty, or over 65535 bytes) is absent. Repeated keys are allowed.
   * @throws VectorIndexError naming the store when the backend fails or the reader is closed.
   */
  getMany(keys: readonly Uint8Array[]): Promise<Array<Uint8Array | undefined>>;
  /** Releases the store. Idempotent; later `getMany` calls reject. Never throws. */
  close(): Promise<void>;
}
