// Same-host reads (peerRead) against an owner child process: memfd-backed pool blocks read without
// UCX, the checks that guard them (pid reuse, inode, size), trimmed blocks, and a dead owner. Prints one
// JSON line per result for the driver: {"name", "ok", "detail"}.
import { fork, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { assert, caseRunner, checkPattern, expectCode, printReport, ucx } from './common.mjs';

const here = (f) => fileURLToPath(new URL(f, import.meta.url));
const report = printReport;
const test = caseRunner(report);

function startOwner() {
  const child = fork(here('./shm-owner.mjs'), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let seq = 0;
  const waiting = new Map();
  let hello;
  const ready = new Promise((resolve) => { hello = resolve; });
  child.on('message', (m) => {
    if (m.seq === 0) hello(m);
    else waiting.get(m.seq)?.(m);
  });
  const ask = (msg) => new Promise((resolve, reject) => {
    const s = ++seq;
    waiting.set(s, (m) => (m.error ? reject(new Error(m.error)) : resolve(m)));
    child.send({ ...msg, seq: s });
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, ready, ask, exited };
}

const owner = startOwner();
const hello = await owner.ready;
const me = ucx.processIdentity();
const source = (exposed) => ({
  pid: hello.pid,
  startTime: BigInt(hello.startTime),
  fd: exposed.shm.fd,
  inode: BigInt(exposed.shm.inode),
  offset: exposed.shm.offset,
});
const SIZE = 8 << 20;

await test('processIdentity: pid, start time, the same host id as a child (boot id + pid namespace)', () => {
  assert(me.pid === process.pid && typeof me.startTime === 'bigint' && me.startTime > 0n, JSON.stringify(me, (_, v) => String(v)));
  assert(/^[0-9a-f-]{36}:\d+$/.test(me.hostId), `hostId ${me.hostId}`);
  assert(hello.hostId === me.hostId, `child ${hello.hostId} vs ${me.hostId}`);
  assert(BigInt(hello.startTime) >= me.startTime, 'the child started before us');
  return me.hostId;
});

let a;
let w;
await test('peerRead copies a child\'s memfd block (pattern checked); the mapping is cached', async () => {
  a = await owner.ask({ type: 'expose', size: SIZE, seed: 41 });
  assert(a.shm !== null && a.shm.fd >= 0 && a.shm.offset === 0, `shm ${JSON.stringify(a.shm)}`);
  const region = ucx.acquire(SIZE);
  const s0 = ucx.stats();
  let t = performance.now();
  ucx.peerRead(source(a), region, 0, SIZE);
  const first = performance.now() - t;
  assert(checkPattern(new Uint8Array(region.buffer), 41) === -1, 'bytes differ');
  // A part of it, at an offset of both: the file offset and the region offset.
  const part = ucx.acquire(4096 * 3);
  ucx.peerRead({ ...source(a), offset: 4096 }, part, 4096, 8192);
  const want = new Uint8Array(region.buffer, 4096, 8192);
  assert(Buffer.compare(Buffer.from(part.buffer, 4096, 8192), Buffer.from(want)) === 0, 'partial read differs');
  t = performance.now();
  ucx.peerRead(source(a), region, 0, SIZE);
  const second = performance.now() - t;
  const s1 = ucx.stats();
  assert(s1.peerReads - s0.peerReads === 3 && s1.peerMaps - s0.peerMaps === 1, `reads +${s1.peerReads - s0.peerReads} maps +${s1.peerMaps - s0.peerMaps}`);
  region.release();
  part.release();
  return `8 MiB: ${first.toFixed(1)} ms (mapping), ${second.toFixed(1)} ms (cached); peerMaps +1, peerReads +3`;
});

await test('peerRead refuses: another inode or a read past the file (UCX_BAD_KEY), another start time (UCX_PEER_GONE)', () => {
  const region = ucx.acquire(SIZE);
  const e1 = expectCode(() => ucx.peerRead({ ...source(a), inode: BigInt(a.shm.inode) + 1n }, region, 0, 64), 'UCX_BAD_KEY');
  const big = ucx.acquire(SIZE + 4096);
  const e2 = expectCode(() => ucx.peerRead({ ...source(a), fd: a.shm.fd }, big, 0, SIZE + 4096), 'UCX_BAD_KEY');
  expectCode(() => ucx.peerRead({ ...source(a), offset: SIZE }, region, 0, 1), 'UCX_BAD_KEY');
  const e3 = expectCode(() => ucx.peerRead({ ...source(a), startTime: BigInt(hello.startTime) + 1n }, region, 0, 64), 'UCX_PEER_GONE');
  expectCode(() => ucx.peerRead({ ...source(a), fd: 9999 }, region, 0, 64), 'UCX_PEER_GONE');
  // The caller's own mistakes are TypeErrors and RangeErrors; a released region is UCX_CLOSED.
  let range = false;
  try { ucx.peerRead(source(a), region, 1, SIZE); } catch (e) { range = e instanceof RangeError; }
  assert(range, 'a read past the region was accepted');
  let type = false;
  try { ucx.peerRead({ pid: hello.pid }, region, 0, 1); } catch (e) { type = e instanceof TypeError; }
  assert(type, 'a source without fields was accepted');
  big.release();
  region.release();
  expectCode(() => ucx.peerRead(source(a), region, 0, 64), 'UCX_CLOSED');
  return [e1, e2, e3].map((e) => e.message).join(' | ');
});

await test('peerWrite copies pieces into a child\'s memfd block (writable mapping cached apart from reads)', async () => {
  w = await owner.ask({ type: 'expose', size: 1 << 20, seed: 45 });
  const s0 = ucx.stats();
  const head = new Uint8Array(100).fill(7);
  const body = new Uint8Array(300_000);
  for (let i = 0; i < body.length; i++) body[i] = (i * 31) & 0xff;
  ucx.peerWrite(source(w), [[0, head], [4096, body], [900_000, new Uint8Array(0)]]);
  // At an offset of the file too: the pieces' offsets are from the destination's offset.
  ucx.peerWrite({ ...source(w), offset: 1 << 19 }, [[8, new Uint8Array([1, 2, 3])]]);
  const got = async (offset, length) => Buffer.from((await owner.ask({ type: 'read', id: w.id, offset, length })).bytes, 'base64');
  assert((await got(0, 100)).equals(Buffer.from(head)), 'the head differs');
  assert((await got(4096, body.length)).equals(Buffer.from(body)), 'the body differs');
  assert((await got((1 << 19) + 8, 3)).equals(Buffer.from([1, 2, 3])), 'the piece at an offset differs');
  // Bytes between the pieces are untouched: the owner's pattern (seed 45) is still there.
  const between = await got(100, 3996);
  const pattern = new Uint8Array(1 << 20);
  (await import('./common.mjs')).fillPattern(pattern, 45);
  assert(between.equals(Buffer.from(pattern.subarray(100, 4096))), 'bytes between pieces changed');
  ucx.peerWrite(source(w), [[0, head]]);
  const s1 = ucx.stats();
  assert(s1.peerWrites - s0.peerWrites === 3 && s1.peerMaps - s0.peerMaps === 1, `writes +${s1.peerWrites - s0.peerWrites} maps +${s1.peerMaps - s0.peerMaps}`);
  // Refusals: past the file, another inode, another start time; nothing is copied when one piece is bad.
  const before = await got(0, 16);
  expectCode(() => ucx.peerWrite(source(w), [[0, new Uint8Array(16).fill(9)], [(1 << 20) - 1, new Uint8Array(2)]]), 'UCX_BAD_KEY');
  assert((await got(0, 16)).equals(before), 'a refused write copied its first piece');
  expectCode(() => ucx.peerWrite({ ...source(w), inode: BigInt(w.shm.inode) + 1n }, [[0, head]]), 'UCX_BAD_KEY');
  expectCode(() => ucx.peerWrite({ ...source(w), startTime: BigInt(hello.startTime) + 1n }, [[0, head]]), 'UCX_PEER_GONE');
  for (const bad of [[[0, 'x']], [[-1, head]], [head], [[0, new Uint16Array(2)]]]) {
    let type = false;
    try { ucx.peerWrite(source(w), bad); } catch (e) { type = e instanceof TypeError; }
    assert(type, `malformed pieces accepted: ${String(bad)}`);
  }
  return `peerWrites +3, peerMaps +1 (the writable mapping)`;
});

await test('large copies (streaming stores from 40 MiB) land whole at unaligned offsets, both ways', async () => {
  const n = (48 << 20) + 13;
  const big = await owner.ask({ type: 'expose', size: 50 << 20, seed: 46 });
  const pattern = new Uint8Array(n);
  (await import('./common.mjs')).fillPattern(pattern, 47);
  ucx.peerWrite(source(big), [[3, pattern]]);
  const region = ucx.acquire(n + 5);
  ucx.peerRead({ ...source(big), offset: 3 }, region, 5, n);
  const back = new Uint8Array(region.buffer, 5, n);
  assert(Buffer.compare(Buffer.from(back.buffer, back.byteOffset, n), Buffer.from(pattern)) === 0, 'a large copy differs');
  // The bytes around the written range are the owner's (seed 46) still.
  const around = Buffer.concat([
    Buffer.from((await owner.ask({ type: 'read', id: big.id, offset: 0, length: 3 })).bytes, 'base64'),
    Buffer.from((await owner.ask({ type: 'read', id: big.id, offset: n + 3, length: 64 })).bytes, 'base64'),
  ]);
  const expect = new Uint8Array(50 << 20);
  (await import('./common.mjs')).fillPattern(expect, 46);
  assert(around.equals(Buffer.concat([Buffer.from(expect.subarray(0, 3)), Buffer.from(expect.subarray(n + 3, n + 67))])), 'bytes around a large write changed');
  region.release();
  return `${n} bytes each way`;
});

await test('a block its owner trimmed reads as zeros (through the mapping made before the trim)', async () => {
  const b = await owner.ask({ type: 'expose', size: 6 << 20, seed: 42 });
  const region = ucx.acquire(6 << 20);
  ucx.peerRead(source(b), region, 0, 6 << 20);
  assert(checkPattern(new Uint8Array(region.buffer), 42) === -1, 'bytes differ before the trim');
  const { trimmed } = await owner.ask({ type: 'trim', id: b.id });
  assert(trimmed >= 6 << 20, `owner trimmed ${trimmed}`);
  ucx.peerRead(source(b), region, 0, 6 << 20);
  const view = new Uint8Array(region.buffer);
  assert(view.every((x) => x === 0), 'a trimmed block (cached mapping) is not zeros');
  region.release();
  return `owner poolTrimmedBytes ${trimmed}`;
});

await test('owner SIGKILLed: a block mapped before still reads, but is not written; a block never mapped is UCX_PEER_GONE', async () => {
  const c = await owner.ask({ type: 'expose', size: 2 << 20, seed: 43 });
  const d = await owner.ask({ type: 'expose', size: 3 << 20, seed: 44 });
  const region = ucx.acquire(3 << 20);
  ucx.peerRead(source(c), region, 0, 2 << 20);
  owner.child.kill('SIGKILL');
  const exit = await owner.exited;
  // Reaped now: /proc/<pid> is gone (a zombie would have no fds either: ENOENT, the same code).
  const e = expectCode(() => ucx.peerRead(source(d), region, 0, 3 << 20), 'UCX_PEER_GONE');
  // A write into a block mapped before is refused: the owner that would keep it is gone.
  expectCode(() => ucx.peerWrite(source(w), [[0, new Uint8Array(8)]]), 'UCX_PEER_GONE');
  ucx.peerRead(source(c), region, 0, 2 << 20);
  assert(checkPattern(new Uint8Array(region.buffer, 0, 2 << 20), 43) === -1, 'the mapped block of a dead owner differs');
  region.release();
  return `${JSON.stringify(exit)}; ${e.message}`;
});

// A child that copies its own memfd block with peerRead (48 MiB + 13 at odd offsets, 4 times, then 5 MiB
// once, then either side of kSharedCopyMin, where streaming stores start, into unaligned destinations)
// and prints whether the bytes landed (and nothing past them), and its copy counters.
function copyChild(env) {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `
    import { fillPattern, ucx } from ${JSON.stringify(here('./common.mjs'))};
    const me = ucx.processIdentity();
    const n = (48 << 20) + 13;
    const src = ucx.acquire(n + 8);
    fillPattern(new Uint8Array(src.buffer), 51);
    const dst = ucx.acquire(n + 3, { shared: false });
    const from = { pid: me.pid, startTime: me.startTime, fd: src.shm.fd, inode: src.shm.inode, offset: src.shm.offset + 7 };
    const same = (at, len) => Buffer.compare(Buffer.from(dst.buffer, at, len), Buffer.from(src.buffer, 7, len)) === 0;
    let ok = true;
    for (let i = 0; i < 4; i++) {
      new Uint8Array(dst.buffer).fill(0);
      ucx.peerRead(from, dst, 3, n);
      ok &&= same(3, n);
    }
    ucx.peerRead(from, dst, 0, 5 << 20);
    ok &&= same(0, 5 << 20);
    for (const [at, len] of [[1, (2 << 20) - 1], [5, (2 << 20) + 13], [9, (2 << 20) + 64]]) {
      new Uint8Array(dst.buffer).fill(0);
      ucx.peerRead(from, dst, at, len);
      ok &&= same(at, len) && new Uint8Array(dst.buffer, 0, at).every((x) => x === 0) && new Uint8Array(dst.buffer, at + len, 64).every((x) => x === 0);
    }
    const s = ucx.stats();
    console.log(JSON.stringify({ ok, sharedCopies: s.sharedCopies, sharedCopyBytes: s.sharedCopyBytes, copyHelpers: s.copyHelpers, copySpinUs: s.copySpinUs }));`],
  { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60000 });
  return { status: r.status, out: r.stdout.trim(), err: r.stderr.trim().slice(0, 400) };
}

await test('large copies are shared with a helper thread (PROXYSTORE_UCX_COPY_THREADS), and land whole either way', () => {
  // The helper polls for a second after each copy here, so that it is surely awake for the later ones.
  const shared = copyChild({ PROXYSTORE_UCX_COPY_SPIN_US: '1000000' });
  assert(shared.status === 0, `status ${shared.status}: ${shared.err}`);
  const s = JSON.parse(shared.out);
  assert(s.ok, 'bytes differ after a shared copy');
  assert(s.copyHelpers === 1 && s.copySpinUs === 1000000, JSON.stringify(s));
  assert(s.sharedCopies >= 1 && s.sharedCopyBytes > 0 && s.sharedCopyBytes < 5 * ((48 << 20) + 13), JSON.stringify(s));
  const alone = copyChild({ PROXYSTORE_UCX_COPY_THREADS: '0' });
  assert(alone.status === 0, `status ${alone.status}: ${alone.err}`);
  const a1 = JSON.parse(alone.out);
  assert(a1.ok && a1.copyHelpers === 0 && a1.sharedCopies === 0 && a1.sharedCopyBytes === 0, JSON.stringify(a1));
  return `helper copied ${(s.sharedCopyBytes / 2 ** 20).toFixed(0)} MiB of ${(5 * 48) + 5} in ${s.sharedCopies} copies; none with PROXYSTORE_UCX_COPY_THREADS=0`;
});

await test('three JS threads copying at once share the one helper, and every copy lands whole', () => {
  // Each thread (the main one and two workers) reads its own 6 MiB memfd block into a private one 30
  // times, clearing the destination first: a chunk copied by nobody, or twice from the wrong job, shows.
  const body = `
    const me = ucx.processIdentity();
    const n = (6 << 20) + 5;
    const src = ucx.acquire(n);
    fillPattern(new Uint8Array(src.buffer, 0, n & ~3), seed);
    const dst = ucx.acquire(n, { shared: false });
    const from = { pid: me.pid, startTime: me.startTime, fd: src.shm.fd, inode: src.shm.inode, offset: src.shm.offset };
    let bad = 0;
    for (let i = 0; i < 30; i++) {
      new Uint8Array(dst.buffer).fill(0);
      ucx.peerRead(from, dst, 0, n);
      if (Buffer.compare(Buffer.from(dst.buffer, 0, n), Buffer.from(src.buffer, 0, n)) !== 0) bad++;
    }`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `
    import { Worker } from 'node:worker_threads';
    const common = ${JSON.stringify(here('./common.mjs'))};
    const worker = (seed) => new Promise((resolve, reject) => {
      const w = new Worker(\`
        import { parentPort } from 'node:worker_threads';
        import { fillPattern, ucx } from \${JSON.stringify(common)};
        const seed = \${seed};
        ${body.replaceAll('`', '\\`').replaceAll('${', '\\${')}
        parentPort.postMessage(bad);\`, { eval: true, type: 'module' });
      w.once('message', resolve);
      w.once('error', reject);
    });
    const { fillPattern, ucx } = await import(common);
    const others = [worker(61), worker(62)];
    const seed = 63;
    ${body}
    const all = [bad, ...(await Promise.all(others))];
    console.log(JSON.stringify({ bad: all, sharedCopies: ucx.stats().sharedCopies }));`],
  { env: { ...process.env, PROXYSTORE_UCX_COPY_SPIN_US: '1000' }, encoding: 'utf8', timeout: 120000 });
  assert(r.status === 0, `status ${r.status}: ${r.stderr.slice(0, 600)}`);
  const s = JSON.parse(r.stdout.trim());
  assert(s.bad.length === 3 && s.bad.every((b) => b === 0), `copies that differ per thread: ${s.bad}`);
  return `90 copies of 6 MiB from 3 threads, all whole; the helper joined ${s.sharedCopies}`;
});

