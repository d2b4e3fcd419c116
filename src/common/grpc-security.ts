/**
 * TLS for the router and shard-node gRPC services, and for the channels that reach them
 * (router -> node, client -> router), with optional mutual TLS.
 *
 * Files are PEM, read once when the credentials are built (a Kubernetes Secret mount works; a
 * rotated certificate takes effect on restart: there is no reload on change). Every problem with
 * a file (missing, unreadable, not PEM, key not matching the certificate) is a
 * ConfigValidationError naming the file, raised at startup rather than at the first handshake.
 */
import { readFileSync } from 'node:fs';
import * as nodeTls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { ConfigValidationError, errorMessage } from './errors.ts';

/** Server-side TLS: the server's certificate, and a CA to verify client certificates (mTLS). */
export interface TlsFiles {
  /** PEM certificate chain of the server (leaf first). */
  certFile: string;
  /** PEM private key of `certFile`. */
  keyFile: string;
  /** PEM CA bundle that client certificates must chain to; required when `requireClientCert`. */
  caFile?: string;
  /** Mutual TLS: refuse clients that present no certificate signed by `caFile` (default false). */
  requireClientCert?: boolean;
}

/** Client-side TLS; mutual TLS when both `certFile` and `keyFile` are set. */
export interface ClientTlsFiles {
  /** PEM CA bundle that the server certificate must chain to (default: the system roots). */
  caFile?: string;
  /** PEM client certificate chain, presented to servers that require one. */
  certFile?: string;
  /** PEM private key of `certFile`. */
  keyFile?: string;
  /**
   * Host name checked against the server certificate instead of the dialled host (e.g. when
   * dialling a pod IP whose certificate names the service).
   */
  serverNameOverride?: string;
}

/**
 * Reads a PEM file.
 * @param what what the file is, for the error message (e.g. `TLS certificate`).
 * @throws ConfigValidationError naming the file when it is missing, unreadable or holds no PEM block.
 */
export function readPemFile(file: string, what: string): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (err) {
    throw new ConfigValidationError(`cannot read ${what} file ${file}: ${errorMessage(err)}`, { cause: err });
  }
  if (!data.includes('-----BEGIN ')) throw new ConfigValidationError(`${what} file ${file} holds no PEM block`);
  return data;
}

/**
 * Checks that the key matches the certificate and both parse, so a mismatch fails at startup.
 * @throws ConfigValidationError naming both files.
 */
function checkKeyPair(cert: Buffer, key: Buffer, certFile: string, keyFile: string): void {
  try {
    nodeTls.createSecureContext({ cert, key });
  } catch (err) {
    throw new ConfigValidationError(`TLS certificate ${certFile} and key ${keyFile} cannot be used together: ${errorMessage(err)}`, {
      cause: err,
    });
  }
}

/**
 * Server credentials: insecure when `tls` is undefined, otherwise TLS with the given certificate,
 * and mutual TLS (client certificate verified against `caFile`) when `requireClientCert`.
 * @throws ConfigValidationError when a file is missing/unreadable/not PEM, the key does not match
 *   the certificate, or `requireClientCert` is set without `caFile`.
 */
export function serverCredentials(tls?: TlsFiles): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  if (!tls.certFile || !tls.keyFile) throw new ConfigValidationError('server TLS needs both a certificate file and a key file');
  if (tls.requireClientCert && !tls.caFile) {
    throw new ConfigValidationError('requiring client certificates (mTLS) needs a CA file to verify them');
  }
  const cert = readPemFile(tls.certFile, 'TLS certificate');
  const key = readPemFile(tls.keyFile, 'TLS private key');
  checkKeyPair(cert, key, tls.certFile, tls.keyFile);
  const ca = tls.caFile ? readPemFile(tls.caFile, 'TLS CA') : null;
  return grpc.ServerCredentials.createSsl(ca, [{ cert_chain: cert, private_key: key }], tls.requireClientCert ?? false);
}

/**
 * Channel credentials: insecure when `tls` is undefined, otherwise TLS verifying the server
 * against `caFile` (or the system roots), presenting a client certificate when `certFile` and
 * `keyFile` are set (mutual TLS).
 * @throws ConfigValidationError when a file is missing/unreadable/not PEM, only one of
 *   `certFile`/`keyFile` is set, or the key does not match the certificate.
 */
export function channelCredentials(tls?: ClientTlsFiles): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  if (Boolean(tls.certFile) !== Boolean(tls.keyFile)) {
    throw new ConfigValidationError('a client TLS certificate and key must be given together');
  }
  const ca = tls.caFile ? readPemFile(tls.caFile, 'TLS CA') : null;
  let cert: Buffer | null = null;
  let key: Buffer | null = null;
  if (tls.certFile && tls.keyFile) {
    cert = readPemFile(tls.certFile, 'TLS client certificate');
    key = readPemFile(tls.keyFile, 'TLS client private key');
    checkKeyPair(cert, key, tls.certFile, tls.keyFile);
  }
  const override = tls.serverNameOverride;
  const verify: grpc.VerifyOptions = override
    ? { checkServerIdentity: (_host: string, peer: nodeTls.PeerCertificate) => nodeTls.checkServerIdentity(override, peer) }
    : {};
  return grpc.credentials.createSsl(ca, key, cert, verify);
}
