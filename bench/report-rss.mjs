// Preloaded with `node --import ./bench/report-rss.mjs ...`: on exit, prints the process's peak
// resident set size (all threads) and its CPU time (user and system, all threads, including
// worker threads that have ended; getrusage RUSAGE_SELF) to stderr as one JSON line
// `{"bench_max_rss_kb": N, "bench_cpu_user_us": N, "bench_cpu_system_us": N}`.
process.on('exit', () => {
  const u = process.resourceUsage();
  process.stderr.write(`${JSON.stringify({ bench_max_rss_kb: u.maxRSS, bench_cpu_user_us: u.userCPUTime, bench_cpu_system_us: u.systemCPUTime })}\n`);
});
