/**
 * The router's key of a run held by a node: (collection, run_id) as one string (issue 24). Two
 * collections may hold the same run_id, so node views, coalesced node calls and replica states
 * are keyed by it, never by run_id alone. The default collection ("default", also what an empty
 * collection means) keys by the bare run_id, so single-collection mode keys exactly as before;
 * any other collection by `<collection>\u0000<run_id>` (NUL occurs in neither a collection name
 * nor a run id).
 */
import { DEFAULT_COLLECTION } from '../common/catalog/collection-name.ts';

const SEP = '\u0000';

/** The key of run `runId` of `collection` ('' = the default collection). */
export function runKey(collection: string, runId: string): string {
  return collection === '' || collection === DEFAULT_COLLECTION ? runId : `${collection}${SEP}${runId}`;
}

/** The collection ('' for the default one) and run id of a {@link runKey}. */
export function splitRunKey(key: string): { collection: string; runId: string } {
  const at = key.indexOf(SEP);
  return at < 0 ? { collection: '', runId: key } : { collection: key.slice(0, at), runId: key.slice(at + 1) };
}
