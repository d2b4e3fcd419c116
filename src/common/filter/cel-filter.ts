/**
 * Compiles a query's CEL `filter` (issue 15) into a {@link FilterExpr}, type-checked against the
 * snapshot's declared filter columns. One language for routing and filtering: the expression is
 * parsed by cel-js (the parser the CEL routing uses); this module accepts the subset every backend
 * can pre-filter natively:
 *
 *   column <op> literal   (op: == != < <= > >=; the literal may be on either side)
 *   column in [literal, ...]
 *   boolcolumn  /  !boolcolumn
 *   a && b,  a || b,  !a,  (a),  true,  false
 *
 * Types: a string column compares with string literals, an int column with integers, a float
 * column with integers or doubles, a bool column with true / false (== and != only).
 * Anything else (arithmetic, functions, column-to-column comparisons, maps, ...) is rejected with
 * the construct and its offset in the expression.
 */
import { Environment, ParseError, type ASTNode } from '@marcbachmann/cel-js';
import { InvalidQueryError } from '../errors.ts';
import { DEFAULT_REQUEST_LIMITS, limitError, type RequestLimits } from '../request-limits.ts';
import type { FilterColumn, FilterComparison, FilterExpr, FilterValue } from './filter-expr.ts';
import type { SnapshotFormat } from '../manifest.ts';
import { checkCompiledFilterJson, checkFilterExpr, checkFilterText } from './filter-limits.ts';

/** Longest filter text accepted by default, characters (`--max-filter-length`). */
export const MAX_FILTER_LENGTH = DEFAULT_REQUEST_LIMITS.maxFilterLength;

/** One cel-js environment per set of limits (its parser enforces them too). */
const environments = new Map<string, Environment>();

/**
 * The cel-js environment whose parser limits follow `limits`: nesting (its parentheses and
 * accessors; our own scan covers `!` / `-`, which it does not count), list elements, AST nodes.
 */
function environmentFor(limits: RequestLimits): Environment {
  const key = `${limits.maxFilterDepth}/${limits.maxFilterInValues}/${limits.maxFilterTerms}`;
  let env = environments.get(key);
  if (env === undefined) {
    env = new Environment({
      unlistedVariablesAreDyn: true,
      limits: {
        maxDepth: limits.maxFilterDepth + 1,
        maxListElements: limits.maxFilterInValues,
        // A term is at most a few AST nodes (column, operator, literal); `in` values one each.
        maxAstNodes: 4 * limits.maxFilterTerms + limits.maxFilterInValues + 16,
      },
    });
    environments.set(key, env);
  }
  return env;
}

/** The refusal for a cel-js limit error (`Exceeded maxDepth (65)`), naming our limit and flag. */
function celLimitError(summary: string, limits: RequestLimits): InvalidQueryError {
  if (summary.includes('maxListElements')) return limitError('maxFilterInValues', limits, 'filter lists', `more than ${limits.maxFilterInValues} values in one "in" list`);
  if (summary.includes('maxAstNodes')) return limitError('maxFilterTerms', limits, 'filter has', `more than ${limits.maxFilterTerms} terms`);
  return limitError('maxFilterDepth', limits, 'filter nests', `more than ${limits.maxFilterDepth} levels deep`);
}

