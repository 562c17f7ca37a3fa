// Shared by the test roles: the addon, AM ids, and a deterministic byte pattern to check transfers.
import { createRequire } from 'node:module';

export const ucx = createRequire(import.meta.url)('../index.cjs');

export const AM = {
  echo: 1, regionRequest: 2, regionReply: 3, stall: 4, check: 5, checkReply: 6,
  // Pooled receives: data lands in a pool block the server keeps (and serves by RMA) until asked to
  // release it; a pooled slot without a handler; the server's counters.
  pooled: 7, pooledReply: 8, pooledRelease: 9, pooledVoid: 10, stats: 11, statsReply: 12,
  // A 'placed' slot (blocks up to 1 MiB) that answers what it got, data or the reason it was dropped.
  placed: 13, placedReply: 14,
};

/** Fills `bytes` (length a multiple of 4) with a pattern that depends on `seed` and the offset. */
export function fillPattern(bytes, seed) {
  const u32 = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
  for (let i = 0; i < u32.length; i++) u32[i] = Math.imul(i + seed, 2654435761) >>> 0;
}

/** Index of the first word that differs from the pattern, or -1. */
export function checkPattern(bytes, seed) {
  const u32 = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
  for (let i = 0; i < u32.length; i++) if (u32[i] !== Math.imul(i + seed, 2654435761) >>> 0) return i;
  return -1;
}

export const json = (value) => new TextEncoder().encode(JSON.stringify(value));
export const parse = (buffer) => JSON.parse(new TextDecoder().decode(buffer));

/** One result as the driver reads it from a child's stdout: a JSON line {"name", "ok", "detail"}. */
export const printReport = (name, ok, detail = '') => console.log(JSON.stringify({ name, ok, detail: String(detail) }));

/** A case runner that reports through `report`: what `fn` returns is the detail, a throw a failure. */
export function caseRunner(report) {
  return async function test(name, fn) {
    try {
      report(name, true, (await fn()) ?? '');
    } catch (err) {
      report(name, false, `${err?.code ?? ''} ${err?.stack ?? err}`);
    }
  };
}

export const assert = (cond, msg) => {
  if (!cond) throw new Error(msg);
};

/** The error `fn` throws, which must carry `code`. */
export const expectCode = (fn, code) => {
  try {
    fn();
  } catch (err) {
    if (err.code === code) return err;
    throw err;
  }
  throw new Error(`expected ${code}, nothing thrown`);
};
