// @proxystore/control/testing: throwaway TLS material for tests, made with the system `openssl`: a CA, a
// server certificate for localhost / 127.0.0.1 / ::1, and a client certificate, both signed by the CA.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Why test certificates cannot be made here (no openssl), or null when they can. */
export function opensslUnavailable(): string | null {
  const probe = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  return probe.status === 0 ? null : 'the openssl command is not installed (Debian: apt-get install openssl)';
}

export interface TestCertificates {
  /** The folder holding every file; `remove()` deletes it. */
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  /** A second CA, unrelated to the first: certificates it trusts must be refused. */
  otherCaFile: string;
  /** The PEM text of each file. */
  ca: string;
  cert: string;
  key: string;
  clientCert: string;
  clientKey: string;
  otherCa: string;
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  const run = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`openssl ${args[0]} failed: ${run.stderr || run.error?.message}`);
}

function selfSignedCa(dir: string, name: string): void {
  openssl(
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`,
      '-keyout', `${name}.key`, '-out', `${name}.pem`],
    dir,
  );
}

function signed(dir: string, name: string, san: string | null): void {
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`], dir);
  const args = ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2',
    '-out', `${name}.pem`];
  if (san !== null) {
    // The server certificate also serves as an endpoint's client certificate when it calls its peers.
    writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  } else {
    writeFileSync(join(dir, `${name}.ext`), 'extendedKeyUsage=clientAuth\n');
  }
  args.push('-extfile', `${name}.ext`);
  openssl(args, dir);
}

/** Makes a fresh CA, server and client certificates in a new temp folder. Throws when openssl is missing. */
export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'proxystore-certs-'));
  try {
    selfSignedCa(dir, 'ca');
    selfSignedCa(dir, 'other-ca');
    signed(dir, 'server', 'DNS:localhost,IP:127.0.0.1,IP:::1');
    signed(dir, 'client', null);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const file = (name: string): string => join(dir, name);
  const read = (name: string): string => readFileSync(file(name), 'utf8');
  return {
    dir,
    caFile: file('ca.pem'),
    certFile: file('server.pem'),
    keyFile: file('server.key'),
    clientCertFile: file('client.pem'),
    clientKeyFile: file('client.key'),
    otherCaFile: file('other-ca.pem'),
    ca: read('ca.pem'),
    cert: read('server.pem'),
    key: read('server.key'),
    clientCert: read('client.pem'),
    clientKey: read('client.key'),
    otherCa: read('other-ca.pem'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
