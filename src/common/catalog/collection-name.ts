/**
 * Names of collections and aliases in a catalog (issue 24).
 *
 * A catalog root (`--store s3://bucket/root`) holds one collection per child prefix that has a
 * `_CURRENT` (`root/<collection>/_CURRENT`); an alias names a collection. Both kinds of name share
 * one namespace and one syntax: 1-64 characters of `[A-Za-z0-9_.-]`, starting with a letter or a
 * digit (so a name is always one path segment and never `.`, `..` or an internal `_` key such as
 * `_CURRENT` or `_ALIASES`). The empty name in a request means the default collection.
 */
import { ConfigValidationError } from '../errors.ts';
import { quoteInput } from '../bounded-text.ts';

/** Longest collection or alias name, characters. */
export const MAX_COLLECTION_NAME_CHARS = 64;

/** The syntax of a collection or alias name. */
export const COLLECTION_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** The name under which a store prefix that itself holds `_CURRENT` (no catalog) is served. */
export const DEFAULT_COLLECTION = 'default';

/** Why `name` is not a valid collection or alias name, or undefined when it is. */
export function collectionNameProblem(name: string): string | undefined {
  if (COLLECTION_NAME_RE.test(name)) return undefined;
  if (name.length === 0) return 'is empty';
  if (name.length > MAX_COLLECTION_NAME_CHARS) return `is ${name.length} characters long (at most ${MAX_COLLECTION_NAME_CHARS})`;
  return 'must be 1-64 characters of [A-Za-z0-9_.-], starting with a letter or digit';
}

/**
 * Checks a collection or alias name.
 * @param what what the name is, for the message: a CLI flag (`--collection`), an argument
 *   (`alias name`) or a request field (`collection`).
 * @throws ConfigValidationError naming `what` and quoting (a bounded prefix of) the name.
 */
export function assertCollectionName(name: string, what: string): void {
  const problem = collectionNameProblem(name);
  if (problem !== undefined) throw new ConfigValidationError(`${what} ${quoteInput(name)} ${problem}`);
}
