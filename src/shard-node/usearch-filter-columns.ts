/**
 * Filter columns of a usearch shard held in memory, column-major and compact, and the evaluation
 * of a compiled filter (FilterExpr) over them into a bitmap of matching keys (issue 15).
 *
 * usearch's Node binding has no filtered (predicate) search, so the reader evaluates the filter
 * itself: every column is loaded at open from `rows.sqlite`'s `filters` table (layout in
 * `src/common/usearch-layout.ts`) into one typed array indexed by key (row number):
 *
 * - `int`: the narrowest of Int8 / Int16 / Int32 that holds the shard's min..max, else Float64;
 * - `float`: Float64 (doubles, so comparisons equal `matchesFilter`'s exactly);
 * - `string`: dictionary codes (Uint8 / Uint16 / Uint32 by dictionary size) plus the dictionary;
 * - `bool`: a bitmap (1 bit per row);
 * - plus, only for a column with NULLs, a NULL bitmap (1 bit per row).
 *
 * A filter is compiled per query into word-wise bitmap operations: each comparison / `in` is one
 * loop over its column producing the rows where it is TRUE and those where it is FALSE (rows
 * where it is UNKNOWN are in neither), and `&&` / `||` / `!` combine those pairs 32 rows at a time
 * with Kleene's three-valued logic (not: swap; and: T = T1 & T2, F = F1 | F2; or: T = T1 | T2,
 * F = F1 & F2). A row matches when it is in the final TRUE set, exactly as `matchesFilter` says.
 * String (and bool) comparisons are evaluated once per dictionary entry with the same `compare`
 * semantics, then looked up per row.
 */
import type Database from 'better-sqlite3';
import { InvalidQueryError } from '../common/errors.ts';
import { FILTER_COMPARISONS, compareFilterValues, type FilterColumn, type FilterComparison, type FilterExpr, type FilterValue } from '../common/filter/filter-expr.ts';
import { usearchFilterSqlColumn, USEARCH_FILTERS_TABLE } from '../common/usearch-layout.ts';

type NumberArray = Int8Array | Int16Array | Int32Array | Float64Array;
type CodeArray = Uint8Array | Uint16Array | Uint32Array;

/** One loaded column. */
type LoadedColumn =
  | { name: string; type: 'int' | 'float'; values: NumberArray; nulls?: Uint32Array }
  | { name: string; type: 'string'; codes: CodeArray; dict: string[]; nulls?: Uint32Array }
  | { name: string; type: 'bool'; bits: Uint32Array; nulls?: Uint32Array };

/** A three-valued bitmap pair: rows where an expression is TRUE, and where it is FALSE. */
interface Tri {
  t: Uint32Array;
  f: Uint32Array;
}

/** Number of set bits of a 32-bit word. */
function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** The filter columns of one shard, in memory. */
export class UsearchFilterColumns {
  private readonly byName: Map<string, LoadedColumn>;
  private readonly words: number;
  /** Bits of the last word that are rows (0xffffffff when n is a multiple of 32). */
  private readonly tailMask: number;

  private constructor(
    /** Rows (keys 0..n-1). */
    readonly rows: number,
    columns: LoadedColumn[],
  ) {
    this.byName = new Map(columns.map((c) => [c.name, c]));
    this.words = Math.ceil(rows / 32);
    this.tailMask = rows % 32 === 0 ? 0xffffffff : (1 << rows % 32) - 1;
  }

  /** A shard without filter columns (every filter that names a column is rejected). */
  static empty(rows: number): UsearchFilterColumns {
    return new UsearchFilterColumns(rows, []);
  }

