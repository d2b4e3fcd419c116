/**
 * Bounds on a filter's size and nesting (issue 20, defect 4), checked on every path a filter
 * takes, each BEFORE a recursive step could overflow the stack:
 * - the router, on the CEL text before parsing ({@link checkFilterText}: length, and a linear scan
 *   of its nesting, since the CEL parser recurses once per `!` / `-` without a bound of its own);
 * - the router, on the compiled form before sending it ({@link checkFilterExpr},
 *   {@link checkCompiledFilterJson});
 * - the node, on the compiled JSON it receives before `JSON.parse` and the schema check recurse
 *   ({@link checkCompiledFilterJson}: length and a linear scan of the JSON nesting), then on the
 *   parsed form ({@link checkFilterExpr}: depth, terms, `in` values).
 * Limits and flags: request-limits.ts. Refusals are InvalidQueryError (INVALID_ARGUMENT).
 */
import { jsonNestingDepth } from '../json-nesting.ts';
import { COMPILED_FILTER_EXPANSION, limitError, type RequestLimits } from '../request-limits.ts';
import type { FilterExpr } from './filter-expr.ts';

const IDENTIFIER_CHAR = /[A-Za-z0-9_]/;

/** Index just past the CEL string literal opening at `i` (`"`, `'`, or a triple of them). */
function skipCelString(text: string, i: number, raw: boolean): number {
  const quote = text[i];
  const triple = text.startsWith(quote.repeat(3), i);
  const close = triple ? quote.repeat(3) : quote;
  let k = i + close.length;
  while (k < text.length) {
    if (!raw && text[k] === '\\') k += 2;
    else if (text.startsWith(close, k)) return k + close.length;
    else k += 1;
  }
  return text.length;
}

/**
 * An upper bound of the nesting the CEL parser recurses through for `text`: brackets `(`, `[`,
 * `{`, each adding a level, plus the chain of unary `!` / `-` operators in front of an operand
 * (they add a level each, until the next binary operator or separator ends the operand). String
 * literals and `//` comments are skipped. Linear time, no recursion.
 * @returns the deepest level reached (0 for a bare `a == 1`).
 */
export function filterTextDepth(text: string): number {
  let max = 0;
  let base = 0; // levels opened by enclosing brackets and the unary operators before them
  let run = 0; // unary operators in front of the current operand at this level
  let lastSignificant = ''; // the previous non-space character outside strings
  const stack: Array<[number, number]> = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"' || c === "'") {
      const prefix = i > 0 ? text[i - 1] : '';
      const raw = (prefix === 'r' || prefix === 'R') && (i < 2 || !IDENTIFIER_CHAR.test(text[i - 2]));
      i = skipCelString(text, i, raw);
      lastSignificant = 'x';
      continue;
    }
    if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i += 1;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i += 1;
      continue;
    }
    if (c === '!' && text[i + 1] !== '=') {
      run += 1;
      max = Math.max(max, base + run);
    } else if (c === '-' && (lastSignificant === '' || !/[A-Za-z0-9_)\]}"']/.test(lastSignificant))) {
      run += 1; // unary minus: at the start or after an operator / opening bracket / separator
      max = Math.max(max, base + run);
    } else if (c === '(' || c === '[' || c === '{') {
      stack.push([base, run]);
      base = base + run + 1;
      run = 0;
      max = Math.max(max, base);
    } else if (c === ')' || c === ']' || c === '}') {
      [base, run] = stack.pop() ?? [0, 0];
    } else if (!IDENTIFIER_CHAR.test(c) && c !== '.') {
      run = 0; // a binary operator or separator ends the operand the unary operators applied to
    }
    lastSignificant = c;
    i += 1;
  }
  return max;
}

/**
 * Checks a filter's CEL text before it is parsed: its length and {@link filterTextDepth}.
 * @throws InvalidQueryError naming the length or depth, the limit and its flag.
 */