await test('bad PROXYSTORE_UCX_COPY_THREADS or PROXYSTORE_UCX_COPY_SPIN_US values fail the first UCX call, naming the variable', () => {
  const cases = [
    [{ PROXYSTORE_UCX_COPY_THREADS: '2' }, /PROXYSTORE_UCX_COPY_THREADS must be 0 or 1, not '2'/],
    [{ PROXYSTORE_UCX_COPY_THREADS: 'yes' }, /PROXYSTORE_UCX_COPY_THREADS must be 0 or 1, not 'yes'/],
    [{ PROXYSTORE_UCX_COPY_SPIN_US: '-1' }, /PROXYSTORE_UCX_COPY_SPIN_US must be a number of microseconds from 0 to 1000000, not '-1'/],
    [{ PROXYSTORE_UCX_COPY_SPIN_US: '2ms' }, /PROXYSTORE_UCX_COPY_SPIN_US must be a number of microseconds from 0 to 1000000, not '2ms'/],
  ];
  for (const [env, message] of cases) {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `
      import { ucx } from ${JSON.stringify(here('./common.mjs'))};
      try { ucx.acquire(1 << 20); console.log('started'); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`],
    { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30000 });
    const out = r.stdout.trim();
    assert(r.status === 0 && out !== 'started', `${JSON.stringify(env)}: ${out} ${r.stderr.slice(0, 300)}`);
    const e = JSON.parse(out);
    assert(e.code === 'UCX_ERROR' && message.test(e.message), `${JSON.stringify(env)}: ${out}`);
  }
  return `${cases.length} bad values refused`;
});