  /**
   * Loads `columns` from the `filters` table of an open `rows.sqlite` (one aggregate query per
   * int / string column for its range or dictionary, then one pass over the table in key order).
   * @throws Error when the table misses a key, has extra rows, or holds a value of another type.
   */
  static load(db: Database.Database, columns: readonly FilterColumn[], rows: number): UsearchFilterColumns {
    if (columns.length === 0) return UsearchFilterColumns.empty(rows);
    const words = Math.ceil(rows / 32);
    const loaded: LoadedColumn[] = [];
    type Setter = (key: number, v: unknown) => void;
    const setters: Setter[] = [];
    for (const c of columns) {
      const sql = usearchFilterSqlColumn(c.name);
      let nulls: Uint32Array | undefined;
      const hasNulls = db.prepare<[], number>(`SELECT count(*) FROM ${USEARCH_FILTERS_TABLE} WHERE ${sql} IS NULL`).pluck(true).get()! > 0;
      if (hasNulls) nulls = new Uint32Array(words);
      const markNull = (key: number): void => {
        nulls![key >>> 5] |= 1 << (key & 31);
      };
      const bad = (key: number, v: unknown): never => {
        throw new Error(`${USEARCH_FILTERS_TABLE} row ${key}: column ${c.name} (${c.type}) holds ${JSON.stringify(v)}`);
      };
      if (c.type === 'int' || c.type === 'float') {
        let values: NumberArray;
        if (c.type === 'float') values = new Float64Array(rows);
        else {
          const r = db.prepare<[], { lo: number | null; hi: number | null }>(`SELECT min(${sql}) AS lo, max(${sql}) AS hi FROM ${USEARCH_FILTERS_TABLE}`).get()!;
          const lo = r.lo ?? 0;
          const hi = r.hi ?? 0;
          values =
            lo >= -128 && hi <= 127 ? new Int8Array(rows) : lo >= -32768 && hi <= 32767 ? new Int16Array(rows) : lo >= -(2 ** 31) && hi < 2 ** 31 ? new Int32Array(rows) : new Float64Array(rows);
        }
        const isInt = c.type === 'int';
        setters.push((key, v) => {
          if (v === null) markNull(key);
          else if (typeof v === 'number' && (!isInt || Number.isSafeInteger(v))) values[key] = v;
          else if (typeof v === 'bigint' && isInt) values[key] = Number(v);
          else bad(key, v);
        });
        loaded.push({ name: c.name, type: c.type, values, nulls });
      } else if (c.type === 'string') {
        const dict = db.prepare<[], string>(`SELECT DISTINCT ${sql} FROM ${USEARCH_FILTERS_TABLE} WHERE ${sql} IS NOT NULL`).pluck(true).all();
        const codeOf = new Map(dict.map((s, i) => [s, i]));
        const codes: CodeArray = dict.length <= 256 ? new Uint8Array(rows) : dict.length <= 65536 ? new Uint16Array(rows) : new Uint32Array(rows);
        setters.push((key, v) => {
          if (v === null) return markNull(key);
          const code = typeof v === 'string' ? codeOf.get(v) : undefined;
          if (code === undefined) bad(key, v);
          else codes[key] = code;
        });
        loaded.push({ name: c.name, type: 'string', codes, dict, nulls });
      } else {
        const bits = new Uint32Array(words);
        setters.push((key, v) => {
          if (v === null) markNull(key);
          else if (v === 1) bits[key >>> 5] |= 1 << (key & 31);
          else if (v !== 0) bad(key, v);
        });
        loaded.push({ name: c.name, type: 'bool', bits, nulls });
      }
    }
    const select = db.prepare(`SELECT key, ${columns.map((c) => usearchFilterSqlColumn(c.name)).join(', ')} FROM ${USEARCH_FILTERS_TABLE} ORDER BY key`).raw(true);
    let key = 0;
    for (const row of select.iterate() as IterableIterator<unknown[]>) {
      if (row[0] !== key) throw new Error(`${USEARCH_FILTERS_TABLE} has no row for key ${key} (next key: ${String(row[0])})`);
      if (key >= rows) throw new Error(`${USEARCH_FILTERS_TABLE} has more than ${rows} rows`);
      for (let i = 0; i < setters.length; i++) setters[i](key, row[i + 1]);
      key++;
    }
    if (key !== rows) throw new Error(`${USEARCH_FILTERS_TABLE} has ${key} rows, the shard has ${rows}`);
    return new UsearchFilterColumns(rows, loaded);
  }

  /** Names of the loaded columns. */
  get columnNames(): string[] {
    return [...this.byName.keys()];
  }

  /** Bytes of the in-memory columns (typed arrays plus dictionary strings at 2 bytes a char). */
  get bytes(): number {
    let sum = 0;
    for (const c of this.byName.values()) {
      sum += c.nulls?.byteLength ?? 0;
      if (c.type === 'string') sum += c.codes.byteLength + c.dict.reduce((s, x) => s + 16 + 2 * x.length, 0);
      else if (c.type === 'bool') sum += c.bits.byteLength;
      else sum += c.values.byteLength;
    }
    return sum;
  }

  /**
   * The rows matching `expr`, as a bitmap (bit `key & 31` of word `key >>> 5`; bits past the last
   * row are 0).
   * @throws InvalidQueryError naming a column the shard does not have, or an unknown operator.
   */
  evaluate(expr: FilterExpr): Uint32Array {
    return this.tri(expr).t;
  }

  /** The keys set in `bits`, ascending. */
  static keysOf(bits: Uint32Array): Uint32Array {
    let count = 0;
    for (let w = 0; w < bits.length; w++) if (bits[w] !== 0) count += popcount(bits[w]);
    const out = new Uint32Array(count);
    let j = 0;
    for (let w = 0; w < bits.length; w++) {
      let x = bits[w];
      while (x !== 0) {
        const low = x & -x;
        out[j++] = w * 32 + (31 - Math.clz32(low));
        x ^= low;
      }
    }
    return out;
  }

  /** Whether `key` is set in `bits`. */
  static has(bits: Uint32Array, key: number): boolean {
    return (bits[key >>> 5] & (1 << (key & 31))) !== 0;
  }

  private allRows(): Uint32Array {
    const a = new Uint32Array(this.words).fill(0xffffffff);
    if (this.words > 0) a[this.words - 1] = this.tailMask;
    return a;
  }

