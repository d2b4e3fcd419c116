/**
 * Bounded text for error messages and gRPC statuses: a status message travels in the
 * `grpc-message` trailer (an HTTP/2 header), and one echoing a large input (8,000 routing_context
 * column names, a 1 MB key) made grpc-js's HTTP/2 session fail, hanging that call and every call
 * in flight on the same connection. Messages name what was wrong and quote at most a short
 * prefix of the input; whatever becomes a status is cut to {@link MAX_STATUS_DETAILS_BYTES}.
 */

/** Longest status message (`details`) a shardfleet server sends, UTF-8 bytes (1 KiB). */
export const MAX_STATUS_DETAILS_BYTES = 1024;

/** Most characters of a caller's value quoted in an error message. */
export const MAX_QUOTED_CHARS = 64;

/** Most items of a caller's list named in an error message. */
export const MAX_LISTED_ITEMS = 5;

/**
 * `text` cut to at most `maxBytes` UTF-8 bytes (never inside a character), followed by
 * `…(N more bytes)` when it was cut; the marker is counted in the bound.
 * @param maxBytes the bound, bytes (default {@link MAX_STATUS_DETAILS_BYTES}); at least 32.
 */
export function boundDetails(text: string, maxBytes: number = MAX_STATUS_DETAILS_BYTES): string {
  // Fast path: a UTF-8 byte is at most 3 per UTF-16 unit, so short strings need no encoding.
  if (text.length * 3 <= maxBytes) return text;
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  const marker = (n: number): string => `…(${n} more bytes)`;
  // The marker grows with the count's digits; reserve room for the largest possible one.
  let keep = Math.max(0, maxBytes - Buffer.byteLength(marker(bytes.length)));
  // Step back to a character boundary (continuation bytes are 0b10xxxxxx).
  while (keep > 0 && (bytes[keep] & 0xc0) === 0x80) keep -= 1;
  return bytes.subarray(0, keep).toString('utf8') + marker(bytes.length - keep);
}

/**
 * A caller's value as a JSON string literal for an error message, at most
 * {@link MAX_QUOTED_CHARS} characters of it, then `…(N more characters)` when longer.
 */
export function quoteInput(value: string, maxChars: number = MAX_QUOTED_CHARS): string {
  if (value.length <= maxChars) return JSON.stringify(value);
  return `${JSON.stringify(value.slice(0, maxChars))}…(${value.length - maxChars} more characters)`;
}

/**
 * A caller's list for an error message: the first {@link MAX_LISTED_ITEMS} items, each quoted by
 * {@link quoteInput}, joined by `, `, then `and N more` when longer.
 */
export function listInputs(values: readonly string[], maxItems: number = MAX_LISTED_ITEMS): string {
  const shown = values.slice(0, maxItems).map((v) => quoteInput(v));
  return values.length > maxItems ? `${shown.join(', ')} and ${values.length - maxItems} more` : shown.join(', ');
}
