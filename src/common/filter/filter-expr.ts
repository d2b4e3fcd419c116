/**
 * Search filters (issue 15): the typed filter columns a build declares (`--filter-columns`), the
 * compiled form of a query's CEL `filter` that travels router -> node (a small boolean expression
 * tree, JSON on the wire in `ShardQuery.filter`), its evaluation on a row, and the per-shard
 * statistics the router uses to skip shards that cannot hold a match.
 *
 * Semantics (the same on every backend, SQL's three-valued logic): a row's column is a value or
 * NULL (the payload lacks the field, or holds null). A comparison or `in` with a NULL column is
 * UNKNOWN; `!` of UNKNOWN is UNKNOWN; `&&` / `||` follow Kleene logic; a row matches only when the
 * whole filter is TRUE. So `label != "shirt"` does not match a row without a label.
 */
import { z } from 'zod';
import { FILTER_COLUMN_TYPES } from '../choice-lists.ts';

/** Column types a filter can declare. `int`: integers (exact up to 2^53); `float`: doubles. */
export { FILTER_COLUMN_TYPES };
export type FilterColumnType = (typeof FILTER_COLUMN_TYPES)[number];

/** Column names: identifiers (they are CEL variables and SQL column names). */
export const FILTER_COLUMN_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** A declared filter column: a payload field of one type. */
export const FilterColumnSchema = z.object({
  name: z.string().regex(FILTER_COLUMN_NAME),
  type: z.enum(FILTER_COLUMN_TYPES),
});
export type FilterColumn = z.infer<typeof FilterColumnSchema>;

/** A literal of a filter (strings, numbers: int or float, booleans). */
export type FilterValue = string | number | boolean;

/** Comparison operators. */
export const FILTER_COMPARISONS = ['==', '!=', '<', '<=', '>', '>='] as const;
export type FilterComparison = (typeof FILTER_COMPARISONS)[number];

/**
 * A compiled filter. `cmp`: `column <cmp> value`; `in`: column equals one of `values` (non-empty);
 * `const`: always true / false (e.g. `true`, or a folded literal).
 */
export type FilterExpr =
  | { op: 'and' | 'or'; args: FilterExpr[] }
  | { op: 'not'; arg: FilterExpr }
  | { op: 'cmp'; column: string; cmp: FilterComparison; value: FilterValue }
  | { op: 'in'; column: string; values: FilterValue[] }
  | { op: 'const'; value: boolean };

const ValueSchema = z.union([z.string(), z.number(), z.boolean()]);

/** Schema of a compiled filter (what a node accepts in `ShardQuery.filter`). */
export const FilterExprSchema: z.ZodType<FilterExpr> = z.lazy(() =>
  z.union([
    z.object({ op: z.enum(['and', 'or']), args: z.array(FilterExprSchema).min(1) }),
    z.object({ op: z.literal('not'), arg: FilterExprSchema }),
    z.object({ op: z.literal('cmp'), column: z.string(), cmp: z.enum(FILTER_COMPARISONS), value: ValueSchema }),
    z.object({ op: z.literal('in'), column: z.string(), values: z.array(ValueSchema).min(1) }),
    z.object({ op: z.literal('const'), value: z.boolean() }),
  ]),
);

/** A row's filter column values by name (null / absent = NULL). */
export type FilterRow = Readonly<Record<string, FilterValue | null | undefined>>;

/** Three-valued truth: true, false, or undefined (UNKNOWN). */
type Truth = boolean | undefined;

/** `a <cmp> b` for two non-NULL filter values (JavaScript ordering: strings by UTF-16 code units). */
export function compareFilterValues(a: FilterValue, b: FilterValue, cmp: FilterComparison): boolean {
  switch (cmp) {
    case '==':
      return a === b;
    case '!=':
      return a !== b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
  }
}

function truth(expr: FilterExpr, row: FilterRow): Truth {
  switch (expr.op) {
    case 'const':
      return expr.value;
    case 'cmp': {
      const v = row[expr.column];
      return v === null || v === undefined ? undefined : compareFilterValues(v, expr.value, expr.cmp);
    }
    case 'in': {
      const v = row[expr.column];
      return v === null || v === undefined ? undefined : expr.values.includes(v);
    }
    case 'not': {
      const t = truth(expr.arg, row);
      return t === undefined ? undefined : !t;
    }
    case 'and': {
      let unknown = false;
      for (const a of expr.args) {
        const t = truth(a, row);
        if (t === false) return false;
        if (t === undefined) unknown = true;
      }
      return unknown ? undefined : true;
    }
    case 'or': {
      let unknown = false;
      for (const a of expr.args) {
        const t = truth(a, row);
        if (t === true) return true;
        if (t === undefined) unknown = true;
      }
      return unknown ? undefined : false;
    }
  }
}

