/**
 * What a `shardfleet build` child run with `--import bench/report-rss.mjs` and
 * SHARDFLEET_LOG_LEVEL=info says on stderr, read back by the build benches (bench:scale,
 * bench:build-throughput): its CPU time and peak RSS (report-rss.mjs's last line) and the
 * seconds of each build stage (the build's pino lines).
 */

/** The figures of one build's stderr; NaN / absent where the stderr does not say. */
export interface BuildReport {
  /** User and system CPU of the whole process (all threads), seconds. */
  userSeconds: number;
  systemSeconds: number;
  /** Peak resident set size, MiB. */
  peakRssMb: number;
  /** Wall seconds of each stage (`stage`, `seconds` log fields), by stage name. */
  stages: Record<string, number>;
  /** Wall seconds of the end-to-end recall's exact ground truth (inside assign+write), when logged. */
  groundTruthSeconds?: number;
}

/** Reads the JSON lines of a build's stderr (other lines are skipped). */
export function parseBuildReport(stderr: string): BuildReport {
  const report: BuildReport = { userSeconds: NaN, systemSeconds: NaN, peakRssMb: NaN, stages: {} };
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    let j: Record<string, unknown>;
    try {
      j = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (typeof j.bench_cpu_user_us === 'number' && typeof j.bench_cpu_system_us === 'number') {
      report.userSeconds = j.bench_cpu_user_us / 1e6;
      report.systemSeconds = j.bench_cpu_system_us / 1e6;
    }
    if (typeof j.bench_max_rss_kb === 'number') report.peakRssMb = j.bench_max_rss_kb / 1024;
    if (typeof j.stage === 'string' && typeof j.seconds === 'number') report.stages[j.stage] = j.seconds;
    if (typeof j.ground_truth_seconds === 'number') report.groundTruthSeconds = j.ground_truth_seconds;
  }
  return report;
}