export function checkFilterText(text: string, limits: RequestLimits): void {
  if (text.length > limits.maxFilterLength) throw limitError('maxFilterLength', limits, 'filter is', `${text.length} characters long`);
  const depth = filterTextDepth(text);
  if (depth > limits.maxFilterDepth) throw limitError('maxFilterDepth', limits, 'filter nests', `${depth} levels deep`);
}

/** Longest compiled filter JSON a node accepts, characters: {@link COMPILED_FILTER_EXPANSION} x the text limit. */
export function maxCompiledFilterChars(limits: RequestLimits): number {
  return limits.maxFilterLength * COMPILED_FILTER_EXPANSION;
}

/**
 * Checks compiled filter JSON (`ShardQuery.filter`) before `JSON.parse`: its length (at most
 * {@link maxCompiledFilterChars}) and its nesting (at most 2 x `maxFilterDepth`: each level of a
 * compiled filter is at most an object and an array).
 * @param where prefix of the message (`query 3: `), may be "".
 * @throws InvalidQueryError naming the length or depth, the limit and its flag.
 */
export function checkCompiledFilterJson(json: string, limits: RequestLimits, where = ''): void {
  const maxChars = maxCompiledFilterChars(limits);
  if (json.length > maxChars) {
    throw limitError('maxFilterLength', limits, `${where}compiled filter is`, `${json.length} characters long (at most ${COMPILED_FILTER_EXPANSION} x the filter text limit, ${maxChars})`);
  }
  const maxJsonDepth = 2 * limits.maxFilterDepth;
  const depth = jsonNestingDepth(json, maxJsonDepth);
  if (depth > maxJsonDepth) {
    throw limitError('maxFilterDepth', limits, `${where}compiled filter nests`, `more than ${maxJsonDepth} JSON levels deep (more than ${limits.maxFilterDepth} filter levels)`);
  }
}

/** Size measures of a compiled filter. */
export interface FilterSize {
  /** Levels: a leaf is 1; and / or / not add one. */
  depth: number;
  /** Nodes of the tree (leaves and and / or / not). */
  terms: number;
  /** Values over all `in` lists. */
  inValues: number;
}

/**
 * Measures `expr` without recursion, reading any JSON value shaped like a filter (the node calls
 * this on parsed JSON before the schema check): `args` arrays and `arg` objects are followed,
 * `values` arrays counted. Linear in the size of `expr`.
 */
export function measureFilter(expr: unknown): FilterSize {
  const size: FilterSize = { depth: 0, terms: 0, inValues: 0 };
  const stack: Array<[unknown, number]> = [[expr, 1]];
  while (stack.length > 0) {
    const [node, level] = stack.pop() as [unknown, number];
    size.terms += 1;
    if (level > size.depth) size.depth = level;
    if (typeof node !== 'object' || node === null) continue;
    const { args, arg, values } = node as { args?: unknown; arg?: unknown; values?: unknown };
    if (Array.isArray(args)) for (const a of args) stack.push([a, level + 1]);
    if (arg !== undefined) stack.push([arg, level + 1]);
    if (Array.isArray(values)) size.inValues += values.length;
  }
  return size;
}

/**
 * Checks a compiled filter (or parsed JSON shaped like one) against the depth, terms and `in`
 * values limits.
 * @param where prefix of the message (`query 3: `), may be "".
 * @throws InvalidQueryError naming the measure, the limit and its flag.
 */
export function checkFilterExpr(expr: FilterExpr | unknown, limits: RequestLimits, where = ''): void {
  const size = measureFilter(expr);
  if (size.terms > limits.maxFilterTerms) throw limitError('maxFilterTerms', limits, `${where}filter has`, `${size.terms} terms`);
  if (size.depth > limits.maxFilterDepth) throw limitError('maxFilterDepth', limits, `${where}filter nests`, `${size.depth} levels deep`);
  if (size.inValues > limits.maxFilterInValues) throw limitError('maxFilterInValues', limits, `${where}filter lists`, `${size.inValues} "in" values`);
}
