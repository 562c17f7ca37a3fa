// Client role: runs the cases against the server whose port and worker address the driver passes in,
// and reports each result to the driver over IPC.
import { AM, checkPattern, fillPattern, json, parse, ucx } from './common.mjs';

const { port, address } = JSON.parse(process.env.UCX_TEST_PEER);
// Over shared memory (UCX 1.13) there is no peer failure detection and no sockaddr connection without
// tcp: the client connects by worker address with errorMode 'none', and a dead peer surfaces as the
// operation's timeout (UCX_TIMEOUT) instead of UCX_PEER_GONE.
const sharedMemory = process.env.UCX_TEST_SHM === '1';
const errorMode = sharedMemory ? 'none' : 'peer';
const report = (name, ok, detail = '') => process.send({ type: 'result', name, ok, detail });

const replies = new Map();  // AM id -> queue of waiters
function nextAm(id) {
  return new Promise((resolve) => {
    if (!replies.has(id)) replies.set(id, []);
    replies.get(id).push(resolve);
  });
}
for (const id of [AM.echo, AM.regionReply]) {
  ucx.setAmHandler(id, (header, data, info) => replies.get(id)?.shift()?.({ header, data, info }));
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms); }),
  ]);
}

async function test(name, fn) {
  try {
    const detail = await fn();
    report(name, true, detail ?? '');
  } catch (err) {
    report(name, false, `${err?.code ?? ''} ${err?.stack ?? err}`);
  }
}

async function echo(ep, size) {
  const data = new Uint8Array(size);
  fillPattern(data.subarray(0, size & ~3), size);
  const reply = nextAm(AM.echo);
  await ep.amSend(AM.echo, json({ size }), data);
  const { header, data: back, info } = await withTimeout(reply, 20000, `echo ${size}`);
  const h = parse(header);
  if (back.byteLength !== size) throw new Error(`echo ${size}: got ${back.byteLength} bytes`);
  if (checkPattern(new Uint8Array(back, 0, size & ~3), size) !== -1) throw new Error(`echo ${size}: bytes differ`);
  return { serverSawRndv: h.serverSawRndv, clientSawRndv: info.rndv };
}

let ep;
await test(sharedMemory ? 'connect by worker address (errorMode none)' : 'connect by socket address', async () => {
  ep = sharedMemory
    ? await ucx.connectAddress(Buffer.from(address, 'base64'), { timeoutMs: 10000, errorMode })
    : await ucx.connect({ host: '127.0.0.1', port, timeoutMs: 10000 });
  if (ep.state !== 'open') throw new Error(`state ${ep.state}`);
});

for (const size of [0, 1024, 16 << 20]) {
  await test(`AM round trip ${size} B`, async () => {
    const r = await echo(ep, size);
    if (size === 16 << 20 && !(r.serverSawRndv && r.clientSawRndv)) {
      throw new Error(`16 MiB did not use rendezvous: ${JSON.stringify(r)}`);
    }
    return JSON.stringify(r);
  });
}

await test('second endpoint by worker address + AM round trip 1 KiB', async () => {
  const ep2 = await ucx.connectAddress(Buffer.from(address, 'base64'), { timeoutMs: 10000, errorMode });
  await echo(ep2, 1024);
  await ep2.close();
});

for (const into of ['allocate()', 'memMap(ArrayBuffer)']) {
  await test(`RMA get 64 MiB into ${into}, bytes checked`, async () => {
    const seed = into.length;
    const reply = nextAm(AM.regionReply);
    await ep.amSend(AM.regionRequest, json({ seed }), null);
    const { header, data } = await withTimeout(reply, 20000, 'region reply');
    const { address: remote, length } = parse(header);
    const rkey = ep.unpackRkey(data);
    const local = into === 'allocate()' ? ucx.allocate(length) : ucx.memMap(new ArrayBuffer(length));
    const t0 = performance.now();
    await ep.get(local, 0, length, BigInt(remote), rkey, { timeoutMs: 30000 });
    const ms = performance.now() - t0;
    const bad = checkPattern(new Uint8Array(local.buffer, local.byteOffset, length), seed);
    if (bad !== -1) throw new Error(`word ${bad} differs`);
    rkey.destroy();
    local.unmap();
    return `${(length / 2 ** 20 / (ms / 1000)).toFixed(0)} MiB/s`;
  });
}

await test('connect to a port nobody listens on rejects with UCX_UNREACHABLE', async () => {
  const err = await withTimeout(
    ucx.connect({ host: '127.0.0.1', port: 1, timeoutMs: 10000 }).then(() => null, (e) => e),
    20000,
    'connect to dead port',
  );
  if (!err) throw new Error('connect succeeded');
  if (err.code !== 'UCX_UNREACHABLE') throw new Error(`code ${err.code} (${err.message})`);
  return `${err.code} ${err.status}`;
});

await test('idle worker does not wake up (no busy spin)', async () => {
  const before = ucx.stats().wakeups;
  await new Promise((r) => setTimeout(r, 500));
  const woke = ucx.stats().wakeups - before;
  if (woke > 5) throw new Error(`${woke} wakeups in 500 ms while idle`);
  return `${woke} wakeups in 500 ms`;
});

const killCase = sharedMemory
  ? 'peer SIGKILLed during a 16 MiB rendezvous send rejects with UCX_TIMEOUT (errorMode none)'
  : 'peer SIGKILLed during a 16 MiB rendezvous send rejects with UCX_PEER_GONE';
await test(killCase, async () => {
  const stalled = new Promise((resolve) => process.on('message', (m) => m.type === 'stalled' && resolve()));
  let endpointError;
  ep.onError((e) => { endpointError = e; });
  await ep.amSend(AM.stall, null, null);
  await withTimeout(stalled, 10000, 'server stall');
  const t0 = performance.now();
  const timeoutMs = sharedMemory ? 3000 : 60000;
  const pending = ep.amSend(AM.echo, json({ size: 16 << 20 }), new Uint8Array(16 << 20), { timeoutMs })
    .then(() => null, (e) => e);
  process.send({ type: 'kill-server' });
  const err = await withTimeout(pending, 70000, 'send to killed peer');
  const ms = performance.now() - t0;
  if (!err) throw new Error('send to killed peer resolved');
  if (sharedMemory) {
    if (err.code !== 'UCX_TIMEOUT') throw new Error(`code ${err.code} (${err.message})`);
    await ep.close({ force: true });
    return `${err.code} ${err.status} after ${ms.toFixed(0)} ms`;
  }
  if (err.code !== 'UCX_PEER_GONE') throw new Error(`code ${err.code} (${err.message})`);
  if (ep.state !== 'failed') throw new Error(`endpoint state ${ep.state}`);
  const again = await ep.amSend(AM.echo, null, null).then(() => null, (e) => e);
  if (again?.code !== 'UCX_PEER_GONE') throw new Error(`later send: ${again?.code}`);
  return `${err.code} ${err.status} after ${ms.toFixed(0)} ms; onError ${endpointError?.code}`;
});

await ep.close();
const stats = ucx.stats();
// Over shared memory the timed-out send stays with UCX (no peer failure to complete it): it is counted
// in pendingOps but no longer holds the loop open.
report('nothing left open or pending after close',
  stats.endpoints === 0 && stats.pendingOps === (sharedMemory ? 1 : 0) && stats.refs === 0, JSON.stringify(stats));
// Our IPC listener would keep the process alive: let go of the channel once the driver has 'done'.
process.send({ type: 'done' }, () => process.disconnect());