await test('PROXYSTORE_UCX_SHM=0: pool blocks are anonymous memory (region.shm null)', () => {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `
    import { ucx } from ${JSON.stringify(here('./common.mjs'))};
    const r = ucx.acquire(1 << 20);
    console.log(JSON.stringify(r.shm));`], { env: { ...process.env, PROXYSTORE_UCX_SHM: '0' }, encoding: 'utf8', timeout: 30000 });
  assert(r.status === 0 && r.stdout.trim() === 'null', `status ${r.status} ${r.stdout} ${r.stderr.slice(0, 300)}`);
  const mine = ucx.acquire(1 << 20);
  assert(mine.shm !== null, 'memfd blocks are the default');
  mine.release();
  assert(mine.shm === null, 'a released region still names its block');
});

await test("acquire({ shared: false }): private memory (region.shm null), pooled apart from shared blocks", () => {
  const base = ucx.stats();
  const priv = ucx.acquire(3 << 20, { shared: false });
  assert(priv.shm === null, 'a private block names a memfd');
  const privAddr = priv.address;
  priv.release();
  // A shared acquire of the same size does not take the idle private block, and the other way round.
  const shared = ucx.acquire(3 << 20);
  assert(shared.shm !== null && shared.address !== privAddr, 'a shared acquire took the private block');
  const sharedAddr = shared.address;
  shared.release();
  const again = ucx.acquire(3 << 20, { shared: false });
  assert(again.address === privAddr, 'the idle private block was not reused');
  again.release();
  const sharedAgain = ucx.acquire(3 << 20, { shared: true });
  assert(sharedAgain.address === sharedAddr && sharedAgain.shm !== null, 'the idle shared block was not reused');
  sharedAgain.release();
  let typeErr = false;
  try { ucx.acquire(10, { shared: 'yes' }); } catch (e) { typeErr = e instanceof TypeError; }
  assert(typeErr, 'a non-boolean shared accepted');
  const s = ucx.stats();
  return `poolHits +${s.poolHits - base.poolHits}, poolMisses +${s.poolMisses - base.poolMisses}`;
});

report('nothing mapped after the cases but what the cache holds', ucx.stats().peerMapped <= 5, JSON.stringify(ucx.stats()));