  private tri(expr: FilterExpr): Tri {
    switch (expr.op) {
      case 'const': {
        const all = this.allRows();
        const none = new Uint32Array(this.words);
        return expr.value ? { t: all, f: none } : { t: none, f: all };
      }
      case 'not': {
        const a = this.tri(expr.arg);
        return { t: a.f, f: a.t };
      }
      case 'and':
      case 'or': {
        if (!Array.isArray(expr.args) || expr.args.length === 0) throw new InvalidQueryError(`filter: ${expr.op} needs at least one argument`);
        const acc = this.tri(expr.args[0]);
        for (let i = 1; i < expr.args.length; i++) {
          const b = this.tri(expr.args[i]);
          const { t, f } = acc;
          if (expr.op === 'and') for (let w = 0; w < t.length; w++) (t[w] &= b.t[w]), (f[w] |= b.f[w]);
          else for (let w = 0; w < t.length; w++) (t[w] |= b.t[w]), (f[w] &= b.f[w]);
        }
        return acc;
      }
      case 'cmp':
      case 'in':
        return this.leaf(expr);
      default:
        throw new InvalidQueryError(`filter: unknown operator ${JSON.stringify((expr as { op: unknown }).op)}`);
    }
  }

  /** TRUE / FALSE bitmaps of one comparison or `in`. */
  private leaf(expr: Extract<FilterExpr, { op: 'cmp' | 'in' }>): Tri {
    const c = this.byName.get(expr.column);
    if (c === undefined) {
      const have = this.byName.size === 0 ? 'the shard has no filter columns' : `the shard's filter columns are ${this.columnNames.join(', ')}`;
      throw new InvalidQueryError(`filter: unknown column ${JSON.stringify(expr.column)} (${have})`);
    }
    if (expr.op === 'cmp' && !FILTER_COMPARISONS.includes(expr.cmp)) throw new InvalidQueryError(`filter: unknown comparison ${JSON.stringify(expr.cmp)}`);
    /** Truth of the leaf for one non-NULL value (generic, `compare` semantics). */
    const test = expr.op === 'in' ? (v: FilterValue): boolean => expr.values.includes(v) : (v: FilterValue): boolean => compareFilterValues(v, expr.value, expr.cmp);
    const n = this.rows;
    const t = new Uint32Array(this.words);
    if (c.type === 'bool') {
      const onTrue = test(true);
      const onFalse = test(false);
      for (let w = 0; w < t.length; w++) t[w] = (onTrue ? c.bits[w] : 0) | (onFalse ? ~c.bits[w] : 0);
    } else if (c.type === 'string') {
      const table = new Uint8Array(c.dict.length);
      for (let i = 0; i < table.length; i++) table[i] = test(c.dict[i]) ? 1 : 0;
      const codes = c.codes;
      for (let i = 0; i < n; i++) if (table[codes[i]] === 1) t[i >>> 5] |= 1 << (i & 31);
    } else {
      numberLeaf(c.values, expr, test, t);
    }
    // FALSE = known rows where the leaf is not TRUE; TRUE only on known rows.
    const f = new Uint32Array(this.words);
    const nulls = c.nulls;
    for (let w = 0; w < t.length; w++) {
      const known = (nulls ? ~nulls[w] : 0xffffffff) & (w === t.length - 1 ? this.tailMask : 0xffffffff);
      t[w] &= known;
      f[w] = known & ~t[w];
    }
    return { t, f };
  }
}

/** Sets in `t` the rows of a number column where the leaf holds (NULL rows are masked later). */
function numberLeaf(values: NumberArray, expr: Extract<FilterExpr, { op: 'cmp' | 'in' }>, test: (v: FilterValue) => boolean, t: Uint32Array): void {
  const n = values.length;
  const set = (i: number): void => {
    t[i >>> 5] |= 1 << (i & 31);
  };
  if (expr.op === 'in') {
    const wanted = new Set(expr.values.filter((v): v is number => typeof v === 'number'));
    if (wanted.size === 0) return;
    if (wanted.size === 1) {
      const x = [...wanted][0];
      for (let i = 0; i < n; i++) if (values[i] === x) set(i);
    } else for (let i = 0; i < n; i++) if (wanted.has(values[i])) set(i);
    return;
  }
  const x = expr.value;
  if (typeof x !== 'number') {
    for (let i = 0; i < n; i++) if (test(values[i])) set(i);
    return;
  }
  switch (expr.cmp) {
    case '==':
      for (let i = 0; i < n; i++) if (values[i] === x) set(i);
      break;
    case '!=':
      for (let i = 0; i < n; i++) if (values[i] !== x) set(i);
      break;
    case '<':
      for (let i = 0; i < n; i++) if (values[i] < x) set(i);
      break;
    case '<=':
      for (let i = 0; i < n; i++) if (values[i] <= x) set(i);
      break;
    case '>':
      for (let i = 0; i < n; i++) if (values[i] > x) set(i);
      break;
    case '>=':
      for (let i = 0; i < n; i++) if (values[i] >= x) set(i);
      break;
  }
}
