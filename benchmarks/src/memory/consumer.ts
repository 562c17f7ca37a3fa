// A consumer of the memory suite (child of the producer): it is sent all K objects, uses only its share,
// checksums what it uses and reports its peak RSS. By value the objects arrive in the message; with
// proxies only references arrive, and each used object is fetched from the store just in time.
import { extract, isProxyStoreMessage, resolveAsync, unpackMessage } from '@proxystore/core';
import { type ConsumerReport, type Task, checksum, peakRss } from './protocol.js';

async function consume(message: unknown): Promise<void> {
  const task = isProxyStoreMessage(message) ? unpackMessage<Task>(message) : (message as Task);
  if (task.fail) throw new Error(`consumer ${task.id}: failing on purpose (failConsumer)`);
  const objects: Array<Uint8Array | undefined> = task.objects;
  const checksums: Array<[number, string]> = [];
  for (const index of task.use) {
    const object = objects[index];
    if (object === undefined) throw new Error(`consumer ${task.id}: no object ${index} in a batch of ${objects.length}`);
    // The store's async read, so a connector without getSync works too; with evict-on-use it also
    // awaits the eviction, so the object is gone before this consumer reports. No-op by value.
    await resolveAsync(object);
    checksums.push([index, checksum(extract(object))]);
    // Done with it: a consumer keeps nothing it has used (the same in every variant).
    objects[index] = undefined;
  }
  const report: ConsumerReport = { type: 'report', id: task.id, peakRss: peakRss(), checksums };
  process.send?.(report, () => process.disconnect());
}

process.once('message', (message) => {
  consume(message).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
});
// The producer gone before the task came (it failed or was killed): nothing to do.
process.once('disconnect', () => process.exit(process.exitCode ?? 0));