const COMPARISONS = new Set<string>(['==', '!=', '<', '<=', '>', '>=']);
const FLIPPED: Record<FilterComparison, FilterComparison> = { '==': '==', '!=': '!=', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

/**
 * Compiles `text` against `columns`.
 * @returns the filter; `undefined` for an empty (all-whitespace) text, meaning no filter.
 * @throws InvalidQueryError naming `filter`, the offending column or construct and its offset:
 *   a parse error, an unknown column (listing the declared ones), a literal of the wrong type, an
 *   unsupported construct, a snapshot without filter columns; a filter over `limits`
 *   (request-limits.ts: length, nesting depth, terms, `in` values, naming the limit and its flag),
 *   checked on the text before parsing and on the compiled form.
 * @param format the snapshot's format: the message for a snapshot without filter columns says
 *   why a shardyfusion snapshot has none.
 */
export function compileFilter(text: string, columns: readonly FilterColumn[], limits: RequestLimits = DEFAULT_REQUEST_LIMITS, format: SnapshotFormat = 'shardfleet'): FilterExpr | undefined {
  if (text.trim() === '') return undefined;
  checkFilterText(text, limits);
  const declared = columns.length === 0 ? '(none)' : columns.map((c) => `${c.name} (${c.type})`).join(', ');
  if (columns.length === 0) {
    throw new InvalidQueryError(
      format === 'shardyfusion'
        ? 'filter: this is a shardyfusion snapshot, and shardyfusion declares no filter columns (its payloads are stored as opaque JSON), so it cannot be filtered; search without filter, or rebuild it with shardfleet build --filter-columns name:type,...'
        : 'filter: this snapshot declares no filter columns (build it with --filter-columns name:type,...)',
    );
  }
  let ast: ASTNode;
  try {
    ast = environmentFor(limits).parse(text).ast;
  } catch (err) {
    if (err instanceof ParseError && err.code === 'limit_exceeded') throw celLimitError(err.summary, limits);
    if (err instanceof ParseError) throw new InvalidQueryError(`filter ${JSON.stringify(text)} does not parse: ${err.summary}${err.range ? ` at offset ${err.range.start}` : ''}`);
    throw err;
  }
  const byName = new Map(columns.map((c) => [c.name, c]));
  const fail = (node: ASTNode, what: string): never => {
    throw new InvalidQueryError(`filter ${JSON.stringify(text)}: ${what} at offset ${node.start}`);
  };
  const columnOf = (node: ASTNode): FilterColumn => {
    const name = node.args as string;
    const c = byName.get(name);
    if (!c) fail(node, `unknown filter column "${name}" (declared filter columns: ${declared})`);
    return c as FilterColumn;
  };
  const literalOf = (node: ASTNode, column: FilterColumn): FilterValue => {
    let raw: unknown;
    if (node.op === 'value') raw = node.args;
    else if (node.op === '-_' && (node.args as ASTNode).op === 'value') {
      const inner = (node.args as ASTNode).args;
      raw = typeof inner === 'bigint' ? -inner : typeof inner === 'number' ? -inner : fail(node, 'unary minus on a non-number');
    } else return fail(node, `column "${column.name}" must be compared with a literal, not ${describe(node)}`);
    const kind = typeof raw === 'bigint' ? 'int' : typeof raw === 'number' ? 'double' : typeof raw === 'string' ? 'string' : typeof raw === 'boolean' ? 'bool' : 'other';
    const wrong = (): never => fail(node, `column "${column.name}" is ${column.type} but is compared with ${kind === 'other' ? describe(node) : `${kind === 'int' ? 'an' : 'a'} ${kind} literal`}`);
    switch (column.type) {
      case 'string':
        return kind === 'string' ? (raw as string) : wrong();
      case 'bool':
        return kind === 'bool' ? (raw as boolean) : wrong();
      case 'int': {
        if (kind !== 'int') return wrong();
        const n = Number(raw as bigint);
        if (!Number.isSafeInteger(n)) fail(node, `integer ${String(raw)} is beyond +-(2^53-1)`);
        return n;
      }
      case 'float':
        return kind === 'int' ? Number(raw as bigint) : kind === 'double' ? (raw as number) : wrong();
    }
  };
  const walk = (node: ASTNode): FilterExpr => {
    switch (node.op) {
      case '&&':
      case '||': {
        const [a, b] = node.args as [ASTNode, ASTNode];
        const op = node.op === '&&' ? 'and' : 'or';
        const parts = [walk(a), walk(b)].flatMap((e) => (e.op === op ? e.args : [e]));
        return { op, args: parts };
      }
      case '!_':
        return { op: 'not', arg: walk(node.args as ASTNode) };
      case 'value':
        if (typeof node.args === 'boolean') return { op: 'const', value: node.args };
        return fail(node, `a filter must be a boolean expression, not ${describe(node)}`);
      case 'id': {
        const c = columnOf(node);
        if (c.type !== 'bool') fail(node, `column "${c.name}" is ${c.type}; only a bool column can stand alone as a condition`);
        return { op: 'cmp', column: c.name, cmp: '==', value: true };
      }
      case 'in': {
        const [left, right] = node.args as [ASTNode, ASTNode];
        if (left.op !== 'id') return fail(left, `the left side of "in" must be a filter column, not ${describe(left)}`);
        const c = columnOf(left);
        if (right.op !== 'list') return fail(right, `the right side of "in" must be a list literal, not ${describe(right)}`);
        const items = right.args as ASTNode[];
        if (items.length === 0) return { op: 'const', value: false };
        return { op: 'in', column: c.name, values: items.map((i) => literalOf(i, c)) };
      }
      default: {
        if (!COMPARISONS.has(node.op)) return fail(node, `unsupported construct ${describe(node)} (filters support ==, !=, <, <=, >, >=, in, &&, || and !)`);
        const cmp = node.op as FilterComparison;
        const [a, b] = node.args as [ASTNode, ASTNode];
        if (a.op === 'id' && b.op === 'id') return fail(node, 'comparing two columns is not supported (compare a column with a literal)');
        const [colNode, litNode, op] =
          a.op === 'id' ? [a, b, cmp] : b.op === 'id' ? [b, a, FLIPPED[cmp]] : fail(a.op === 'value' ? b : a, `unsupported construct ${describe(a.op === 'value' ? b : a)}: a comparison needs a filter column on one side and a literal on the other`);
        const c = columnOf(colNode);
        const value = literalOf(litNode, c);
        if (c.type === 'bool' && op !== '==' && op !== '!=') fail(node, `column "${c.name}" is bool: only == and != apply`);
        return { op: 'cmp', column: c.name, cmp: op, value };
      }
    }
  };
  const compiled = walk(ast);
  checkFilterExpr(compiled, limits);
  checkCompiledFilterJson(JSON.stringify(compiled), limits);
  return compiled;
}

function describe(node: ASTNode): string {
  const src = node.input.slice(node.start, node.end);
  const what: Record<string, string> = { call: 'a function call', rcall: 'a method call', '.': 'a field access', '[]': 'an index', list: 'a list', map: 'a map', '?:': 'a conditional', value: 'a literal', id: 'a column' };
  return `${what[node.op] ?? `operator ${node.op}`} (${JSON.stringify(src)})`;
}
