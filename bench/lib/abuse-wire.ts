/**
 * The abuse benchmark's attacker side: raw gRPC calls (bytes in, bytes out, no client-side
 * validation) over one HTTP/2 connection with a probe call on the same connection, a flood of
 * HTTP/2 streams that never finish their message (node:http2), and TCP connections that never
 * finish the HTTP/2 handshake (node:net).
 */
import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import net from 'node:net';
import { LEAN_CALL_OPTIONS } from '../../src/common/proto.ts';
import { nowMs, statusName } from './fault-load.ts';

/** Most characters of a status message kept in the report. */
export const DETAILS_MAX_CHARS = 160;

/** How one raw call ended. */
export interface CallOutcome {
  /** gRPC status code (0 = OK). */
  code: number;
  /** `OK` / `INVALID_ARGUMENT` ... */
  status: string;
  /** The status message, cut to {@link DETAILS_MAX_CHARS} characters. */
  details: string;
  /** Length of the full status message, characters. */
  detailsChars: number;
  /** Response message size, bytes (answered calls). */
  responseBytes?: number;
  /** Latency at the caller, ms. */
  ms: number;
}

/** Cuts a status message for the report: at most {@link DETAILS_MAX_CHARS} characters, marked when cut. */
export function truncateDetails(details: string): string {
  const flat = details.replace(/\s+/g, ' ');
  return flat.length <= DETAILS_MAX_CHARS ? flat : `${flat.slice(0, DETAILS_MAX_CHARS)}... (${flat.length} chars)`;
}

const identity = (b: Buffer): Buffer => b;

/**
 * One HTTP/2 connection to a server (its own subchannel: it shares no connection with the rest
 * of the benchmark), for raw unary calls.
 */
export class RawConnection {
  private readonly client: grpc.Client;

  /** @param address `host:port` (plaintext). */
  constructor(address: string) {
    this.client = new grpc.Client(address, grpc.credentials.createInsecure(), {
      ...LEAN_CALL_OPTIONS,
      'grpc.use_local_subchannel_pool': 1,
      'grpc.max_send_message_length': -1,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
    });
  }

  /**
   * Sends `body` (an encoded request message) to `path` (`/shardfleet.v1.Router/Search`) and
   * waits for its status, at most `deadlineMs`.
   * @param bearerToken sent as `authorization: Bearer <token>` when given.
   */
  call(path: string, body: Buffer, deadlineMs: number, bearerToken?: string): Promise<CallOutcome> {
    const md = new grpc.Metadata();
    if (bearerToken !== undefined) md.set('authorization', `Bearer ${bearerToken}`);
    const t0 = nowMs();
    return new Promise((resolve) => {
      this.client.makeUnaryRequest(path, identity, identity, body, md, { deadline: Date.now() + deadlineMs }, (err, res) => {
        const ms = nowMs() - t0;
        if (err) {
          const details = err.details ?? err.message;
          resolve({ code: err.code, status: statusName(err.code), details: truncateDetails(details), detailsChars: details.length, ms });
        } else {
          resolve({ code: 0, status: 'OK', details: '', detailsChars: 0, responseBytes: res?.length ?? 0, ms });
        }
      });
    });
  }

  close(): void {
    this.client.close();
  }
}

/** `OK in 3 ms`, `DEADLINE_EXCEEDED in 5000 ms`. */
export function outcomeText(o: CallOutcome): string {
  return `${o.status} in ${o.ms.toFixed(0)} ms`;
}

/** Options of {@link floodUnfinishedStreams}. */
export interface StreamFloodOptions {
  /** Streams to open in all. */
  streams: number;
  /** HTTP/2 connections they are spread over. */
  sessions: number;
  /** gRPC method path the streams claim to call. */
  path: string;
  /** Stop opening streams after this long, ms. */
  budgetMs: number;
  /** Keep the streams open this long after the last one was opened, ms. */
  holdMs: number;
  /** Called every ~1,000 streams; opening stops when it returns false (e.g. the target died). */
  keepGoing: () => boolean;
}

/** What a stream flood did. */
export interface StreamFloodResult {
  /** Streams opened (HEADERS and a partial message sent). */
  opened: number;
  /** Streams the server reset or answered, or that failed, by error code / status. */
  endedBy: Record<string, number>;
  /** Streams still open when the flood was released. */
  openAtEnd: number;
  /** Time spent opening, ms. */
  openMs: number;
  /** Why opening stopped early, if it did. */
  stoppedEarly?: string;
}

/**
 * Opens `streams` gRPC requests over `sessions` HTTP/2 connections to `address`, each sending
 * its headers and the first 100 bytes of a message whose length prefix says 1 MiB, and never the
 * rest: the server has to hold every stream and its partial message. Holds them `holdMs`, then
 * destroys the connections.
 */
