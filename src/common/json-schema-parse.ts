/**
 * Parsing JSON documents of the object layout (manifest, `_CURRENT`, build plan, receipts) with
 * a zod schema, reporting the document's name and the first validation issues.
 */
import type { z } from 'zod';
import { ManifestParseError, errorMessage } from './errors.ts';

/**
 * Parses `bytes` as JSON and validates it with `schema`.
 * @param what names the document in errors, e.g. `manifest manifests/.../manifest.json`.
 * @throws ManifestParseError naming `what` when the text is not JSON or fails validation.
 */
export function parseJsonWith<T>(schema: z.ZodType<T>, bytes: Buffer | string, what: string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch (err) {
    throw new ManifestParseError(`${what} is not valid JSON: ${errorMessage(err)}`);
  }
  return validateWith(schema, raw, what);
}

/**
 * Validates an already parsed document with `schema`.
 * @param what names the document in errors.
 * @throws ManifestParseError naming `what` and the first 5 validation issues.
 */
export function validateWith<T>(schema: z.ZodType<T>, raw: unknown, what: string): T {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; ');
    throw new ManifestParseError(`${what} failed validation: ${issues}`);
  }
  return parsed.data;
}

