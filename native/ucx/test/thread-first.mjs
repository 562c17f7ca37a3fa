// The addon loaded first in worker threads (the main thread never loads it), each doing real work and
// then ending on its own: no process.exit, so Node tears the thread's environment down and unloads its
// addons. Prints, as JSON, what each worker saw: whether UCX's memory hooks were patched into libc, and
// its round trip. Run by run.mjs with and without UCX_MEM_EVENTS set by the user.
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import { createRequire } from 'node:module';

if (isMainThread) {
  const results = [];
  for (let i = 0; i < 2; i++) {
    const worker = new Worker(new URL(import.meta.url));
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    results.push(await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    }));
    results[i].exit = await exited;
  }
  console.log(JSON.stringify({ results, env: process.env.UCX_MEM_EVENTS ?? null }));
} else {
  const ucx = createRequire(import.meta.url)('../index.cjs');
  const hooks = ucx.contextInfo().memoryHooks;
  // A pooled receive and an endpoint, listener and region of this thread, all closed before it ends.
  const got = new Promise((resolve) => ucx.setAmHandler(1, (_h, data, info) => {
    const sum = new Uint8Array(data).reduce((a, b) => a + b, 0);
    info.region?.release();
    resolve(sum);
  }, { receive: 'pool' }));
  const accepted = [];
  const listener = ucx.listen({ host: '127.0.0.1', port: 0 }, (ep) => accepted.push(ep));
  const ep = await ucx.connect({ host: '127.0.0.1', port: listener.port, timeoutMs: 10000 });
  const data = new Uint8Array(1 << 20).fill(3);
  await ep.amSend(1, new Uint8Array(0), data);
  const sum = await got;
  await ep.close();
  await Promise.all(accepted.map((e) => e.close({ force: true })));
  listener.close();
  ucx.setAmHandler(1, null);
  parentPort.postMessage({ hooks, sum });
}
