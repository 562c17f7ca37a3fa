// The calling thread's scheduling policy (threadSchedPolicy, setThreadSchedPolicy): per thread, as Linux
// keeps it, checked against /proc; only 'normal' and 'batch' may be set. Prints one JSON line per result.
import { readFileSync } from 'node:fs';
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import { assert, caseRunner, printReport, ucx } from './common.mjs';

// Field 41 of /proc/thread-self/stat: 0 SCHED_OTHER, 3 SCHED_BATCH.
const kernelPolicy = () => Number(readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1].split(' ')[38]);

if (!isMainThread) {
  const before = ucx.threadSchedPolicy();
  const previous = ucx.setThreadSchedPolicy('batch');
  parentPort.postMessage({ before, previous, after: ucx.threadSchedPolicy(), kernel: kernelPolicy() });
} else {
  const test = caseRunner(printReport);

  await test('threadSchedPolicy names the policy the kernel reports for this thread', () => {
    const names = { 0: 'normal', 3: 'batch', 5: 'idle', 1: 'fifo', 2: 'rr' };
    const kernel = kernelPolicy();
    assert(ucx.threadSchedPolicy() === (names[kernel] ?? 'other'), `${ucx.threadSchedPolicy()} / ${kernel}`);
    // The cases below start from SCHED_OTHER, whatever this process was started under (chrt -b).
    ucx.setThreadSchedPolicy('normal');
  });

  await test("setThreadSchedPolicy('batch') sets SCHED_BATCH and returns the policy before; 'normal' sets it back", () => {
    const previous = ucx.setThreadSchedPolicy('batch');
    const now = ucx.threadSchedPolicy();
    const kernel = kernelPolicy();
    const back = ucx.setThreadSchedPolicy('normal');
    assert(previous === 'normal' && now === 'batch' && kernel === 3, `previous ${previous}, now ${now}, kernel ${kernel}`);
    assert(back === 'batch' && ucx.threadSchedPolicy() === 'normal' && kernelPolicy() === 0, `back ${back}`);
  });

  await test('policies are per thread: a worker set to batch leaves the main thread normal', async () => {
    const worker = new Worker(new URL(import.meta.url));
    const [reply, code] = await Promise.all([
      new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      }),
      new Promise((resolve) => worker.once('exit', resolve)),
    ]);
    assert(code === 0, `worker exit ${code}`);
    assert(reply.before === 'normal' && reply.previous === 'normal' && reply.after === 'batch' && reply.kernel === 3, JSON.stringify(reply));
    assert(ucx.threadSchedPolicy() === 'normal' && kernelPolicy() === 0, `main ${ucx.threadSchedPolicy()}`);
  });

  await test('any policy but normal and batch is a TypeError, and changes nothing', () => {
    for (const bad of ['fifo', 'rr', 'idle', 'BATCH', '', 3, undefined]) {
      let err;
      try {
        ucx.setThreadSchedPolicy(bad);
      } catch (e) {
        err = e;
      }
      assert(err instanceof TypeError && /'normal' or 'batch'/.test(err.message), `${String(bad)}: ${err}`);
    }
    assert(ucx.threadSchedPolicy() === 'normal' && kernelPolicy() === 0, 'policy changed');
  });
}
