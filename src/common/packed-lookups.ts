/**
 * Per-shard point-lookup results on the node -> router hop (Router Get / MultiGet), packed in a
 * `ShardResult` like search hits (packed-hits.ts): one entry per looked-up key, in key order, in
 * the parallel arrays `found`, `values`, `ids` and `payloads_json` (the last only when payloads
 * were asked for), and `vectors` = the stored vector of every FOUND key, concatenated float32
 * little-endian, when vectors were asked for. The node packs ({@link packLookups}); the router
 * unpacks ({@link unpackLookups}).
 */

/** The lookup of one key in one shard. */
export interface KeyLookup {
  found: boolean;
  /** The KV value (KV snapshots), else empty. */
  value: Uint8Array;
  /** The record id ("" when not found). */
  id: string;
  /** Payload JSON text ("" when absent or not asked for). */
  payload_json: string;
  /** The stored vector as float32 little-endian bytes (4 * dim), empty unless asked for and found. */
  vector: Uint8Array;
}

/** A lookup as the node produces it (vector as floats). */
export interface PackableLookup {
  found: boolean;
  value: Uint8Array;
  id: string;
  payload_json: string;
  /** Length dim; required for a found key when vectors are packed. */
  vector?: Float32Array;
}

/** The packed lookup fields of one `ShardResult`. */
export interface PackedLookups {
  found: boolean[];
  values: Buffer[];
  ids: string[];
  payloads_json: string[];
  vectors: Buffer;
}

/** The packed fields as decoded from a `ShardResult__Output`. */
export interface PackedLookupsInput {
  found: boolean[];
  values: Uint8Array[];
  ids: string[];
  payloads_json: string[];
  vectors: Uint8Array;
}

const EMPTY = Buffer.alloc(0);

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * Packs one shard's lookups (one per key, in key order) into `ShardResult` fields.
 * @throws RangeError when `includeVector` is set and a found key has no vector, or the vectors
 *   differ in length.
 */
export function packLookups(rows: readonly PackableLookup[], includePayload: boolean, includeVector: boolean): PackedLookups {
  const found = rows.map((r) => r.found);
  const values = rows.map((r) => (r.found ? asBuffer(r.value) : EMPTY));
  const ids = rows.map((r) => (r.found ? r.id : ''));
  const payloads_json = includePayload ? rows.map((r) => (r.found ? r.payload_json : '')) : [];
  let vectors = EMPTY;
  if (includeVector) {
    const withVector = rows.filter((r) => r.found);
    if (withVector.length > 0) {
      const dim = withVector[0].vector?.length ?? 0;
      vectors = Buffer.allocUnsafe(withVector.length * dim * 4);
      withVector.forEach((r, j) => {
        const v = r.vector;
        if (v === undefined || v.length !== dim) {
          throw new RangeError(`record ${r.id} has ${v === undefined ? 'no stored vector' : `a vector of ${v.length} dimensions, expected ${dim}`}`);
        }
        vectors.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), j * dim * 4);
      });
    }
  }
  return { found, values, ids, payloads_json, vectors };
}

/**
 * Unpacks a `ShardResult`'s lookups of `keyCount` keys.
 * @throws RangeError when the arrays disagree with `keyCount` or with each other (a node of
 *   another release, or a corrupt answer).
 */
export function unpackLookups(r: PackedLookupsInput, keyCount: number): KeyLookup[] {
  if (r.found.length !== keyCount) throw new RangeError(`malformed lookup answer: ${keyCount} keys but ${r.found.length} found flags`);
  if (r.values.length !== keyCount || r.ids.length !== keyCount) {
    throw new RangeError(`malformed lookup answer: ${keyCount} keys but ${r.values.length} values and ${r.ids.length} ids`);
  }
  const payloads = r.payloads_json.length;
  if (payloads !== 0 && payloads !== keyCount) throw new RangeError(`malformed lookup answer: ${keyCount} keys but ${payloads} payloads`);
  const nFound = r.found.filter(Boolean).length;
  const vectorBytes = r.vectors.byteLength;
  const stride = nFound === 0 ? 0 : vectorBytes / nFound;
  if (vectorBytes !== 0 && (!Number.isInteger(stride) || stride % 4 !== 0)) {
    throw new RangeError(`malformed lookup answer: ${vectorBytes} vector bytes for ${nFound} found keys are not whole float32 vectors`);
  }
  const bytes = asBuffer(r.vectors);
  let j = 0;
  return r.found.map((found, i) => {
    const vector = found && vectorBytes > 0 ? bytes.subarray(j * stride, (j + 1) * stride) : EMPTY;
    if (found) j += 1;
    return { found, value: found ? r.values[i] : EMPTY, id: found ? r.ids[i] : '', payload_json: payloads === 0 || !found ? '' : r.payloads_json[i], vector };
  });
}
