/**
 * Defaults of the router's live recall flags (live-recall.ts), in a module without imports so the
 * CLI can show them without loading the router.
 */

/** Default `--live-recall-fraction`: 1% of answered queries. */
export const DEFAULT_LIVE_RECALL_FRACTION = 0.01;
/** Default `--live-recall-max-per-second`. */
export const DEFAULT_LIVE_RECALL_MAX_PER_SECOND = 2;
