/**
 * Translation of a compiled filter ({@link FilterExpr}) into the SQL `WHERE` text of the LanceDB
 * (DataFusion) and sqlite-vec (SQLite) backends. Both engines follow SQL's three-valued logic, which
 * is the filter's own semantics (filter-expr.ts), so the translation is structural: a NULL column
 * makes a comparison UNKNOWN, NOT keeps UNKNOWN, AND / OR are Kleene, WHERE keeps only TRUE rows.
 *
 * Columns are stored under a prefixed name (`f_<name>`, see {@link filterColumnStorageName}) so a
 * filter column can never clash with a backend's own columns (id, vector, payload, ...).
 *
 * Literals: strings single-quoted with quotes doubled (neither engine treats backslashes
 * specially); bools `true`/`false` (LanceDB) or `1`/`0` (SQLite stores bools as integers);
 * numbers as JS prints them (a float column's integral literal gets `.0`). An int column compared
 * with a non-integral literal is compared as a double (`CAST(col AS DOUBLE)` on LanceDB, which
 * otherwise rejects the literal; SQLite compares integer and real values exactly already): int
 * values are exact doubles up to 2^53, so the comparison is exact.
 *
 * String ordering (`<`, `>` on string columns) is byte order of UTF-8 in both engines; JS (and so
 * `matchesFilter`) compares UTF-16 code units. They agree except between characters above U+FFFF
 * and those in U+E000..U+FFFF.
 */
import { InvalidQueryError } from '../errors.ts';
import type { FilterColumn, FilterExpr, FilterValue } from './filter-expr.ts';

/** The stored column name of filter column `name` (LanceDB column, sqlite-vec column). */
export function filterColumnStorageName(name: string): string {
  return `f_${name}`;
}

/**
 * `expr` with its constants folded away: `x && false` = false, `x && true` = x, `x || true` =
 * true, `x || false` = x, `!const` = const (exact in three-valued logic), nested and / or flattened.
 * The result is either a `const` or contains none.
 */
export function simplifyFilter(expr: FilterExpr): FilterExpr {
  switch (expr.op) {
    case 'const':
    case 'cmp':
    case 'in':
      return expr;
    case 'not': {
      const a = simplifyFilter(expr.arg);
      return a.op === 'const' ? { op: 'const', value: !a.value } : { op: 'not', arg: a };
    }
    case 'and':
    case 'or': {
      const absorbing = expr.op === 'or'; // the constant that decides the whole expression
      const args: FilterExpr[] = [];
      for (const raw of expr.args) {
        const a = simplifyFilter(raw);
        if (a.op === 'const') {
          if (a.value === absorbing) return a;
          continue; // the neutral constant
        }
        if (a.op === expr.op) args.push(...a.args);
        else args.push(a);
      }
      if (args.length === 0) return { op: 'const', value: !absorbing };
      return args.length === 1 ? args[0] : { op: expr.op, args };
    }
  }
}

/** SQL dialect of a backend. */
export type FilterSqlDialect = 'lance' | 'sqlite';

/** A declared column, or InvalidQueryError naming it. */
export function filterColumnNamed(columns: readonly FilterColumn[], name: string): FilterColumn {
  const c = columns.find((x) => x.name === name);
  if (c === undefined) throw new InvalidQueryError(`filter column ${JSON.stringify(name)} is not a filter column of this shard`);
  return c;
}

/**
 * Checks that `value` has the type of `column` (numbers for int and float columns).
 * @throws InvalidQueryError naming the column.
 */
function checkLiteral(column: FilterColumn, value: FilterValue): void {
  const want = column.type === 'string' ? 'string' : column.type === 'bool' ? 'boolean' : 'number';
  if (typeof value !== want || (typeof value === 'number' && !Number.isFinite(value))) {
    throw new InvalidQueryError(`filter compares ${column.type} column ${JSON.stringify(column.name)} with ${JSON.stringify(value)}`);
  }
}

/** A quoted SQL identifier. */
export function sqlIdentifier(dialect: FilterSqlDialect, name: string): string {
  return dialect === 'lance' ? `\`${name.replaceAll('`', '``')}\`` : `"${name.replaceAll('"', '""')}"`;
}

/** A SQL string literal: single-quoted, single quotes doubled. */
export function sqlStringLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** A literal for a column of type `type`. */
export function sqlLiteral(dialect: FilterSqlDialect, type: FilterColumn['type'], value: FilterValue): string {
  if (typeof value === 'string') return sqlStringLiteral(value);
  if (typeof value === 'boolean') return dialect === 'lance' ? String(value) : value ? '1' : '0';
  const text = String(value);
  // A float column's integral literal as a float (DataFusion keeps 15 an integer otherwise).
  return type === 'float' && /^-?\d+$/.test(text) ? `${text}.0` : text;
}

/**
 * The SQL text of `expr` (already simplified or not) for `dialect`.
 * @param columns the shard's filter columns (types decide literals).
 * @param qualifier prefix of each column reference (e.g. `i.` for a joined table), default none.
 * @throws InvalidQueryError for a column not in `columns` or a literal of another type.
 */
export function filterToSql(expr: FilterExpr, columns: readonly FilterColumn[], dialect: FilterSqlDialect, qualifier = ''): string {
  const ref = (c: FilterColumn, values: readonly FilterValue[]): string => {
    const id = qualifier + sqlIdentifier(dialect, filterColumnStorageName(c.name));
    const fractional = c.type === 'int' && values.some((v) => !Number.isInteger(v));
    return fractional && dialect === 'lance' ? `CAST(${id} AS DOUBLE)` : id;
  };
  const walk = (e: FilterExpr): string => {
    switch (e.op) {
      case 'const':
        return dialect === 'lance' ? (e.value ? 'TRUE' : 'FALSE') : e.value ? '1' : '0';
      case 'cmp': {
        const c = filterColumnNamed(columns, e.column);
        checkLiteral(c, e.value);
        const op = e.cmp === '==' ? '=' : e.cmp === '!=' ? '<>' : e.cmp;
        return `${ref(c, [e.value])} ${op} ${sqlLiteral(dialect, c.type, e.value)}`;
      }
      case 'in': {
        const c = filterColumnNamed(columns, e.column);
        for (const v of e.values) checkLiteral(c, v);
        return `${ref(c, e.values)} IN (${e.values.map((v) => sqlLiteral(dialect, c.type, v)).join(', ')})`;
      }
      case 'not':
        return `NOT (${walk(e.arg)})`;
      case 'and':
      case 'or':
        return e.args.map((a) => `(${walk(a)})`).join(e.op === 'and' ? ' AND ' : ' OR ');
    }
  };
  return walk(expr);
}
