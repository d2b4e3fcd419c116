/**
 * Differences between two placements (e.g. before and after a membership change): which shards
 * must move. With rendezvous placement, a node joining or leaving changes only the shards whose
 * top-R owners change (about 1/(n+1) of primaries for a join to n nodes), plus the few the
 * bounded-load cap pushes.
 */
import type { Placement } from '../placement.ts';

/**
 * Db ids (ascending) whose owner list differs between `before` and `after`, comparing the lists
 * in order (a swapped preferred replica counts as a change). A shard present in only one of the
 * placements counts as changed.
 */
export function placementChanges(before: Placement, after: Placement): number[] {
  const changed: number[] = [];
  for (const dbId of new Set([...before.keys(), ...after.keys()])) {
    if (!sameOwners(before.get(dbId), after.get(dbId))) changed.push(dbId);
  }
  return changed.sort((a, b) => a - b);
}

/** Db ids (ascending) whose preferred (first) owner differs between `before` and `after`. */
export function primaryChanges(before: Placement, after: Placement): number[] {
  const changed: number[] = [];
  for (const dbId of new Set([...before.keys(), ...after.keys()])) {
    if (before.get(dbId)?.[0] !== after.get(dbId)?.[0]) changed.push(dbId);
  }
  return changed.sort((a, b) => a - b);
}

function sameOwners(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((owner, i) => owner === b[i]);
}
