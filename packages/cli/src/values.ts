// Parsers for option values: sizes with units, ports, host:port addresses. Each throws CliError
// `CLI_BAD_VALUE` naming the option and the value, so every bad flag reads the same way.
import { CliError } from './errors.js';

const KiB = 1024;
const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: KiB,
  kib: KiB,
  m: KiB ** 2,
  mib: KiB ** 2,
  g: KiB ** 3,
  gib: KiB ** 3,
  t: KiB ** 4,
  tib: KiB ** 4,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
};

function bad(what: string, text: string, expected: string): CliError {
  return new CliError('CLI_BAD_VALUE', `invalid ${what} ${JSON.stringify(text)}: ${expected}`);
}

/**
 * "512MiB", "1GB", "64k", "4096" → bytes. KiB/MiB/GiB/TiB and K/M/G/T are binary, kB/MB/GB/TB decimal
 * (the same convention as proxystore-bench). At least one byte.
 */
export function parseSize(text: string, what = 'size'): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = match === null ? undefined : UNITS[(match[2] ?? '').toLowerCase()];
  if (match === null || unit === undefined) {
    throw bad(what, text, 'expected a number with an optional unit (B, KiB, MiB, GiB, TiB, kB, MB, GB, TB)');
  }
  const bytes = Math.round(Number(match[1]) * unit);
  if (!(bytes >= 1)) throw bad(what, text, 'must be at least 1 byte');
  if (!Number.isSafeInteger(bytes)) throw bad(what, text, 'too large');
  return bytes;
}

/** An integer in [min, max]. */
export function parseInteger(text: string, what: string, min: number, max: number): number {
  const n = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw bad(what, text, `expected an integer from ${min} to ${max}`);
  return n;
}

/** A listening port: 0 lets the system pick one. */
export function parsePort(text: string, what = '--port'): number {
  return parseInteger(text, what, 0, 65535);
}

/** `host:port` or `[v6]:port`, port 1–65535; returned as given (trimmed). */
export function parseAddress(text: string, what: string): string {
  const trimmed = text.trim();
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/.exec(trimmed);
  const port = match === null ? Number.NaN : Number(match[2]);
  if (match === null || !(port >= 1 && port <= 65535)) throw bad(what, text, 'expected host:port (or [ipv6]:port), port 1 to 65535');
  return trimmed;
}

/** A host name or IP address to listen on (no port). */
export function parseHost(text: string, what = '--host'): string {
  const trimmed = text.trim();
  if (!/^([A-Za-z0-9_.-]+|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$/.test(trimmed)) throw bad(what, text, 'expected a host name or IP address');
  return trimmed;
}