/** True when `row` matches `expr` (the filter is TRUE for it; UNKNOWN does not match). */
export function matchesFilter(expr: FilterExpr, row: FilterRow): boolean {
  return truth(expr, row) === true;
}

/** The columns `expr` reads, distinct, in first-use order. */
export function filterColumnsOf(expr: FilterExpr): string[] {
  const out = new Set<string>();
  const walk = (e: FilterExpr): void => {
    if (e.op === 'cmp' || e.op === 'in') out.add(e.column);
    else if (e.op === 'not') walk(e.arg);
    else if (e.op === 'and' || e.op === 'or') e.args.forEach(walk);
  };
  walk(expr);
  return [...out];
}

/**
 * The value of filter column `column` in a payload, checked against its type.
 * @returns the value, or null when the payload lacks the field or holds null.
 * @throws RangeError naming the column when the value has another type (an int column holding
 *   1.5 or "1", a bool column holding 0, ...).
 */
export function filterValueOf(payload: Readonly<Record<string, unknown>> | undefined, column: FilterColumn): FilterValue | null {
  const v = payload?.[column.name];
  if (v === undefined || v === null) return null;
  switch (column.type) {
    case 'string':
      if (typeof v === 'string') return v;
      break;
    case 'int':
      if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
      break;
    case 'float':
      if (typeof v === 'number' && Number.isFinite(v)) return v;
      break;
    case 'bool':
      if (typeof v === 'boolean') return v;
      break;
  }
  throw new RangeError(`filter column "${column.name}" is declared ${column.type} but the payload holds ${JSON.stringify(v)}`);
}

/**
 * The filter row of a payload: each column's value ({@link filterValueOf}) or null.
 * @throws RangeError as filterValueOf.
 */
export function filterRowOf(payload: Readonly<Record<string, unknown>> | undefined, columns: readonly FilterColumn[]): Record<string, FilterValue | null> {
  const row: Record<string, FilterValue | null> = {};
  for (const c of columns) row[c.name] = filterValueOf(payload, c);
  return row;
}

/** Most distinct values a shard's statistics keep per column; more: only min/max remain. */
export const FILTER_STATS_MAX_DISTINCT = 64;

/**
 * Statistics of one filter column in one shard: rows with a value (`count`) and NULLs, min / max
 * (numbers and strings; absent when count is 0), and the distinct values when there are at most
 * {@link FILTER_STATS_MAX_DISTINCT} (sorted; absent when there are more).
 */
export const FilterColumnStatsSchema = z.object({
  count: z.number().int().nonnegative(),
  nulls: z.number().int().nonnegative(),
  min: ValueSchema.optional(),
  max: ValueSchema.optional(),
  values: z.array(ValueSchema).optional(),
  /** Rows holding each of `values` (same order); present with `values` in snapshots built since it was added. */
  value_counts: z.array(z.number().int().nonnegative()).optional(),
});
export type FilterColumnStats = z.infer<typeof FilterColumnStatsSchema>;

/** Per-shard statistics of every filter column, by column name. */
export type FilterStats = Record<string, FilterColumnStats>;

function valuesAndCounts(m: Map<FilterValue, number>): { values: FilterValue[]; value_counts: number[] } {
  const values = [...m.keys()].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  return { values, value_counts: values.map((v) => m.get(v) ?? 0) };
}

/** Accumulates one shard's {@link FilterStats} as rows are added. */
export class FilterStatsBuilder {
  private readonly acc = new Map<string, { count: number; nulls: number; min?: FilterValue; max?: FilterValue; values: Map<FilterValue, number> | undefined }>();

  constructor(private readonly columns: readonly FilterColumn[]) {
    for (const c of columns) this.acc.set(c.name, { count: 0, nulls: 0, values: new Map() });
  }

  /** Adds one row's values (from {@link filterValueOf}). */
  add(row: FilterRow): void {
    for (const c of this.columns) {
      const a = this.acc.get(c.name)!;
      const v = row[c.name];
      if (v === null || v === undefined) {
        a.nulls += 1;
        continue;
      }
      a.count += 1;
      if (a.min === undefined || v < a.min) a.min = v;
      if (a.max === undefined || v > a.max) a.max = v;
      if (a.values) {
        a.values.set(v, (a.values.get(v) ?? 0) + 1);
        if (a.values.size > FILTER_STATS_MAX_DISTINCT) a.values = undefined;
      }
    }
  }

  /** The statistics so far. */
  finish(): FilterStats {
    const out: FilterStats = {};
    for (const [name, a] of this.acc) {
      out[name] = {
        count: a.count,
        nulls: a.nulls,
        ...(a.min === undefined ? {} : { min: a.min, max: a.max }),
        ...(a.values ? valuesAndCounts(a.values) : {}),
      };
    }
    return out;
  }
}

