// One run of the memory workload, seen from the harness: start a producer process, let it ship K objects
// to C consumers in the given variant, check every consumer's checksums, and count what the run left in
// the store. The suite repeats this per size and variant; tests call it with tiny parameters.
import type { Key, Store } from '@proxystore/core';
import { childScript } from '../child.js';
import { MemoryChildError, WatchedChild } from './children.js';
import { type RunDone, type RunFailed, type RunRequest, type Spawned, type Variant, isMessage, usedBy } from './protocol.js';

export interface MemoryWorkload {
  variant: Variant;
  /** K: objects the producer makes and sends to every consumer. */
  objects: number;
  /** S: bytes per object (random bytes). */
  objectBytes: number;
  /** C: consumer processes; consumer i uses objects i, i + C, i + 2C, … */
  consumers: number;
  /** The store the proxy variants put objects in (its config travels to the producer); not used by value. */
  store?: Store;
  /** How long any one process may stay silent, ms. Default: 60 s plus 50 ms per MiB shipped by value. */
  timeoutMs?: number;
  /** Tests only: this consumer fails instead of reporting. */
  failConsumer?: number;
}

export interface MemoryRun {
  variant: Variant;
  /** Peak RSS of the producer process, bytes. */
  producerPeakRss: number;
  /** Peak RSS of each consumer process, bytes, by consumer index. */
  consumerPeakRss: number[];
  /** Objects of this run still in the store after every consumer is done (0 by value). */
  storeObjectsLeft: number;
  /** Their payload bytes (S each, without the serialization header). */
  storeBytesLeft: number;
}

/** The default bound on any one wait: generous, since by value 2 GiB crosses IPC at ~200 MB/s. */
export function defaultTimeoutMs(workload: Pick<MemoryWorkload, 'objects' | 'objectBytes' | 'consumers'>): number {
  return 60_000 + Math.ceil((workload.objects * workload.objectBytes * workload.consumers) / 2 ** 20) * 50;
}

function positiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`memory workload: ${name} must be a positive integer, got ${value}`);
}

/**
 * Runs the workload once in fresh processes. Throws MemoryChildError when a process fails, exits
 * non-zero or stays silent past the timeout (all its processes are ended first), and Error when a
 * consumer's checksum differs from the producer's.
 */
export async function runMemoryWorkload(workload: MemoryWorkload): Promise<MemoryRun> {
  const { variant, objects, objectBytes, consumers } = workload;
  positiveInteger('objects', objects);
  positiveInteger('objectBytes', objectBytes);
  positiveInteger('consumers', consumers);
  if (variant !== 'by value' && workload.store === undefined) throw new TypeError(`memory workload: '${variant}' needs a store`);
  const timeoutMs = workload.timeoutMs ?? defaultTimeoutMs(workload);
  const request: RunRequest = {
    type: 'run',
    variant,
    objects,
    objectBytes,
    consumers,
    ...(variant === 'by value' || workload.store === undefined ? {} : { store: workload.store.config() }),
    consumerScript: childScript(import.meta.url, './consumer'),
    timeoutMs,
    ...(workload.failConsumer === undefined ? {} : { failConsumer: workload.failConsumer }),
  };
  const producer = new WatchedChild(childScript(import.meta.url, './producer'), `producer (${variant})`);
  let consumerPids: number[] = [];
  let done: RunDone;
  try {
    await producer.send(request);
    const first = await producer.next(isEither<Spawned, RunFailed>('spawned', 'error'), 'the pids of its consumers', timeoutMs);
    if (first.type === 'error') throw new MemoryChildError(`${producer.label}: ${first.message}`);
    consumerPids = first.pids;
    // The producer bounds its own waits on consumers by timeoutMs; the margin covers making the objects.
    const result = await producer.next(isEither<RunDone, RunFailed>('done', 'error'), 'its result', timeoutMs + 30_000);
    if (result.type === 'error') throw new MemoryChildError(`${producer.label}: ${result.message}`);
    done = result;
    await producer.exit(timeoutMs);
  } catch (err) {
    // The producer ends its consumers when it fails; these are for a producer that is stuck or gone.
    for (const pid of consumerPids) killQuietly(pid);
    producer.kill();
    throw err;
  }

  try {
    verifyChecksums(workload, done);
    const left = workload.store === undefined ? 0 : await countLeft(workload.store, done.keys);
    return {
      variant,
      producerPeakRss: done.producerPeakRss,
      consumerPeakRss: [...done.consumers].sort((a, b) => a.id - b.id).map((r) => r.peakRss),
      storeObjectsLeft: left,
      storeBytesLeft: left * objectBytes,
    };
  } finally {
    // The next run starts from an empty store, whatever this one left.
    if (workload.store !== undefined) for (const key of done.keys) await workload.store.evict(key);
  }
}

function isEither<A extends { type: string }, B extends { type: string }>(
  a: A['type'],
  b: B['type'],
): (value: unknown) => value is A | B {
  return (value: unknown): value is A | B => isMessage<A>(a)(value) || isMessage<B>(b)(value);
}

/** Every consumer used exactly its share, and saw the bytes the producer made. */
function verifyChecksums(workload: MemoryWorkload, done: RunDone): void {
  const where = `memory workload (${workload.variant}, ${workload.objects} × ${workload.objectBytes} B, ${workload.consumers} consumers)`;
  if (done.consumers.length !== workload.consumers) {
    throw new Error(`${where}: ${done.consumers.length} consumer reports for ${workload.consumers} consumers`);
  }
  for (const report of done.consumers) {
    const want = usedBy(report.id, workload.objects, workload.consumers);
    const got = report.checksums.map(([index]) => index);
    if (want.join() !== got.join()) throw new Error(`${where}: consumer ${report.id} used objects [${got}], expected [${want}]`);
    for (const [index, sum] of report.checksums) {
      if (sum !== done.expected[index]) throw new Error(`${where}: consumer ${report.id} read other bytes for object ${index}`);
    }
  }
}

async function countLeft(store: Store, keys: readonly Key[]): Promise<number> {
  let left = 0;
  for (const key of keys) if (await store.exists(key)) left++;
  return left;
}

function killQuietly(pid: number): void {
  if (!(pid > 0)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}