export async function floodUnfinishedStreams(address: string, o: StreamFloodOptions): Promise<StreamFloodResult> {
  const sessions: http2.ClientHttp2Session[] = [];
  const endedBy: Record<string, number> = {};
  const count = (key: string): void => {
    endedBy[key] = (endedBy[key] ?? 0) + 1;
  };
  let open = 0;
  const partial = Buffer.alloc(105);
  partial.writeUInt8(0, 0);
  partial.writeUInt32BE(1024 * 1024, 1);
  const headers = {
    ':method': 'POST',
    ':path': o.path,
    'content-type': 'application/grpc',
    te: 'trailers',
  };
  const t0 = Date.now();
  let opened = 0;
  let stoppedEarly: string | undefined;
  try {
    for (let s = 0; s < o.sessions; s++) {
      const session = http2.connect(`http://${address}`, { maxSessionMemory: 1024, peerMaxConcurrentStreams: 1_000_000 });
      session.on('error', (err: NodeJS.ErrnoException) => count(`session ${err.code ?? err.message}`));
      sessions.push(session);
    }
    const perSession = Math.ceil(o.streams / o.sessions);
    outer: for (let i = 0; i < perSession; i++) {
      for (const session of sessions) {
        if (opened >= o.streams) break outer;
        if (session.destroyed || session.closed) continue;
        let stream: http2.ClientHttp2Stream;
        try {
          stream = session.request(headers, { endStream: false });
        } catch (err) {
          count(`request ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
          continue;
        }
        opened++;
        open++;
        let ended = false;
        const end = (key: string): void => {
          if (ended) return;
          ended = true;
          open--;
          count(key);
        };
        stream.on('response', (h) => end(`answered grpc-status ${String(h['grpc-status'] ?? '(in trailers)')}`));
        stream.on('error', (err: NodeJS.ErrnoException) => end(err.code ?? 'stream error'));
        stream.on('close', () => end(`closed rst ${stream.rstCode ?? '?'}`));
        stream.write(partial);
      }
      if (i % 100 === 99) {
        await new Promise((r) => setImmediate(r));
        if (Date.now() - t0 > o.budgetMs) {
          stoppedEarly = `time budget ${o.budgetMs} ms`;
          break;
        }
        if (!o.keepGoing()) {
          stoppedEarly = 'stopped by the harness (target gone or over its RSS cap)';
          break;
        }
        if (sessions.every((x) => x.destroyed || x.closed)) {
          stoppedEarly = 'every connection closed by the server';
          break;
        }
      }
    }
    const openMs = Date.now() - t0;
    await new Promise((r) => setTimeout(r, o.holdMs));
    // A copy: destroying the connections below ends every stream and would count them.
    return { opened, endedBy: { ...endedBy }, openAtEnd: open, openMs, stoppedEarly };
  } finally {
    for (const session of sessions) session.destroy();
  }
}

/** What {@link holdHalfOpenConnections} saw. */
export interface HalfOpenResult {
  /** Connections the server accepted. */
  connected: number;
  /** Connections that failed to connect, by error code. */
  connectErrors: Record<string, number>;
  /** Connections the server closed within the hold time. */
  closedByServer: number;
  /** When the server closed the first of them, ms after it connected (null: none closed). */
  firstCloseMs: number | null;
  /** How long they were held, ms. */
  heldMs: number;
}

/**
 * Opens `count` TCP connections to `address` that send the first 16 of the 24 bytes of the
 * HTTP/2 client preface and nothing more (a handshake that never completes), waits up to
 * `holdMs` for the server to close them, then closes the rest.
 */
export async function holdHalfOpenConnections(address: string, count: number, holdMs: number): Promise<HalfOpenResult> {
  const [host, portText] = [address.slice(0, address.lastIndexOf(':')), address.slice(address.lastIndexOf(':') + 1)];
  const sockets: net.Socket[] = [];
  const connectErrors: Record<string, number> = {};
  let connected = 0;
  let closedByServer = 0;
  let firstCloseMs: number | null = null;
  let releasing = false;
  await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<void>((resolve) => {
          const socket = net.connect({ host, port: Number(portText) });
          sockets.push(socket);
          let connectedAt = 0;
          socket.on('connect', () => {
            connected++;
            connectedAt = Date.now();
            socket.write('PRI * HTTP/2.0\r\n');
            resolve();
          });
          socket.on('error', (err: NodeJS.ErrnoException) => {
            if (connectedAt === 0) connectErrors[err.code ?? 'error'] = (connectErrors[err.code ?? 'error'] ?? 0) + 1;
          });
          socket.on('close', () => {
            if (connectedAt === 0) {
              connectErrors['closed before connecting'] = (connectErrors['closed before connecting'] ?? 0) + 1;
              resolve();
              return;
            }
            if (releasing) return;
            closedByServer++;
            const ms = Date.now() - connectedAt;
            if (firstCloseMs === null || ms < firstCloseMs) firstCloseMs = ms;
          });
          socket.setTimeout(10_000, () => {
            if (connectedAt === 0) socket.destroy();
          });
        }),
    ),
  );
  const t0 = Date.now();
  while (Date.now() - t0 < holdMs && closedByServer < connected) await new Promise((r) => setTimeout(r, 200));
  const heldMs = Date.now() - t0;
  releasing = true;
  for (const s of sockets) s.destroy();
  return { connected, connectErrors, closedByServer, firstCloseMs, heldMs };
}
