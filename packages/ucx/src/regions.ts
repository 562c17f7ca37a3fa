// Registered memory for objects: a block of this thread's pool (`acquire`), given back with `release`.
// Every failure is a UcxError; a release that UCX refuses because an operation still uses the block (a
// timed-out get in errorMode 'none') leaves the block to the garbage collector, which returns it.
import { toUcxError } from './errors.js';
import type { MemoryRegion, MemoryOptions, NativeAddon } from './native.js';

/** A pooled region of exactly `length` bytes. */
export function acquireRegion(native: NativeAddon, length: number, what: string, options?: MemoryOptions): MemoryRegion {
  try {
    return native.acquire(length, options);
  } catch (err) {
    throw toUcxError(`${what}: acquiring ${length} bytes of registered memory`, err);
  }
}

/** The region's bytes. */
export function regionBytes(region: MemoryRegion): Uint8Array {
  return new Uint8Array(region.buffer, region.byteOffset, region.byteLength);
}

/** Gives the block back now; when UCX still uses it, later (when its buffer is collected). */
export function releaseRegion(region: MemoryRegion): void {
  try {
    region.release();
  } catch {
    // UCX_BUSY: an operation UCX has not returned still targets it.
  }
}
