// Bearer tokens and TLS material for both sides of the control plane.
import { timingSafeEqual, createHash } from 'node:crypto';
import type { Metadata } from '@grpc/grpc-js';

/** PEM text or bytes. */
export type Pem = string | Uint8Array;

/** TLS of a server: its certificate chain and key; with `ca`, clients may (or must) present certificates. */
export interface ServerTlsOptions {
  cert: Pem;
  key: Pem;
  /** CA certificates that sign client certificates. */
  ca?: Pem;
  /** Refuse clients without a certificate signed by `ca`. Default: true when `ca` is given. */
  requireClientCert?: boolean;
}

/** TLS of a client: the CA that signed the server's certificate, and optionally its own certificate. */
export interface ClientTlsOptions {
  /** CA certificates to trust; the system's roots when absent. */
  ca?: Pem;
  /** A client certificate and key, for servers that ask for one. */
  cert?: Pem;
  key?: Pem;
  /** The name to check the server's certificate against, when it differs from the host dialled. */
  serverName?: string;
}

export const AUTHORIZATION = 'authorization';

export function toBuffer(pem: Pem): Buffer {
  return typeof pem === 'string' ? Buffer.from(pem, 'utf8') : Buffer.from(pem.buffer, pem.byteOffset, pem.byteLength);
}

/** Checks a token's form: printable ASCII without spaces, as HTTP header values allow. */
export function checkToken(token: string, what: string): string {
  if (typeof token !== 'string' || !/^[\x21-\x7e]{1,4096}$/.test(token)) {
    throw new TypeError(`${what}: a token is 1 to 4096 printable ASCII characters without spaces`);
  }
  return token;
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/**
 * Why the call's metadata does not carry one of `tokens` as `authorization: Bearer <token>`, or null when
 * it does. Compared in constant time over digests, so neither length nor content leaks through timing.
 */
export function checkBearer(metadata: Metadata, tokens: readonly Buffer[]): string | null {
  const values = metadata.get(AUTHORIZATION);
  if (values.length === 0) {
    return 'this endpoint requires a bearer token (metadata "authorization: Bearer <token>"), and the call had none';
  }
  const value = values[0];
  const match = typeof value === 'string' ? /^Bearer (\S+)$/i.exec(value) : null;
  if (match === null) return 'the authorization metadata is not of the form "Bearer <token>"';
  const given = digest(match[1] as string);
  let ok = false;
  for (const t of tokens) ok = timingSafeEqual(given, t) || ok;
  return ok ? null : 'the bearer token is not one this endpoint accepts';
}

export function tokenDigests(tokens: readonly string[]): Buffer[] {
  return tokens.map(digest);
}
