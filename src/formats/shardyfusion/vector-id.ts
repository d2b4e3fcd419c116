/**
 * shardyfusion's vector ids in a sqlite-vec `shard.db` and shardfleet's Hit id text.
 *
 * shardyfusion maps every vector to a synthetic vec0 rowid (0..n-1 in insertion order) and keeps
 * the caller's id, with its type, in `vec_id_map(internal_id INTEGER PRIMARY KEY, original_id
 * TEXT NOT NULL)`: `original_id = json.dumps({"v": id, "t": "int"|"str"})`, Python's default
 * separators, e.g. `{"v": 1030, "t": "int"}` or `{"v": "fm-01030", "t": "str"}`
 * (shardyfusion/sqlite_vec_adapter.py:354-372 at b5ad9a1). Its reader decodes it with
 * `_decode_id_map_value` (sqlite_vec_adapter.py:782-793): `t == "int"` -> `int(v)`, otherwise
 * `str(v)`; a rowid without a map row keeps the rowid as an int id (:867).
 *
 * shardfleet ids are text, so an int id becomes its decimal text (`1030` -> `"1030"`, exact for
 * any size: the digits are taken from the JSON text, never through a float) and a str id stays
 * as it is. An int id and a str id with the same text (`1030` and `"1030"`) therefore get the
 * same Hit id.
 */

/** `{"v": <JSON integer>, "t": "int"}` exactly as json.dumps writes it. */
const CANONICAL_INT = /^\{"v": (-?(?:0|[1-9]\d*)), "t": "int"\}$/;
/** `{"v": "<text without escapes>", "t": "str"}` exactly as json.dumps writes it. */
const CANONICAL_STR = /^\{"v": "([^"\\]*)", "t": "str"\}$/;
/** A JSON integer literal (no fraction, no exponent). */
const JSON_INTEGER = /^-?(?:0|[1-9]\d*)$/;

/** Normalizes the text of an integer (`-0` is 0, as Python's int makes it). */
function integerText(digits: string): string {
  return digits === '-0' ? '0' : digits;
}

/**
 * The raw text of the top-level `"v"` member of a JSON object (its JSON value as written), or
 * undefined when it is not a plain number token. Used for integers beyond 2^53, which
 * `JSON.parse` would round.
 */
function rawNumberMember(raw: string): string | undefined {
  const m = /^\{\s*(?:"t"\s*:\s*"(?:[^"\\]|\\.)*"\s*,\s*)?"v"\s*:\s*(-?\d[\d.eE+-]*)\s*[,}]/.exec(raw);
  return m?.[1];
}

/**
 * The Hit id text of a `vec_id_map.original_id` value.
 * @param raw the stored TEXT, e.g. `{"v": 1030, "t": "int"}` -> `"1030"`,
 *   `{"v": "fm-01030", "t": "str"}` -> `"fm-01030"`.
 * @returns the id text: an int id's decimal digits (exact for any size), a str id as is.
 * @throws Error (the caller names shard, file and row) when the text is not JSON, not an object
 *   with `v`, or a form shardyfusion's writer never produces and this reader does not decode:
 *   `t == "int"` with a `v` that is not a JSON integer or a decimal string (`int(v)` in Python
 *   would also accept e.g. 3.0), or another `t` with a `v` that is neither a string nor an
 *   integer (Python's `str(v)` of a float or a dict has no exact JavaScript counterpart).
 */
export function decodeIdMapValue(raw: string): string {
  let m = CANONICAL_INT.exec(raw);
  if (m) return integerText(m[1]!);
  m = CANONICAL_STR.exec(raw);
  if (m) return m[1]!;
  let obj: unknown;
  try {
    obj = JSON.parse(raw);
  } catch {
    throw new Error(`original_id ${JSON.stringify(raw)} is not JSON`);
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj) || !('v' in obj)) {
    throw new Error(`original_id ${JSON.stringify(raw)} is not a {"v", "t"} object`);
  }
  const { v, t } = obj as { v: unknown; t?: unknown };
  if (typeof v === 'number') {
    // The digits as written: JSON.parse rounds integers beyond 2^53.
    const token = rawNumberMember(raw);
    const written = token !== undefined && JSON_INTEGER.test(token) ? integerText(token) : undefined;
    if (t === 'int') {
      // Python: int(v), also of a float such as 3.0 or 1e3.
      if (!Number.isInteger(v)) throw new Error(`original_id ${JSON.stringify(raw)}: an int id whose v is not an integer`);
      if (written !== undefined) return written;
      if (Number.isSafeInteger(v)) return String(v);
      throw new Error(`original_id ${JSON.stringify(raw)}: an int id beyond 2^53 not written as a JSON integer`);
    }
    // Python: str(v): an int's digits; a float's repr (not reproduced here).
    if (written !== undefined) return written;
    throw new Error(`original_id ${JSON.stringify(raw)}: a non-int id whose v is a float`);
  }
  if (typeof v === 'string') {
    if (t !== 'int') return v;
    const s = v.trim();
    if (!/^[+-]?\d+$/.test(s)) throw new Error(`original_id ${JSON.stringify(raw)}: an int id whose v is not a decimal integer`);
    return integerText(BigInt(s).toString());
  }
  throw new Error(`original_id ${JSON.stringify(raw)}: v is ${v === null ? 'null' : typeof v}, not an int or str id`);
}

/** The Hit id of a vec0 rowid that has no `vec_id_map` row (shardyfusion keeps the rowid as the id). */
export function unmappedRowId(rowid: number | bigint): string {
  return String(rowid);
}
