/**
 * The figures of the scale bench (issue 22) computed from what a run leaves behind: shard sizes
 * and files from the manifest, placement from the router's ShardDetails, anonymous memory from
 * /proc/<pid>/status. Pure functions over plain objects, so they read manifests of any version
 * (unknown fields are ignored, missing optional ones give undefined).
 */
import { readFileSync } from 'node:fs';

/** `RssAnon` / `RssFile` of /proc/<pid>/status in kB; NaN when absent. */
export function parseStatusKb(status: string, field: 'RssAnon' | 'RssFile' | 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
  return m ? Number(m[1]) : NaN;
}

/** Anonymous and file-backed resident memory of `pid`, bytes (NaN when unreadable). */
export function residentBytes(pid: number): { anon: number; file: number; rss: number } {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { anon: parseStatusKb(s, 'RssAnon') * 1024, file: parseStatusKb(s, 'RssFile') * 1024, rss: parseStatusKb(s, 'VmRSS') * 1024 };
  } catch {
    return { anon: NaN, file: NaN, rss: NaN };
  }
}

/** Shard size spread. */
export interface ShardSizeStats {
  min: number;
  max: number;
  mean: number;
  /** max / mean (1 = perfectly even). */
  maxOverMean: number;
  /** max / min (Infinity with an empty shard). */
  maxOverMin: number;
}

/** Spread of `counts` (vectors per shard). @throws Error on an empty list. */
export function shardSizeStats(counts: readonly number[]): ShardSizeStats {
  if (counts.length === 0) throw new Error('no shards');
  const min = Math.min(...counts);
  const max = Math.max(...counts);
  const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
  return { min, max, mean, maxOverMean: max / mean, maxOverMin: min === 0 ? Infinity : max / min };
}

/** The manifest fields this bench reads (any manifest version). */
export interface ManifestLike {
  shards: { db_id: number; vector_count: number; files: { path: string; bytes: number }[] }[];
  [field: string]: unknown;
}

/** Bytes on disk per vector, by file name, over all shards. */
export interface DiskPerVector {
  /** All shard files / vectors. */
  total: number;
  /** The ANN index file(s) (`index.usearch`, or a name given by `isIndex`) / vectors. */
  index: number;
  /** Every other file / vectors. */
  other: number;
  /** File base name -> bytes / vectors. */
  byFile: Record<string, number>;
}

/** The usearch index file (native snapshots). */
export function isIndexFile(path: string): boolean {
  return /(^|\/)index\.usearch$/.test(path);
}

/** Bytes per vector of a run's shard files, split into index and the rest. */
export function diskPerVector(manifest: ManifestLike, isIndex: (path: string) => boolean = isIndexFile): DiskPerVector {
  let vectors = 0;
  let index = 0;
  let other = 0;
  const byFile: Record<string, number> = {};
  for (const s of manifest.shards) {
    vectors += s.vector_count;
    for (const f of s.files) {
      const name = f.path.split('/').at(-1) ?? f.path;
      byFile[name] = (byFile[name] ?? 0) + f.bytes;
      if (isIndex(f.path)) index += f.bytes;
      else other += f.bytes;
    }
  }
  const per = (b: number): number => (vectors === 0 ? NaN : b / vectors);
  return { total: per(index + other), index: per(index), other: per(other), byFile: Object.fromEntries(Object.entries(byFile).map(([k, v]) => [k, per(v)])) };
}

/** The ShardDetails fields this bench reads. */
export interface ShardDetailsLike {
  shards: { db_id: number; vector_count: number | string; bytes: number | string; replicas: { node_id: string; state: string }[] }[];
}

/** What each node holds under the router's placement. */
export interface NodeLoad {
  node: string;
  shards: number;
  vectors: number;
  bytes: number;
}

/**
 * Vectors and bytes per node (every replica counts for its node, whatever its state), and the
 * fullest node's share of all replicas' vectors and bytes (1 / nodes = perfectly even).
 */
export function placementLoad(details: ShardDetailsLike): { nodes: NodeLoad[]; fullestVectorShare: number; fullestByteShare: number; fullestVectorNode: string; fullestByteNode: string } {
  const by = new Map<string, NodeLoad>();
  for (const s of details.shards) {
    for (const r of s.replicas) {
      const load = by.get(r.node_id) ?? { node: r.node_id, shards: 0, vectors: 0, bytes: 0 };
      load.shards++;
      load.vectors += Number(s.vector_count);
      load.bytes += Number(s.bytes);
      by.set(r.node_id, load);
    }
  }
  const nodes = [...by.values()].sort((a, b) => a.node.localeCompare(b.node));
  const totalV = nodes.reduce((a, n) => a + n.vectors, 0);
  const totalB = nodes.reduce((a, n) => a + n.bytes, 0);
  const fullV = nodes.reduce((a, n) => (n.vectors > a.vectors ? n : a), nodes[0]);
  const fullB = nodes.reduce((a, n) => (n.bytes > a.bytes ? n : a), nodes[0]);
  return { nodes, fullestVectorShare: fullV ? fullV.vectors / totalV : NaN, fullestByteShare: fullB ? fullB.bytes / totalB : NaN, fullestVectorNode: fullV?.node ?? '', fullestByteNode: fullB?.node ?? '' };
}

/** A recall-vs-num_probes curve found in a manifest. */
export interface ManifestCurve {
  /** Manifest field (e.g. `routing_recall`). */
  field: string;
  /** recall at num_probes 1..num_dbs. */
  recallAtProbes: number[];
  /** The rest of the field (sample sizes, ef, ...), as written. */
  meta: Record<string, unknown>;
}

/**
 * Every recall curve in a manifest: each top-level field whose name contains `recall` and that
 * holds a `recall_at_probes` array (today `routing_recall`; fields other builds add, such as an
 * end-to-end curve, are picked up by the same rule).
 */
export function manifestCurves(manifest: Record<string, unknown>): ManifestCurve[] {
  const out: ManifestCurve[] = [];
  for (const [field, value] of Object.entries(manifest)) {
    if (!field.includes('recall') || value === null || typeof value !== 'object') continue;
    const v = value as Record<string, unknown>;
    const curve = v.recall_at_probes;
    if (!Array.isArray(curve) || !curve.every((x) => typeof x === 'number')) continue;
    const { recall_at_probes: _curve, ...meta } = v;
    out.push({ field, recallAtProbes: curve as number[], meta });
  }
  return out;
}
