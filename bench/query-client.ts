/**
 * The benchmark's gRPC client, run as its own process so its CPU and memory are not the router's:
 * `tsx bench/query-client.ts <router host:port> <queries.f32> <dim>`.
 * Prints `{"ready":true}`, then for every JSON command line on stdin ({@link ClientCommand}) runs a
 * closed-loop load through the router and prints one JSON line ({@link ClientResult}). Exits when
 * stdin closes.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { ShardfleetClient, type SearchParams } from '../src/client/router-client.ts';
import { runLoad } from '../src/eval/load-generator.ts';

/** One load run requested by the parent. */
export interface ClientCommand {
  /** Workers sending back to back. */
  concurrency: number;
  /** Stop after this many queries. */
  maxQueries: number;
  /** Stop after this long, ms. */
  durationMs: number;
  /** Search parameters except the vector. */
  params: Omit<SearchParams, 'vector'>;
}

/** What one load run measured (latencies in ms at the client). */
export interface ClientResult {
  ok: number;
  errors: number;
  firstError?: string;
  qps: number;
  p50: number;
  p99: number;
  wallMs: number;
  /** Returned scores per query row (first answer of each row; rows never answered are absent). */
  scores: Record<number, number[]>;
  /** Mean shards queried per answered query. */
  meanShards: number;
}

async function main(): Promise<void> {
  const [address, queriesFile, dimText] = process.argv.slice(2);
  const buf = readFileSync(queriesFile);
  const queries = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const dim = Number(dimText);
  const client = new ShardfleetClient(address);
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    const cmd = JSON.parse(line) as ClientCommand;
    const scores: Record<number, number[]> = {};
    let shards = 0;
    const r = await runLoad(client, {
      queries,
      dim,
      concurrency: cmd.concurrency,
      durationMs: cmd.durationMs,
      maxQueries: cmd.maxQueries,
      params: cmd.params,
      onResponse: (res, row) => {
        shards += res.num_shards_queried;
        scores[row] ??= res.results.map((h) => h.score);
      },
    });
    const result: ClientResult = {
      ok: r.ok,
      errors: r.errorCount,
      firstError: [...r.errors.keys()][0],
      qps: r.qps,
      p50: r.p50,
      p99: r.p99,
      wallMs: r.wallMs,
      scores,
      meanShards: r.ok ? shards / r.ok : 0,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  }
  client.close();
}

await main();
