/**
 * Closes connections that never complete the HTTP/2 handshake. grpc-js keeps a TCP connection
 * that sent no HTTP/2 client preface (or, with TLS, never finished the TLS handshake, for up to
 * Node's 120 s TLS default) open for as long as the peer wants: 2,000 such half-open connections
 * were held with no timeout. grpc-js 1.14 has no option for it, so this watches the underlying
 * Node HTTP/2 server: each accepted socket gets a timer, and one whose HTTP/2 session has not
 * received the client's SETTINGS frame (the end of the client preface) when it fires is
 * destroyed.
 */
import type * as http2 from 'node:http2';
import type { Socket } from 'node:net';

/** Default time a new connection has to complete the TLS and HTTP/2 handshakes, ms. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/** `address:port` of a connection's peer (unique among one server's live connections). */
function peerKey(socket: { remoteAddress?: string; remotePort?: number }): string {
  return `${socket.remoteAddress ?? ''}:${socket.remotePort ?? ''}`;
}

/**
 * Destroys every connection of `server` that has not sent its HTTP/2 client preface (SETTINGS)
 * within `timeoutMs` of being accepted. Call once per server, before it accepts connections.
 * @param server a Node HTTP/2 server (plaintext or TLS), as grpc-js creates one per bound port.
 * @param timeoutMs the timeout, ms; 0 leaves the server as it was.
 * @param onClose called with the peer address of each connection closed this way (e.g. to log it).
 */
export function closeStalledHandshakes(server: http2.Http2Server | http2.Http2SecureServer, timeoutMs: number, onClose?: (peer: string) => void): void {
  if (timeoutMs <= 0) return;
  // Sessions by peer; a session whose client sent SETTINGS is removed (the handshake is done).
  // Node creates a plaintext connection's session as it accepts the socket (before this
  // 'connection' listener runs), a TLS one's after the TLS handshake.
  const pending = new Map<string, http2.ServerHttp2Session>();
  const settled = new Set<string>();
  server.on('session', (session: http2.ServerHttp2Session) => {
    const key = peerKey(session.socket);
    pending.set(key, session);
    session.once('remoteSettings', () => {
      pending.delete(key);
      settled.add(key);
    });
    session.once('close', () => pending.delete(key));
  });
  server.on('connection', (socket: Socket) => {
    const key = peerKey(socket);
    const timer = setTimeout(() => {
      if (settled.has(key) || socket.destroyed) return;
      onClose?.(key);
      // Neither session.destroy() nor socket.destroy() closes the TCP connection of a session that
      // never got its preface (both were measured to leave it open, and a destroyed session no
      // longer lets the socket reset); resetAndDestroy() first closes it with a TCP RST.
      socket.resetAndDestroy();
      pending.get(key)?.destroy();
    }, timeoutMs);
    timer.unref();
    socket.once('close', () => {
      clearTimeout(timer);
      settled.delete(key);
      pending.delete(key);
    });
  });
}
