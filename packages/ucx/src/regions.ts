// Registered memory for objects: a block of this thread's pool (`acquire`), given back with `release`.
// Every failure is a UcxError; a release that UCX refuses because an operation still uses the block (a
// timed-out get in errorMode 'none') leaves the block to the garbage collector, which returns it.
import { toUcxError } from './errors.js';
import { loadNative, type AcquireOptions, type MemoryRegion, type NativeAddon } from './native.js';

/**
 * A pooled region of exactly `length` bytes: shared (servable, a memfd same-host readers map) unless
 * `options.shared` is false, as for a value read into it or a block only sent.
 */
export function acquireRegion(native: NativeAddon, length: number, what: string, options?: AcquireOptions): MemoryRegion {
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

/** A private block (not served): what a get reads a value into, or a producer stages a push in. */
export const PRIVATE: AcquireOptions = { shared: false };

/** Gives the block back now; when UCX still uses it, later (when its buffer is collected). */
export function releaseRegion(region: MemoryRegion): void {
  try {
    region.release();
  } catch {
    // UCX_BUSY: an operation UCX has not returned still targets it.
  }
}

/**
 * Gives the registered block under a value that a UcxConnector read back to this thread's pool now,
 * instead of when the garbage collector finds the value unreachable: the next get of a like size lands in
 * memory that is already resident, and V8 need not collect to find it. Every view of that memory becomes
 * empty (its ArrayBuffer is detached), so call it only for a value you are done with.
 *
 * Takes the value a get returned when it is bytes (a Uint8Array or other view, or an ArrayBuffer), its
 * buffer, or the frames of `UcxConnector.get`; an array gives back the block of each element. Returns
 * whether a block went back: false for anything not read into a pool block of this thread (a copy served
 * by this thread's own server, a value already released, a value of another connector). Throws a
 * UcxError UCX_BUSY while an RMA still targets the block.
 */
export function releaseValue(value: unknown): boolean {
  let native: NativeAddon;
  try {
    native = loadNative();
  } catch {
    return false;  // without the addon no value came from a pool block
  }
  const one = (v: unknown): boolean => {
    if (!(v instanceof ArrayBuffer) && !ArrayBuffer.isView(v)) return false;
    try {
      return native.releaseBuffer(v);
    } catch (err) {
      throw toUcxError('releaseValue', err);
    }
  };
  if (Array.isArray(value)) {
    let any = false;
    for (const v of value) any = one(v) || any;
    return any;
  }
  return one(value);
}
