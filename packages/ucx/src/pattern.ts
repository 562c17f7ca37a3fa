// Deterministic test bytes: an AES-128-CTR keystream keyed by the seed, so any size is quick to make
// (hundreds of MiB/s) and a shifted, truncated or mixed-up copy never compares equal.
import { createCipheriv, createHash } from 'node:crypto';

const CHUNK = 16 << 20;

/** `size` bytes that depend on `seed` and on the position; seed 0 gives zeros (quick, for bulk). */
export function patternBytes(size: number, seed: number): Uint8Array {
  if (seed === 0) return new Uint8Array(size);
  const key = createHash('sha256').update(`proxystore-ucx-pattern-${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const out = new Uint8Array(size);
  const zeros = Buffer.alloc(Math.min(CHUNK, Math.max(size, 1)));
  for (let at = 0; at < size; at += CHUNK) {
    const n = Math.min(CHUNK, size - at);
    const chunk = cipher.update(n === zeros.byteLength ? zeros : zeros.subarray(0, n));
    out.set(chunk, at);
  }
  return out;
}
