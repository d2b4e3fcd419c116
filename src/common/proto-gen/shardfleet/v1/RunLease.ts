// Original file: proto/shardfleet/v1/shard_node.proto


/**
 * A router's claim on a run: while a router renews it (with every Status or Refresh it sends),
 * the node keeps the run loaded, loading it first when it does not hold it (a node that restarted,
 * or dropped it), even when _CURRENT names another run. A lease not renewed for the node's
 * --run-grace-ms lapses.
 */
export interface RunLease {
  'run_id'?: (string);
  /**
   * Key of the run's manifest in the store (e.g. "manifests/<ts>_run_id=<id>/manifest.json").
   */
  'manifest_key'?: (string);
  /**
   * The collection run_id belongs to (issue 24); empty = the node's default collection ("default"
   * when it serves one snapshot prefix, as before). Two collections may hold the same run_id.
   */
  'collection'?: (string);
}

/**
 * A router's claim on a run: while a router renews it (with every Status or Refresh it sends),
 * the node keeps the run loaded, loading it first when it does not hold it (a node that restarted,
 * or dropped it), even when _CURRENT names another run. A lease not renewed for the node's
 * --run-grace-ms lapses.
 */
export interface RunLease__Output {
  'run_id': (string);
  /**
   * Key of the run's manifest in the store (e.g. "manifests/<ts>_run_id=<id>/manifest.json").
   */
  'manifest_key': (string);
  /**
   * The collection run_id belongs to (issue 24); empty = the node's default collection ("default"
   * when it serves one snapshot prefix, as before). Two collections may hold the same run_id.
   */
  'collection': (string);
}
