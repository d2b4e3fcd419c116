/**
 * Real X.509 certificates for TLS tests, generated with the openssl CLI into a temp folder:
 * a CA, a server certificate for 127.0.0.1 / localhost (subjectAltName) and a client certificate
 * signed by that CA, plus a second, unrelated CA with its own client certificate (to check that
 * certificates from the wrong CA are refused). EC P-256 keys, valid for one day.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Paths of the generated PEM files. */
export interface TestCerts {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed neither the server nor `clientCert`. */
  otherCaCert: string;
  /** A client certificate signed by `otherCaCert`. */
  otherClientCert: string;
  otherClientKey: string;
  remove(): Promise<void>;
}

const OPENSSL = process.env.OPENSSL ?? '/usr/bin/openssl';
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function openssl(args: string[], cwd: string): void {
  execFileSync(OPENSSL, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(
    ['req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '1', '-subj', `/CN=shardfleet test ${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
}

function makeLeaf(dir: string, name: string, ca: string, cn: string, extFile: string, serial: string): void {
  openssl(['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
  openssl(
    ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-set_serial', serial,
      '-out', `${name}.crt`, '-days', '1', '-extfile', extFile],
    dir,
  );
}

/** Generates the certificates (about 100 ms). @throws Error when openssl fails. */
export async function generateTestCerts(): Promise<TestCerts> {
  const dir = await mkdtemp(join(tmpdir(), 'shardfleet-certs-'));
  await writeFile(join(dir, 'server.ext'), 'basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await writeFile(join(dir, 'client.ext'), 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  makeLeaf(dir, 'server', 'ca', 'localhost', 'server.ext', '1001');
  makeLeaf(dir, 'client', 'ca', 'shardfleet-router', 'client.ext', '1002');
  makeLeaf(dir, 'other-client', 'other-ca', 'intruder', 'client.ext', '2001');
  const p = (f: string): string => join(dir, f);
  return {
    dir,
    caCert: p('ca.crt'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    otherCaCert: p('other-ca.crt'),
    otherClientCert: p('other-client.crt'),
    otherClientKey: p('other-client.key'),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
