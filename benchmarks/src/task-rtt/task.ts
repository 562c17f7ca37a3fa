// The task both modes run, and how its input and output travel, shared by the worker and the client so
// the two modes do the same work: the payload of a task or result is always `packMessage(x).data`, where
// x is the bytes themselves (by value) or a proxy of them (by proxy: the message holds a reference).
import { createHash, randomFillSync } from 'node:crypto';
import { extract, isProxy, packMessage, unpackMessage } from '@proxystore/core';
import { BrokerError } from './errors.js';
import type { Meta } from './protocol.js';

export type TaskMode = 'value' | 'proxy';

/** What a task message asks for, in its meta. */
export interface TaskMeta {
  mode: TaskMode;
  /** Bytes of output the task returns. */
  outputBytes: number;
  /** Time the task spends after reading its input, like a real function's compute (default 0). */
  sleepMs?: number;
  /** Also hash the whole input and output (SHA-256) into the result: for checks outside the clock. */
  verify?: boolean;
  /** Ask the broker for a Dispatched frame when the task goes to a worker. */
  notify?: boolean;
}

/** What the worker reports with its output. */
export interface ResultMeta {
  inputBytes: number;
  /** touchPages() of the input as the worker saw it. */
  checksum: number;
  inputSha256?: string;
  outputSha256?: string;
}

/** Bytes between two reads of touchPages: one per 4 KiB page, so every page of the data is mapped in. */
export const PAGE_BYTES = 4096;

/**
 * Reads the length and one byte per 4 KiB page (and the last byte) into a checksum: the cheapest use
 * that still brings every page of the data into memory, the same in both modes.
 */
export function touchPages(bytes: Uint8Array): number {
  let sum = bytes.byteLength >>> 0;
  for (let i = 0; i < bytes.byteLength; i += PAGE_BYTES) sum = (Math.imul(sum, 31) + (bytes[i] as number)) >>> 0;
  if (bytes.byteLength > 0) sum = (Math.imul(sum, 31) + (bytes[bytes.byteLength - 1] as number)) >>> 0;
  return sum;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Random bytes: nothing on the path may get faster by compressing or deduplicating them. */
export function randomPayload(bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  // randomFillSync fills at most 2^31-1 bytes per call.
  for (let offset = 0; offset < bytes; offset += 1 << 30) randomFillSync(out, offset, Math.min(1 << 30, bytes - offset));
  return out;
}

/**
 * Output data made once and copied per task: a task returns fresh memory, as a real one would, without
 * paying for random generation on the clock.
 */
export class OutputPool {
  #pool: Uint8Array = new Uint8Array(0);

  take(bytes: number): Uint8Array {
    if (this.#pool.byteLength < bytes) this.#pool = randomPayload(bytes);
    return this.#pool.slice(0, bytes);
  }
}

/** The payload of a task or result: the bytes, or a proxy of them (which packs to its reference). */
export function packPayload(value: Uint8Array): Uint8Array {
  return packMessage(value).data as Uint8Array;
}

/** The bytes or the unresolved proxy a payload holds. */
export function unpackPayload(payload: Uint8Array): Uint8Array {
  return unpackMessage<Uint8Array>({ proxystoreMessage: 1, encoding: 'binary', data: payload });
}

/**
 * The data behind a payload, resolved (a proxy's first use happens here) and read page by page: what
 * each side does with what it receives. Checks the mode: a proxy where bytes were expected is an error.
 */
export function receive(payload: Uint8Array, mode: TaskMode): { value: Uint8Array; data: Uint8Array; checksum: number } {
  const value = unpackPayload(payload);
  if (isProxy(value) !== (mode === 'proxy')) {
    throw new TypeError(`A ${mode === 'proxy' ? 'by-proxy' : 'by-value'} message holds ${isProxy(value) ? 'a proxy' : 'bytes'}`);
  }
  const data = extract(value);
  if (!(data instanceof Uint8Array)) throw new TypeError(`Expected a Uint8Array, got ${Object.prototype.toString.call(data)}`);
  return { value, data, checksum: touchPages(data) };
}

/** Validates a task frame's meta. Throws BROKER_PROTOCOL_ERROR naming the first bad field. */
export function parseTaskMeta(meta: Meta): TaskMeta {
  const bad = (what: string): never => {
    throw new BrokerError('BROKER_PROTOCOL_ERROR', `Bad task meta: ${what}`);
  };
  if (meta.mode !== 'value' && meta.mode !== 'proxy') bad(`mode ${JSON.stringify(meta.mode)}`);
  const { outputBytes, sleepMs } = meta;
  if (typeof outputBytes !== 'number' || !Number.isSafeInteger(outputBytes) || outputBytes < 0) bad(`outputBytes ${String(outputBytes)}`);
  if (sleepMs !== undefined && (typeof sleepMs !== 'number' || !(sleepMs >= 0))) bad(`sleepMs ${String(sleepMs)}`);
  return {
    mode: meta.mode as TaskMode,
    outputBytes: outputBytes as number,
    ...(sleepMs === undefined ? {} : { sleepMs: sleepMs as number }),
    ...(meta.verify === true ? { verify: true } : {}),
    ...(meta.notify === true ? { notify: true } : {}),
  };
}
