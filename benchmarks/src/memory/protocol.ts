// What the harness, the producer and the consumers of the memory suite say to each other, and the few
// rules all three must agree on (which objects a consumer uses, how a checksum and a peak RSS are taken),
// kept in one module so the three processes cannot drift apart.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Key, StoreConfig } from '@proxystore/core';

/** `by value` ships the objects themselves; the other two ship references to objects in a store. */
export const VARIANTS = ['by value', 'proxy', 'proxy + evict'] as const;
export type Variant = (typeof VARIANTS)[number];

/** Harness → producer: the whole workload of one run. */
export interface RunRequest {
  type: 'run';
  variant: Variant;
  /** K: objects the producer makes; every consumer is sent all of them. */
  objects: number;
  /** S: bytes per object. */
  objectBytes: number;
  /** C: consumer processes. */
  consumers: number;
  /** The store to put the objects in (proxy variants only); the producer re-creates it from this. */
  store?: StoreConfig;
  /** Absolute path of the built consumer script (the harness resolves it, once, with childScript). */
  consumerScript: string;
  /** How long the producer waits for a consumer's report before it gives up, ms. */
  timeoutMs: number;
  /** Tests only: this consumer throws instead of reporting, to check that the failure surfaces. */
  failConsumer?: number;
}

/** Producer → harness, before anything is allocated: the consumers' pids, so a timeout can end them too. */
export interface Spawned {
  type: 'spawned';
  pids: number[];
}

export interface ConsumerReport {
  type: 'report';
  id: number;
  peakRss: number;
  /** [object index, checksum] for every object this consumer used. */
  checksums: Array<[number, string]>;
}

/** Producer → harness at the end of a run. */
export interface RunDone {
  type: 'done';
  producerPeakRss: number;
  consumers: ConsumerReport[];
  /** The checksum of every object, by index, taken by the producer when it made it. */
  expected: string[];
  /** The store keys of the objects (proxy variants), for the harness to see what is left. */
  keys: Key[];
}

export interface RunFailed {
  type: 'error';
  message: string;
}

export type ProducerMessage = Spawned | RunDone | RunFailed;

/** Producer → consumer, by value. The proxy variants send `packMessage` of the same shape instead. */
export interface Task {
  type: 'task';
  id: number;
  /** All K objects (or proxies to them). */
  objects: Uint8Array[];
  /** Indices into `objects` this consumer uses. */
  use: number[];
  fail: boolean;
}

/**
 * Consumer i uses the objects j with j mod C = i: each object is used by exactly one consumer, so
 * evict-on-use can remove every object (a second reader of an evicted object would fail), and each
 * consumer uses about K/C of the K objects it is sent.
 */
export function usedBy(consumer: number, objects: number, consumers: number): number[] {
  const use: number[] = [];
  for (let j = consumer; j < objects; j += consumers) use.push(j);
  return use;
}

export function checksum(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * This process's peak resident set in bytes. On Linux it is VmHWM, the high-water mark of this process's
 * own address space: `process.resourceUsage().maxRSS` of a child started by fork+exec starts at the
 * parent's RSS at fork time (1 GiB in the parent gives a fresh `node` a maxRSS of 1 GiB), which would
 * charge the producer's objects to every consumer. Elsewhere, maxRSS (KiB) is the best there is.
 */
export function peakRss(): number {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match !== null) return Number(match[1]) * 1024;
  } catch {
    // Not Linux: fall through.
  }
  return process.resourceUsage().maxRSS * 1024;
}

export function isMessage<T extends { type: string }>(type: T['type']): (value: unknown) => value is T {
  return (value: unknown): value is T =>
    typeof value === 'object' && value !== null && (value as { type?: unknown }).type === type;
}
