// One worker per JS thread: a worker thread loads the addon, talks to the main thread's listener over
// UCX, and exits with its endpoint still open; then the main thread exits. Neither may crash.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { AM, json, parse, ucx } from './common.mjs';

if (isMainThread) {
  ucx.setAmHandler(AM.echo, (header, data, info) => info.endpoint.amSend(AM.echo, header, data));
  const accepted = [];
  const listener = ucx.listen({ host: '127.0.0.1', port: 0 }, (ep) => accepted.push(ep));
  const worker = new Worker(new URL(import.meta.url), { workerData: { port: listener.port } });
  // Listen for 'exit' before awaiting the message: the worker may exit right after posting it.
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  const result = await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const code = await exited;
  listener.close();
  await Promise.all(accepted.map((ep) => ep.close({ force: true })));
  console.log(JSON.stringify({ ...result, workerExit: code }));
} else {
  const got = new Promise((resolve) => ucx.setAmHandler(AM.echo, (h) => resolve(parse(h))));
  const ep = await ucx.connect({ host: '127.0.0.1', port: workerData.port, timeoutMs: 10000 });
  await ep.amSend(AM.echo, json({ hello: 'from worker' }), new Uint8Array(4096));
  const reply = await got;
  parentPort.postMessage({ reply, stats: ucx.stats() });
  // Exit with the endpoint still open (it keeps the loop alive): the env cleanup hook must close it.
  process.exit(0);
}
