/**
 * Measuring how deeply JSON text nests before it is parsed: `JSON.parse` of deeply nested text
 * recurses (a stack overflow, or a long walk of what is later refused), so limits on nesting are
 * checked on the text first.
 */

/**
 * Deepest nesting of objects and arrays (`{` / `[`) in JSON text `text`, brackets inside strings
 * ignored. Linear time, no recursion, no parsing; stops at the first level over `stopAbove`.
 * @returns the deepest nesting when within `stopAbove`, else `stopAbove + 1`.
 */
export function jsonNestingDepth(text: string, stopAbove = Infinity): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > stopAbove) return deepest;
      }
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return deepest;
}
