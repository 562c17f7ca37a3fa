// The producer of the memory suite (child of the harness, so the harness's own heap is not in its peak
// RSS). It makes K objects of random bytes and sends all of them to each of C consumers: by value as one
// message per consumer, or as proxies' references after putting each object in the store as it is made.
import { randomFillSync } from 'node:crypto';
import { Store, packMessage, toReference } from '@proxystore/core';
import { WatchedChild } from './children.js';
import {
  type ConsumerReport,
  type RunDone,
  type RunRequest,
  type Spawned,
  type Task,
  checksum,
  isMessage,
  peakRss,
  usedBy,
} from './protocol.js';

/** Random bytes: nothing on the path may shrink them by compressing or deduplicating. */
function randomBytes(bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let offset = 0; offset < bytes; offset += 1 << 30) randomFillSync(out, offset, Math.min(1 << 30, bytes - offset));
  return out;
}

async function run(request: RunRequest, consumers: WatchedChild[]): Promise<RunDone> {
  const { objects: k, objectBytes, consumers: c, variant } = request;
  // Consumers start before anything is allocated here (see peakRss for why that matters elsewhere).
  for (let i = 0; i < c; i++) consumers.push(new WatchedChild(request.consumerScript, `consumer ${i}`));
  const spawned: Spawned = { type: 'spawned', pids: consumers.map((child) => child.pid ?? -1) };
  process.send?.(spawned);

  const expected: string[] = [];
  const tasks: unknown[] = [];
  let keys: RunDone['keys'] = [];
  let store: Store | undefined;
  try {
    if (variant === 'by value') {
      // The batch is the objects themselves: all K are alive until every message is written.
      const batch: Uint8Array[] = [];
      for (let j = 0; j < k; j++) {
        const object = randomBytes(objectBytes);
        expected.push(checksum(object));
        batch.push(object);
      }
      for (let i = 0; i < c; i++) {
        const task: Task = { type: 'task', id: i, objects: batch, use: usedBy(i, k, c), fail: request.failConsumer === i };
        tasks.push(task);
      }
    } else {
      if (request.store === undefined) throw new Error(`variant '${variant}' needs a store config`);
      store = await Store.fromConfigAsync(request.store);
      // Each object goes into the store as soon as it is made and is dropped here: the producer never
      // holds the batch, only K proxies (a key and a shape each).
      const proxies: Uint8Array[] = [];
      for (let j = 0; j < k; j++) {
        let object: Uint8Array | undefined = randomBytes(objectBytes);
        expected.push(checksum(object));
        proxies.push(await store.proxy(object, { evict: variant === 'proxy + evict' }));
        object = undefined;
      }
      keys = proxies.map((proxy) => toReference(proxy).key);
      for (let i = 0; i < c; i++) {
        const task: Task = { type: 'task', id: i, objects: proxies, use: usedBy(i, k, c), fail: request.failConsumer === i };
        tasks.push(packMessage(task));
      }
    }
    // All consumers at once, as a scheduler would dispatch a batch of tasks.
    await Promise.all(consumers.map((child, i) => child.send(tasks[i])));
    tasks.length = 0;
    const reports = await Promise.all(
      consumers.map(async (child): Promise<ConsumerReport> => {
        const report = await child.next(isMessage<ConsumerReport>('report'), 'its report', request.timeoutMs);
        await child.exit(request.timeoutMs);
        return report;
      }),
    );
    return { type: 'done', producerPeakRss: peakRss(), consumers: reports, expected, keys };
  } finally {
    // Not cleared: what is left in the store is for the harness to count, and to remove.
    await store?.close();
  }
}

process.once('message', (message) => {
  if (!isMessage<RunRequest>('run')(message)) {
    console.error('producer: expected a run request, got', message);
    process.exit(2);
  }
  const consumers: WatchedChild[] = [];
  run(message, consumers).then(
    (done) => process.send?.(done, () => process.disconnect()),
    (err: unknown) => {
      for (const child of consumers) child.kill();
      const text = err instanceof Error ? err.message : String(err);
      process.send?.({ type: 'error', message: text }, () => process.exit(1));
    },
  );
});
// The harness gone (it failed or timed out): exit; the consumers see their channel close and exit too.
process.once('disconnect', () => process.exit(process.exitCode ?? 0));
