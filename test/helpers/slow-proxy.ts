/**
 * A TCP proxy on 127.0.0.1 that delays every chunk the upstream sends back by `delayMs` (order
 * kept): a slow link to an object store, so shard downloads through it take that much longer per
 * request. The delay can be changed while connections are open.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

/** A running proxy. */
export interface SlowProxy {
  /** `http://127.0.0.1:<port>`. */
  endpoint: string;
  /** Delay added to every chunk from upstream to the client, ms (0 = none). */
  delayMs: number;
  close(): Promise<void>;
}

/** Starts a proxy to `127.0.0.1:<upstreamPort>`. */
export async function startSlowProxy(upstreamPort: number): Promise<SlowProxy> {
  const sockets = new Set<Socket>();
  const proxy: SlowProxy = { endpoint: '', delayMs: 0, close: async () => {} };
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: upstreamPort });
    sockets.add(client);
    sockets.add(upstream);
    let chain = Promise.resolve();
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      const due = Date.now() + proxy.delayMs;
      chain = chain.then(async () => {
        const wait = due - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        if (!client.destroyed) client.write(chunk);
      });
    });
    upstream.on('end', () => void chain.then(() => client.end()));
    const close = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  proxy.endpoint = `http://127.0.0.1:${address.port}`;
  proxy.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return proxy;
}
