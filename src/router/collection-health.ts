/**
 * Health over several collections (issue 24): each collection's Health (router-health.ts
 * computeHealth) as a CollectionHealth, and the top-level fields of HealthResponse: the only
 * collection's when one is served (single-collection mode: exactly as before), else the worst
 * status, the lowest coverage, every reason prefixed with its collection, and the run fields of
 * the default collection (empty when there is none).
 */
import type { CollectionHealth } from '../common/proto-gen/shardfleet/v1/CollectionHealth.ts';
import type { HealthResponse } from '../common/proto-gen/shardfleet/v1/HealthResponse.ts';
import { readinessFromHealth } from './router-health.ts';

/** Status names, best first. */
const ORDER = ['healthy', 'degraded', 'unhealthy'];

/** One collection's health. */
export interface NamedHealth {
  name: string;
  health: HealthResponse;
}

/** The CollectionHealth of one collection. */
export function collectionHealthOf({ name, health: h }: NamedHealth): CollectionHealth {
  return {
    name,
    status: h.status,
    reasons: h.reasons,
    run_id: h.run_id,
    snapshot_age_seconds: h.snapshot_age_seconds,
    coverage: h.coverage,
    last_refresh_error: h.last_refresh_error,
    pending_run_id: h.pending_run_id,
  };
}

/**
 * The router's Health over `all` (sorted by name by the caller).
 * @param defaultName the collection a request without one is answered from, or '' when none.
 */
export function aggregateHealth(all: readonly NamedHealth[], defaultName: string): HealthResponse {
  const collections = all.map(collectionHealthOf);
  if (all.length === 1) return { ...all[0].health, collections, default_collection: defaultName };
  if (all.length === 0) {
    return { status: 'unhealthy', reasons: ['no collection is served: none found under the catalog root'], run_id: '', snapshot_age_seconds: 0, coverage: 0, last_refresh_error: '', pending_run_id: '', collections, default_collection: '' };
  }
  const worst = all.reduce((w, c) => Math.max(w, ORDER.indexOf(c.health.status ?? 'unhealthy')), 0);
  const def = all.find((c) => c.name === defaultName)?.health;
  const refreshErrors = all.filter((c) => (c.health.last_refresh_error ?? '') !== '').map((c) => `${c.name}: ${c.health.last_refresh_error}`);
  return {
    status: ORDER[Math.max(0, worst)],
    reasons: all.flatMap((c) => (c.health.reasons ?? []).map((r) => `${c.name}: ${r}`)),
    run_id: def?.run_id ?? '',
    snapshot_age_seconds: def?.snapshot_age_seconds ?? 0,
    coverage: Math.min(...all.map((c) => Number(c.health.coverage ?? 0))),
    last_refresh_error: refreshErrors.join(' | '),
    pending_run_id: def?.pending_run_id ?? '',
    collections,
    default_collection: defaultName,
  };
}

/** `/readyz` over collections: ready when every collection is ready (readinessFromHealth); reasons name the collection. */
export function readinessOfCollections(all: readonly NamedHealth[]): { ready: boolean; reason: string } {
  if (all.length === 1) return readinessFromHealth(all[0].health);
  if (all.length === 0) return { ready: false, reason: 'no collection is served' };
  const each = all.map((c) => ({ name: c.name, ...readinessFromHealth(c.health) }));
  const notReady = each.filter((r) => !r.ready);
  if (notReady.length > 0) return { ready: false, reason: notReady.map((r) => `${r.name}: ${r.reason}`).join(' | ') };
  return { ready: true, reason: `every collection (${all.length}) is served with full coverage` };
}
