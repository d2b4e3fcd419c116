/**
 * Picking TCP ports for servers this package launches itself (`shardfleet local`, tests, benches).
 *
 * Why not port 0 (bind, read the port, close, hand it to a child): between the close and the
 * child's listen the port is free again, and the kernel hands ports from the same ephemeral range
 * to every outgoing connection. A health-check poll of a server that is not listening yet can even
 * receive the server's own port as its source port and connect to itself (TCP simultaneous open),
 * after which the server cannot bind. Ports below the ephemeral range are never handed out that
 * way, so only a process that names the same port explicitly can take it.
 */
import { readFileSync } from 'node:fs';
import getPort from 'get-port';

/** The low end of the ephemeral range when the kernel's cannot be read (IANA; macOS, Windows). */
const IANA_EPHEMERAL_LOW = 49152;
/** Ports below this are left alone (well-known services live there). */
const LOWEST_PICKED_PORT = 20000;
/** Random candidates tried before falling back to an ephemeral port (port 0). */
const CANDIDATES = 64;

/**
 * The low end of the kernel's ephemeral port range: `/proc/sys/net/ipv4/ip_local_port_range` on
 * Linux, else 49152.
 */
export function ephemeralPortLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 0) return low;
  } catch {
    // not Linux: use the IANA range below
  }
  return IANA_EPHEMERAL_LOW;
}

function* randomPorts(low: number, high: number, count: number): Generator<number> {
  for (let i = 0; i < count; i++) yield low + Math.floor(Math.random() * (high - low + 1));
}

/**
 * A TCP port that is free on every local address now, chosen at random from
 * [20000, ephemeral low) and not handed out again by this process for 15–30 s (get-port's lock).
 * Falls back to an ephemeral port when that range is empty or all candidates are taken. A process
 * that names the same port explicitly can still take it before the caller listens: launchers
 * retry when the child exits with `EXIT_ADDRESS_IN_USE` (98).
 * @returns the port number (1024–65535).
 */
export async function freePort(): Promise<number> {
  const high = ephemeralPortLow() - 1;
  return getPort({ port: high > LOWEST_PICKED_PORT ? randomPorts(LOWEST_PICKED_PORT, high, CANDIDATES) : undefined });
}
