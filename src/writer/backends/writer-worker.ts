/**
 * Worker-thread side of `WriterWorkerPool`: holds the pool's synchronous shard writers assigned
 * to this thread (by writer id) and runs the requests posted by the main thread, answering each
 * with one reply (see writer-worker-protocol.ts). Loaded through `writer-worker-bootstrap.mjs`,
 * which registers tsx first.
 */
import { parentPort } from 'node:worker_threads';
import { errorMessage } from '../../common/errors.ts';
import type { BuiltShard, ShardRows } from './shard-index-writer.ts';
import { SqliteVecShardWriter } from './sqlite-vec-shard-writer.ts';
import { UsearchShardWriter } from './usearch-shard-writer.ts';
import type { WorkerWriterSpec, WriterWorkerReply, WriterWorkerRequest } from './writer-worker-protocol.ts';

const port = parentPort;
if (port === null) throw new Error('writer-worker.ts must run in a worker thread');

/** What the worker needs of a writer: a synchronous add (and `add` for rows with KV entries). */
interface SyncWriter {
  addSync(rows: ShardRows): void;
  add(rows: ShardRows): Promise<void>;
  finish(): Promise<BuiltShard>;
  abort(): Promise<void>;
}

function openWriter(spec: WorkerWriterSpec): SyncWriter {
  return spec.backend === 'sqlite-vec' ? new SqliteVecShardWriter(spec.options) : new UsearchShardWriter(spec.options);
}

const writers = new Map<number, SyncWriter>();

/** Runs one request; throws what the writer throws. */
async function handle(msg: WriterWorkerRequest): Promise<WriterWorkerReply> {
  if (msg.type === 'open') {
    writers.set(msg.writerId, openWriter(msg.spec));
    return { type: 'ok', callId: msg.callId };
  }
  const writer = writers.get(msg.writerId);
  if (writer === undefined) throw new Error(`writer ${msg.writerId} is not open in this worker`);
  switch (msg.type) {
    case 'add':
      if (msg.keys !== undefined && msg.values !== undefined) {
        await writer.add({ ids: msg.ids, vectors: msg.vectors, payloads: msg.payloads, keys: msg.keys, values: msg.values });
      } else {
        writer.addSync({ ids: msg.ids, vectors: msg.vectors, payloads: msg.payloads });
      }
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

port.on('message', (msg: WriterWorkerRequest) => {
  handle(msg).then(
    (reply) => port.postMessage(reply),
    (err: unknown) => {
      const name = err instanceof Error ? err.name : 'Error';
      port.postMessage({ type: 'error', callId: msg.callId, error: { name, message: errorMessage(err) } } satisfies WriterWorkerReply);
    },
  );
});
