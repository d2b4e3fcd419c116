/**
 * The node views of one collection (issue 24): every node's view with only that collection's runs,
 * keyed by bare run id, so the per-run logic written for one snapshot (replica-state.ts,
 * leaving-nodes.ts) works per collection unchanged. A node's filtered view is rebuilt only when the
 * poller replaced that node's view (after a Status answer), not per request.
 */
import { DEFAULT_COLLECTION } from '../common/catalog/collection-name.ts';
import type { NodeRunView, NodeView } from './node-status-poller.ts';
import type { NodeViewSource } from './replica-state.ts';
import { splitRunKey } from './run-key.ts';

/** One collection's views over a source keyed by run key (a NodeStatusPoller). */
export class CollectionViews implements NodeViewSource {
  /** Per node: the source view a filtered view was built from, and that view. */
  private readonly built = new Map<string, { from: NodeView; view: NodeView }>();
  private readonly own: string;

  /**
   * @param source every node's view (runs keyed by run-key.ts keys).
   * @param collection the collection's name; "default" also takes the runs of nodes that name no collection.
   */
  constructor(
    private readonly source: NodeViewSource,
    collection: string,
  ) {
    this.own = collection === DEFAULT_COLLECTION ? '' : collection;
  }

  view(id: string): NodeView | undefined {
    const from = this.source.view(id);
    if (from === undefined) {
      this.built.delete(id);
      return undefined;
    }
    return this.filtered(from);
  }

  views(): NodeView[] {
    const all = this.source.views();
    if (all.length < this.built.size) {
      const ids = new Set(all.map((v) => v.id));
      for (const id of [...this.built.keys()]) if (!ids.has(id)) this.built.delete(id);
    }
    return all.map((v) => this.filtered(v));
  }

  /** `from` with only this collection's runs; rebuilt only when the poller replaced the node's view. */
  private filtered(from: NodeView): NodeView {
    const hit = this.built.get(from.id);
    if (hit !== undefined && hit.from === from) return hit.view;
    const runs = new Map<string, NodeRunView>();
    for (const [key, run] of from.runs) {
      const { collection, runId } = splitRunKey(key);
      if (collection === this.own) runs.set(runId, run);
    }
    const view = { ...from, runs };
    this.built.set(from.id, { from, view });
    return view;
  }
}
