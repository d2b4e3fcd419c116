/**
 * The fault benchmark's load client, run as its own process:
 * `tsx bench/fault-load-client.ts <router host:port> <queries.f32> <dim>`.
 * Prints `{"ready":true}`, then runs the load runs the parent asks for on stdin (JSON lines,
 * {@link LoadCommand}): `concurrency` workers send searches back to back (closed loop), cycling
 * through the query vectors, until the run's query budget, its time limit or a `stop`. Each run
 * uses a new channel to the router (so a restarted router is reached at once, without the old
 * channel's reconnect back-off). For every run it prints one JSON line ({@link LoadReply}) with
 * every query (with `recordAnswers`, also each answer's collection and result ids). Exits when stdin closes. With SHARDFLEET_BENCH_LOAD_TOKEN set, every query carries
 * that bearer token (for routers started with --auth-token-file).
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { ServiceError } from '@grpc/grpc-js';
import { ShardfleetClient } from '../src/client/router-client.ts';
import { LOAD_TOKEN_ENV, nowMs, statusName, type LoadCommand, type LoadReply, type LoadStart, type PackedQuery } from './lib/fault-load.ts';

const [address, queriesFile, dimText] = process.argv.slice(2);
const buf = readFileSync(queriesFile);
const queries = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
const dim = Number(dimText);
const count = queries.length / dim;
const stops = new Map<number, () => void>();
const running = new Set<Promise<void>>();

async function runLoad(cmd: LoadStart): Promise<LoadReply> {
  const token = process.env[LOAD_TOKEN_ENV];
  const client = new ShardfleetClient(address, token ? { bearerToken: token } : {});
  const runs: string[] = [];
  const runIndex = new Map<string, number>();
  const messages: string[] = [];
  const messageIndex = new Map<string, number>();
  const collections: string[] = [];
  const collectionIndex = new Map<string, number>();
  const index = (key: string, list: string[], map: Map<string, number>): number => {
    let i = map.get(key);
    if (i === undefined) {
      i = list.length;
      list.push(key);
      map.set(key, i);
    }
    return i;
  };
  const out: PackedQuery[] = [];
  let stopped = false;
  stops.set(cmd.id, () => (stopped = true));
  const deadline = performance.now() + cmd.maxMs;
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (!stopped && performance.now() < deadline && (cmd.maxQueries === 0 || sent < cmd.maxQueries)) {
      const row = sent++ % count;
      const t0 = nowMs();
      try {
        const res = await client.search({ ...cmd.params, vector: queries.subarray(row * dim, (row + 1) * dim) });
        const ms = round(nowMs() - t0);
        const runAt = index(res.run_id, runs, runIndex);
        if (cmd.recordAnswers) {
          out.push([round(t0), ms, 0, runAt, res.partial ? 1 : 0, index(res.collection, collections, collectionIndex), res.results.map((h) => h.id)]);
        } else {
          out.push([round(t0), ms, 0, runAt, res.partial ? 1 : 0]);
        }
      } catch (err) {
        const e = err as Partial<ServiceError>;
        const code = typeof e.code === 'number' ? e.code : 2;
        const message = `${statusName(code)}: ${(e.details ?? String(err)).slice(0, 300)}`;
        out.push([round(t0), round(nowMs() - t0), code, index(message, messages, messageIndex), 0]);
      }
    }
  };
  await Promise.all(Array.from({ length: cmd.concurrency }, worker));
  stops.delete(cmd.id);
  client.close();
  return { id: cmd.id, queries: out, runs, messages, ...(cmd.recordAnswers ? { collections } : {}) };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const cmd = JSON.parse(line) as LoadCommand;
  if (cmd.op === 'stop') {
    stops.get(cmd.id)?.();
    continue;
  }
  const p = runLoad(cmd).then((reply) => {
    process.stdout.write(`${JSON.stringify(reply)}\n`);
  });
  running.add(p);
  void p.finally(() => running.delete(p));
}
for (const stop of stops.values()) stop();
await Promise.all(running);