/**
 * Whether a shard with `stats` may hold a row matching `expr` (false only when the statistics
 * prove it cannot: every value outside a comparison's range, no listed value present, a column
 * with no values at all). Conservative: true when unsure (e.g. under `!`, or without stats).
 */
export function shardMayMatch(expr: FilterExpr, stats: FilterStats | undefined): boolean {
  if (!stats) return true;
  return mayBe(expr, stats, true);
}

/** Whether `expr` can be TRUE (`want` true) or FALSE-or-... (`want` false: can be FALSE) on some row. */
function mayBe(expr: FilterExpr, stats: FilterStats, want: boolean): boolean {
  switch (expr.op) {
    case 'const':
      return expr.value === want;
    case 'not':
      return mayBe(expr.arg, stats, !want);
    case 'and':
      return want ? expr.args.every((a) => mayBe(a, stats, true)) : expr.args.some((a) => mayBe(a, stats, false));
    case 'or':
      return want ? expr.args.some((a) => mayBe(a, stats, true)) : expr.args.every((a) => mayBe(a, stats, false));
    case 'cmp':
    case 'in': {
      const s = stats[expr.column];
      if (!s) return true;
      if (s.count === 0) return false; // every row is NULL: the comparison is never TRUE nor FALSE
      if (!want) return true; // some non-NULL row may make it FALSE (we do not track enough to prove otherwise)
      if (expr.op === 'in') return expr.values.some((v) => valueMay(s, '==', v));
      return valueMay(s, expr.cmp, expr.value);
    }
  }
}

/** Whether some value of a column with stats `s` satisfies `<cmp> v`. */
function valueMay(s: FilterColumnStats, cmp: FilterComparison, v: FilterValue): boolean {
  if (s.values) return s.values.some((x) => typeof x === typeof v && compareFilterValues(x, v, cmp));
  const { min, max } = s;
  if (min === undefined || max === undefined || typeof min !== typeof v) return true;
  switch (cmp) {
    case '==':
      return min <= v && v <= max;
    case '!=':
      return !(min === v && max === v);
    case '<':
      return min < v;
    case '<=':
      return min <= v;
    case '>':
      return max > v;
    case '>=':
      return max >= v;
  }
}

/**
 * Estimated number of a shard's rows matching `expr`, from its statistics: exact for `==` / `in`
 * on a column with value counts, the uniform share of [min, max] for a range, and independence
 * between terms (`&&` multiplies fractions, `||` combines them as 1 - prod(1 - f), `!` takes the
 * complement). A heuristic for routing (which shards hold enough matches), never for correctness.
 * @param rows the shard's row count (vector_count); @returns a number in [0, rows].
 */
export function estimateMatches(expr: FilterExpr, stats: FilterStats | undefined, rows: number): number {
  if (rows <= 0) return 0;
  return Math.max(0, Math.min(rows, rows * fraction(expr, stats, rows)));
}

function fraction(expr: FilterExpr, stats: FilterStats | undefined, rows: number): number {
  switch (expr.op) {
    case 'const':
      return expr.value ? 1 : 0;
    case 'not':
      return 1 - fraction(expr.arg, stats, rows);
    case 'and':
      return expr.args.reduce((f, a) => f * fraction(a, stats, rows), 1);
    case 'or':
      return 1 - expr.args.reduce((f, a) => f * (1 - fraction(a, stats, rows)), 1);
    case 'cmp':
    case 'in': {
      const s = stats?.[expr.column];
      if (!s) return shardMayMatch(expr, stats) ? 1 : 0;
      if (s.count === 0) return 0;
      const test = (x: FilterValue): boolean => (expr.op === 'in' ? expr.values.includes(x) : typeof x === typeof expr.value && compareFilterValues(x, expr.value, expr.cmp));
      if (s.values && s.value_counts && s.value_counts.length === s.values.length) {
        let n = 0;
        s.values.forEach((x, i) => {
          if (test(x)) n += s.value_counts![i];
        });
        return n / rows;
      }
      const nonNull = s.count / rows;
      if (s.values) return (nonNull * s.values.filter(test).length) / Math.max(1, s.values.length);
      if (expr.op === 'cmp' && typeof s.min === 'number' && typeof s.max === 'number' && typeof expr.value === 'number') {
        const { min, max } = s;
        const v = expr.value;
        const span = max - min;
        const below = span <= 0 ? (v > min ? 1 : 0) : Math.max(0, Math.min(1, (v - min) / span));
        switch (expr.cmp) {
          case '<':
          case '<=':
            return nonNull * below;
          case '>':
          case '>=':
            return nonNull * (1 - below);
          case '==':
            return valueMay(s, '==', v) ? nonNull / Math.max(1, s.count) : 0;
          case '!=':
            return nonNull;
        }
      }
      return valueMay(s, expr.op === 'in' ? '==' : expr.cmp, expr.op === 'in' ? expr.values[0] : expr.value) ? nonNull : 0;
    }
  }
}
