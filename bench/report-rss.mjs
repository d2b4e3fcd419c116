// Preloaded with `node --import ./bench/report-rss.mjs ...`: on exit, prints the process's peak
// resident set size (all threads) to stderr as one JSON line `{"bench_max_rss_kb": N}`.
process.on('exit', () => {
  process.stderr.write(`${JSON.stringify({ bench_max_rss_kb: process.resourceUsage().maxRSS })}\n`);
});
