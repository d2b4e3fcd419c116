/**
 * Worker-thread side of `SqliteVecWorkerPool`: holds the pool's `SqliteVecShardWriter`s assigned
 * to this thread (by writer id) and runs the requests posted by the main thread, answering each
 * with one reply (see sqlite-vec-worker-protocol.ts). Loaded through
 * `sqlite-vec-worker-bootstrap.mjs`, which registers tsx first.
 */
import { parentPort } from 'node:worker_threads';
import { errorMessage } from '../../common/errors.ts';
import { SqliteVecShardWriter } from './sqlite-vec-shard-writer.ts';
import type { SqliteVecWorkerReply, SqliteVecWorkerRequest } from './sqlite-vec-worker-protocol.ts';

const port = parentPort;
if (port === null) throw new Error('sqlite-vec-worker.ts must run in a worker thread');

const writers = new Map<number, SqliteVecShardWriter>();

/** Runs one request; throws what the writer throws. */
async function handle(msg: SqliteVecWorkerRequest): Promise<SqliteVecWorkerReply> {
  if (msg.type === 'open') {
    writers.set(msg.writerId, new SqliteVecShardWriter(msg.options));
    return { type: 'ok', callId: msg.callId };
  }
  const writer = writers.get(msg.writerId);
  if (writer === undefined) throw new Error(`writer ${msg.writerId} is not open in this worker`);
  switch (msg.type) {
    case 'add':
      writer.addSync({ ids: msg.ids, vectors: msg.vectors, payloads: msg.payloads });
      return { type: 'ok', callId: msg.callId };
    case 'finish':
      try {
        return { type: 'ok', callId: msg.callId, built: await writer.finish() };
      } finally {
        writers.delete(msg.writerId);
      }
    case 'abort':
      writers.delete(msg.writerId);
      await writer.abort();
      return { type: 'ok', callId: msg.callId };
  }
}

port.on('message', (msg: SqliteVecWorkerRequest) => {
  handle(msg).then(
    (reply) => port.postMessage(reply),
    (err: unknown) => {
      const name = err instanceof Error ? err.name : 'Error';
      port.postMessage({ type: 'error', callId: msg.callId, error: { name, message: errorMessage(err) } } satisfies SqliteVecWorkerReply);
    },
  );
});
