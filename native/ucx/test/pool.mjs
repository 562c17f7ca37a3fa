// Single-process cases (run with --expose-gc): the pool of registered blocks, the memMap registration
// cache, memory types, and getSync on a loopback endpoint to this process's own worker. Prints one
// JSON line per result for the driver: {"name", "ok", "detail"}.
import { assert, caseRunner, checkPattern, expectCode, fillPattern, printReport, ucx } from './common.mjs';

const tcp = process.env.UCX_TLS === 'tcp';
const report = printReport;
const test = caseRunner(report);
const stats = () => ucx.stats();
const tick = () => new Promise((r) => setTimeout(r, 5));
/** Collects garbage until `until()` holds (finalizers of external buffers run after a GC, later). */
async function collect(until, rounds = 200) {
  for (let i = 0; i < rounds && !until(); i++) {
    globalThis.gc();
    await tick();
  }
  return until();
}

if (tcp) {
  await test('pool: acquire/release 1000× reuses one registered block (memMaps does not grow)', () => {
    ucx.acquire(1).release();  // warm: the first 64 KiB block
    const before = stats();
    for (let i = 0; i < 1000; i++) {
      const r = ucx.acquire(1 + ((i * 997) % (64 << 10)));
      assert(r.pooled && r.byteLength === 1 + ((i * 997) % (64 << 10)), 'wrong region');
      r.release();
    }
    const after = stats();
    assert(after.memMaps === before.memMaps, `memMaps ${before.memMaps} -> ${after.memMaps}`);
    assert(after.poolHits - before.poolHits === 1000, `poolHits +${after.poolHits - before.poolHits}`);
    assert(after.poolInUseBytes === 0, `in use ${after.poolInUseBytes}`);
    return `memMaps ${after.memMaps}, poolHits +1000, poolMisses ${after.poolMisses}`;
  });

  await test('pool: size classes (4 per power of two, waste < 25%), page aligned, exact byteLength, acquire(0)', () => {
    const before = stats().poolInUseBytes;
    const a = ucx.acquire(100_000);  // 7 × 16 KiB = 112 KiB block
    assert(a.byteLength === 100_000 && a.buffer.byteLength === 100_000, 'byteLength');
    assert(a.address % 4096n === 0n, 'not page aligned');
    assert(stats().poolInUseBytes - before === 112 << 10, `in use +${stats().poolInUseBytes - before}`);
    const z = ucx.acquire(0);
    assert(z.pooled && z.byteLength === 0 && z.buffer.byteLength === 0, 'acquire(0)');
    assert(stats().poolInUseBytes - before === (112 << 10) + (64 << 10), 'acquire(0) takes a 64 KiB block');
    z.release();
    a.release();
    // A 256 MiB object with its 80 B of header and trailer: a 320 MiB block, not 512 MiB.
    const caps = [];
    for (const n of [(256 << 20) + 80, (64 << 10) + 1, 3 << 20, (3 << 20) + 1, (1 << 20) + 1]) {
      const s0 = stats().poolInUseBytes;
      const r = ucx.acquire(n);
      const cap = stats().poolInUseBytes - s0;
      assert(cap >= n && cap < n * 1.25 + 4096 && cap % 4096 === 0, `${n} B -> ${cap} B block`);
      caps.push(`${n} -> ${cap}`);
      r.release();
    }
    assert(caps[0] === `${(256 << 20) + 80} -> ${320 << 20}`, caps[0]);
    const alloc = ucx.allocate(4096);
    assert(alloc.pooled === false, 'allocate() region claims pooled');
    alloc.release();  // = unmap()
    assert(stats().regions === 0, `regions ${stats().regions}`);
    return caps.join(', ');
  });

  await test('pool: release() detaches the buffer (views become empty) and is idempotent', () => {
    const r = ucx.acquire(1 << 20);
    const view = new Uint8Array(r.buffer);
    const dv = new DataView(r.buffer, 16);
    view.fill(9);
    r.release();
    assert(view.length === 0 && r.buffer.byteLength === 0, 'views survive release');
    let dvThrew = false;
    try { dv.getUint8(0); } catch { dvThrew = true; }  // a DataView over a detached buffer throws
    assert(dvThrew, 'DataView still reads the block');
    r.release();
    r.unmap();
    assert(stats().poolInUseBytes === 0, 'block not returned');
    let threw = false;
    try { r.packRkey(); } catch { threw = true; }
    assert(threw, 'packRkey after release');
    return `view.length ${view.length} after release`;
  });

  await test('releaseBuffer: gives the block back from its buffer or any view, once; other buffers are not ours', async () => {
    const base = stats();
    let r = ucx.acquire(2 << 20);
    const view = new Uint8Array(r.buffer, 4096, 100);
    const addr = r.address;
    assert(ucx.releaseBuffer(view) === true, 'view not released');
    assert(view.length === 0 && r.buffer.byteLength === 0, 'views survive releaseBuffer');
    assert(stats().poolInUseBytes === base.poolInUseBytes, 'block not back');
    assert(ucx.releaseBuffer(view) === false && ucx.releaseBuffer(r.buffer) === false, 'released twice');
    r.release();  // the region's own release is a no-op now
    // The region object gone (only the buffer kept, as a value read by a get is): still released.
    let buffer = (() => ucx.acquire(2 << 20).buffer)();
    await collect(() => false, 5);  // the region object may be collected meanwhile; the buffer is held
    assert(new Uint8Array(buffer).length === 2 << 20, 'buffer lost');
    assert(ucx.releaseBuffer(new DataView(buffer)) === true, 'buffer without its region not released');
    assert(buffer.byteLength === 0, 'not detached');
    // The block was handed out once at a time: the next acquire reuses it.
    r = ucx.acquire(2 << 20);
    assert(r.address === addr, 'block not reused');
    r.release();
    for (const other of [new ArrayBuffer(2 << 20), new Uint8Array(64), Buffer.alloc(10), new ArrayBuffer(0)]) {
      assert(ucx.releaseBuffer(other) === false, 'a plain buffer was taken for a block');
    }
    const mapped = ucx.allocate(1 << 20);
    assert(ucx.releaseBuffer(mapped.buffer) === false && mapped.buffer.byteLength === 1 << 20, 'allocate() memory released');
    mapped.unmap();
    let typeErr = false;
    try { ucx.releaseBuffer({}); } catch (e) { typeErr = e instanceof TypeError; }
    assert(typeErr, 'non-buffer accepted');
    buffer = null;
    return `in use ${stats().poolInUseBytes - base.poolInUseBytes} B after`;
  });

  await test('pool: an unreleased region returns its block when its buffer is garbage-collected', async () => {
    const base = stats();
    (() => { new Uint8Array(ucx.acquire(3 << 20).buffer).fill(1); })();  // 3 MiB block, dropped
    assert(stats().poolInUseBytes - base.poolInUseBytes === 3 << 20, 'not in use');
    const ok = await collect(() => stats().poolInUseBytes === base.poolInUseBytes);
    assert(ok, `block not back after GC: ${JSON.stringify(stats())}`);
    const again = ucx.acquire(3 << 20);
    assert(stats().poolHits > base.poolHits, 'returned block not reused');
    again.release();
    return `poolIdleBytes ${stats().poolIdleBytes}`;
  });

  await test('pool: release then GC of the old buffer does not return the block twice', async () => {
    const a = ucx.acquire(8 << 20);
    let keep = new Uint8Array(a.buffer);
    const addr = a.address;
    a.release();
    const b = ucx.acquire(8 << 20);  // the same block again
    assert(b.address === addr, 'expected the same block');
    keep = null;
    await collect(() => false, 20);  // the detached buffer's finalizer runs meanwhile
    const c = ucx.acquire(8 << 20);
    assert(c.address !== b.address, 'a block in use was handed out twice');
    assert(stats().poolInUseBytes >= 16 << 20, `in use ${stats().poolInUseBytes}`);
    const bv = new Uint8Array(b.buffer);
    bv.fill(3);
    new Uint8Array(c.buffer).fill(4);
    assert(bv[0] === 3 && bv[bv.length - 1] === 3, 'b overwritten');
    b.release();
    c.release();
    return `keep=${keep}`;
  });

  await test('registration cache: memMap of the same bytes reuses the registration', () => {
    const ab = new ArrayBuffer(1 << 20);
    const s0 = stats();
    const r1 = ucx.memMap(ab);
    const r2 = ucx.memMap(new Uint8Array(ab));
    const r3 = ucx.memMap(new DataView(ab));
    const sub = ucx.memMap(new Uint8Array(ab, 4096, 4096));  // other bytes: a new registration
    const s1 = stats();
    assert(s1.regCacheHits - s0.regCacheHits === 2, `hits +${s1.regCacheHits - s0.regCacheHits}`);
    assert(s1.memMaps - s0.memMaps === 2, `memMaps +${s1.memMaps - s0.memMaps}`);
    r1.unmap();
    r2.unmap();
    // r3 still maps the bytes: its rkey must still pack (the shared memh is alive).
    assert(r3.packRkey().byteLength > 0, 'packRkey');
    r3.unmap();
    sub.unmap();
    const r4 = ucx.memMap(ab);  // everything over it was unmapped: a fresh registration
    assert(stats().memMaps - s1.memMaps === 1, 'memh not unmapped with the last region');
    r4.unmap();
    return `regCacheHits ${stats().regCacheHits}, memMaps ${stats().memMaps}`;
  });

  await test("memoryType 'cuda' is refused with UCX_MEMORY_TYPE_UNSUPPORTED; unknown types are TypeErrors", () => {
    const info = ucx.contextInfo();
    let msg;
    for (const call of [() => ucx.allocate(64, { memoryType: 'cuda' }), () => ucx.acquire(64, { memoryType: 'cuda' }),
      () => ucx.memMap(new ArrayBuffer(64), { memoryType: 'cuda' })]) {
      msg = expectCode(call, 'UCX_MEMORY_TYPE_UNSUPPORTED').message;
      assert(msg.includes(info.cuda ? 'supports CUDA' : 'does not support CUDA'), msg);
      assert(msg.includes('not supported by this addon yet'), msg);
    }
    for (const call of [() => ucx.allocate(64, { memoryType: 'rocm' }), () => ucx.acquire(64, { memoryType: 1 })]) {
      let err;
      try { call(); } catch (e) { err = e; }
      assert(err instanceof TypeError, `got ${err}`);
    }
    ucx.acquire(64, { memoryType: 'host' }).release();
    return msg;
  });

  await test('pool trimming: idle bytes beyond maxIdleBytes give their pages back (RSS goes down)', async () => {
    const n = 16;
    const size = 4 << 20;
    ucx.configurePool({ maxIdleBytes: 1 << 20, idleWindowMs: 0 });  // trim at once, like before
    const s0 = stats();
    const regions = Array.from({ length: n }, () => ucx.acquire(size));
    for (const r of regions) new Uint8Array(r.buffer).fill(0x5a);
    const rssFull = process.memoryUsage().rss;
    for (const r of regions) r.release();
    const rssTrimmed = process.memoryUsage().rss;
    const s1 = stats();
    const trimmed = s1.poolTrimmedBytes - s0.poolTrimmedBytes;
    assert(trimmed >= (n - 1) * size, `poolTrimmedBytes +${trimmed}`);
    const drop = (rssFull - rssTrimmed) / 2 ** 20;
    assert(drop >= (n * size) / 2 ** 20 / 2, `RSS down only ${drop.toFixed(1)} MiB`);
    // A trimmed block comes back registered and usable (its pages fault in again).
    const again = ucx.acquire(size);
    new Uint8Array(again.buffer).fill(1);
    assert(again.packRkey().byteLength > 0, 'packRkey');
    again.release();
    ucx.configurePool({ maxIdleBytes: 256 << 20, idleWindowMs: 5000 });
    return `poolTrimmedBytes +${trimmed / 2 ** 20} MiB, RSS ${(rssFull / 2 ** 20).toFixed(0)} -> ${(rssTrimmed / 2 ** 20).toFixed(0)} MiB`;
  });
}

const MiB = 1 << 20;
const rss = () => process.memoryUsage().rss;

await test(`pool allocator: 'mmap' by default${tcp ? '' : "; 'ucx' (ucp_mem_map ALLOCATE, shared segments) on request, for the cases below"}`, () => {
  // 'auto' is mmap on every transport: UCX 1.13 crashes a reader that unpacks the rkey of a UCX-allocated
  // block whose owner died (see pool.cc), so UCX allocation is opt-in.
  assert(stats().poolAllocator === 'mmap', `poolAllocator ${stats().poolAllocator}`);
  let err;
  try { ucx.configurePool({ allocator: 'malloc' }); } catch (e) { err = e; }
  assert(err instanceof TypeError, `allocator 'malloc': ${err}`);
  if (!tcp) {
    ucx.configurePool({ allocator: 'ucx' });
    assert(stats().poolAllocator === 'ucx', `poolAllocator ${stats().poolAllocator} after configurePool`);
  }
  return `poolAllocator ${stats().poolAllocator}`;
});

await test('pool steady state: acquire/drop/GC cycles of 3 × 64 MiB keep their blocks (memMaps flat, nothing trimmed) even with maxIdleBytes 0', async () => {
  ucx.configurePool({ maxIdleBytes: 0 });
  const cycle = async () => {
    (() => { for (let k = 0; k < 3; k++) new Uint8Array(ucx.acquire(64 * MiB).buffer).fill(k + 1); })();
    assert(await collect(() => stats().poolInUseBytes === 0), 'blocks not back after GC');
  };
  await cycle();  // maps the three blocks
  const s0 = stats();
  for (let i = 0; i < 8; i++) await cycle();
  const s1 = stats();
  assert(s1.memMaps === s0.memMaps, `memMaps ${s0.memMaps} -> ${s1.memMaps}`);
  assert(s1.poolTrimmedBytes === s0.poolTrimmedBytes, `trimmed +${s1.poolTrimmedBytes - s0.poolTrimmedBytes}`);
  assert(s1.poolHits - s0.poolHits === 24, `hits +${s1.poolHits - s0.poolHits}`);
  ucx.configurePool({ maxIdleBytes: 256 * MiB });
  return `8 cycles: memMaps ${s1.memMaps} (flat), poolHits +24, poolIdleBytes ${s1.poolIdleBytes / MiB} MiB`;
});

await test('pool trimming: blocks kept for a past peak are trimmed once the idle window passes (timer), RSS goes down', async () => {
  ucx.configurePool({ maxIdleBytes: MiB, idleWindowMs: 100 });
  const s0 = stats();
  const regions = Array.from({ length: 8 }, () => ucx.acquire(4 * MiB));
  for (const r of regions) new Uint8Array(r.buffer).fill(0x5a);
  const rssFull = rss();
  for (const r of regions) r.release();
  assert(stats().poolTrimmedBytes === s0.poolTrimmedBytes, 'trimmed at once despite the peak');
  const t0 = performance.now();
  const ok = await collect(() => stats().poolTrimmedBytes - s0.poolTrimmedBytes >= 32 * MiB, 100);
  const ms = performance.now() - t0;
  const rssAfter = rss();
  ucx.configurePool({ maxIdleBytes: 256 * MiB, idleWindowMs: 5000 });
  assert(ok, `trimmed only +${(stats().poolTrimmedBytes - s0.poolTrimmedBytes) / MiB} MiB`);
  assert(rssFull - rssAfter >= 16 * MiB, `RSS ${rssFull / MiB | 0} -> ${rssAfter / MiB | 0} MiB`);
  return `trimmed 32 MiB after ${ms.toFixed(0)} ms (window 100 ms), RSS ${rssFull / MiB | 0} -> ${rssAfter / MiB | 0} MiB`;
});

await test('pool trimming: least recently returned first, across size classes', () => {
  ucx.configurePool({ maxIdleBytes: 8 * MiB, idleWindowMs: 0 });
  const s0 = stats();
  const a = ucx.acquire(4 * MiB);
  const b = ucx.acquire(5 * MiB);
  const c = ucx.acquire(5 * MiB);
  a.release();
  b.release();
  c.release();  // 14 MiB idle > 8 MiB: a (4) then b (5) go; c stays (largest-first would trim b and c)
  const trimmed = stats().poolTrimmedBytes - s0.poolTrimmedBytes;
  ucx.configurePool({ maxIdleBytes: 256 * MiB, idleWindowMs: 5000 });
  assert(trimmed === 9 * MiB, `trimmed +${trimmed / MiB} MiB`);
  return `trimmed +9 MiB (a and b)`;
});

await test('pool trimming: a stale reader of a trimmed block reads zeros (block stays mapped); reuse works', () => {
  ucx.configurePool({ maxIdleBytes: 0, idleWindowMs: 0 });
  const ep = ucx.connectAddressSync(ucx.workerAddress(), { errorMode: 'none' });
  const SIZE = 7 * MiB;  // a class of its own here
  const src = ucx.acquire(SIZE);
  new Uint8Array(src.buffer).fill(0x5a);
  const rkey = ep.unpackRkey(src.packRkey());
  const addr = src.address;
  const rssFull = rss();
  const s0 = stats();
  src.release();  // trimmed at once: pages given back
  const rssTrimmed = rss();
  assert(stats().poolTrimmedBytes - s0.poolTrimmedBytes === SIZE, 'not trimmed');
  const dst = ucx.allocate(SIZE);
  new Uint8Array(dst.buffer).fill(1);
  ep.getSync(dst, 0, SIZE, addr, rkey, { timeoutMs: 10000 });
  const v = new Uint8Array(dst.buffer);
  assert(v[0] === 0 && v[v.length - 1] === 0 && v[v.length >> 1] === 0, `read ${v[0]}`);
  ucx.configurePool({ maxIdleBytes: 256 * MiB, idleWindowMs: 5000 });
  const s1 = stats();
  const again = ucx.acquire(SIZE);  // the trimmed block, registered (again, for mmap blocks)
  assert(again.address === addr, 'not the trimmed block');
  new Uint8Array(again.buffer).fill(2);
  const maps = stats().memMaps - s1.memMaps;
  assert(maps === (stats().poolAllocator === 'ucx' ? 0 : 1), `memMaps +${maps}`);
  again.release();
  dst.unmap();
  rkey.destroy();
  ep.close({ force: true });
  return `RSS ${rssFull / MiB | 0} -> ${rssTrimmed / MiB | 0} MiB at trim, stale get read zeros, reuse memMaps +${maps}`;
});

const LOOP = 4 << 20;
await test('getSync to a loopback endpoint on our own worker (connectAddressSync), bytes checked', () => {
  const src = ucx.allocate(LOOP);
  fillPattern(new Uint8Array(src.buffer), 77);
  const ep = ucx.connectAddressSync(ucx.workerAddress(), { errorMode: 'none' });
  const rkey = ep.unpackRkey(src.packRkey());
  const dst = ucx.acquire(LOOP);
  const t0 = performance.now();
  ep.getSync(dst, 0, LOOP, src.address, rkey, { timeoutMs: 10000 });
  const ms = performance.now() - t0;
  const bad = checkPattern(new Uint8Array(dst.buffer), 77);
  assert(bad === -1, `word ${bad} differs`);
  dst.release();
  rkey.destroy();
  src.unmap();
  ep.close({ force: true });
  return `4 MiB in ${ms.toFixed(1)} ms, state ${ep.state}`;
});

if (tcp) {
  await test('getSync: an active message arriving meanwhile stays queued and is dispatched afterwards', async () => {
    const ep = ucx.connectAddressSync(ucx.workerAddress(), { errorMode: 'none' });
    const src = ucx.allocate(LOOP);
    const rkey = ep.unpackRkey(src.packRkey());
    const dst = ucx.acquire(LOOP);
    let inSync = false;
    let sawDuringSync = null;
    const got = new Promise((resolve) => ucx.setAmHandler(9, (h) => { sawDuringSync = inSync; resolve(h.byteLength); }));
    const sent = ep.amSend(9, new Uint8Array(8), null);
    inSync = true;
    ep.getSync(dst, 0, LOOP, src.address, rkey, { timeoutMs: 10000 });
    inSync = false;
    const len = await Promise.race([got, new Promise((_, rej) => setTimeout(() => rej(new Error('AM never dispatched')), 5000))]);
    await sent;
    assert(sawDuringSync === false, 'AM handler ran inside getSync');
    dst.release();
    rkey.destroy();
    src.unmap();
    await ep.close();
    return `AM (${len} B header) dispatched after getSync returned`;
  });

  await test('a duringSync slot is handled inside getSync and waitAmSync; other slots wait for the event loop', async () => {
    const ep = ucx.connectAddressSync(ucx.workerAddress(), { errorMode: 'none' });
    const src = ucx.allocate(LOOP);
    const rkey = ep.unpackRkey(src.packRkey());
    const dst = ucx.acquire(LOOP);
    let blocked = false;
    const inside = [];
    ucx.setAmHandler(13, () => inside.push(['during', blocked]), { duringSync: true });
    ucx.setAmHandler(14, () => inside.push(['plain', blocked]));
    ep.amSend(13, new Uint8Array(16), null).catch(() => {});
    ep.amSend(14, new Uint8Array(16), null).catch(() => {});
    blocked = true;
    ep.getSync(dst, 0, LOOP, src.address, rkey, { timeoutMs: 10000 });
    ep.amSend(13, new Uint8Array(16), null).catch(() => {});
    expectCode(() => ep.waitAmSync(15, 1n, { timeoutMs: 300 }), 'UCX_TIMEOUT');
    blocked = false;
    await tick();
    await tick();
    const seen = inside.map(([slot, during]) => `${slot}:${during ? 'inside' : 'after'}`).join(' ');
    assert(seen === 'during:inside during:inside plain:after', `handled: ${seen}`);
    let bad = null;
    try { ucx.setAmHandler(13, () => {}, { duringSync: 'yes' }); } catch (e) { bad = e; }
    assert(bad instanceof TypeError, `duringSync: 'yes': ${bad}`);
    ucx.setAmHandler(13, null);
    ucx.setAmHandler(14, null);
    dst.release();
    rkey.destroy();
    src.unmap();
    await ep.close();
    return seen;
  });

  await test('waitAmSync takes the message with its tag (no handler sees it) and leaves the others; a pooled one comes as a region; UCX_TIMEOUT when none comes', async () => {
    const ep = ucx.connectAddressSync(ucx.workerAddress(), { errorMode: 'none' });
    const seen = [];
    ucx.setAmHandler(11, (h) => seen.push(new DataView(h).getBigUint64(8, true)));
    ucx.setAmHandler(12, (_h, _d, info) => { seen.push('pooled'); info.region?.release(); }, { receive: 'pool', shared: false });
    const header = (tag) => {
      const b = new Uint8Array(16);
      new DataView(b.buffer).setBigUint64(8, tag, true);
      return b;
    };
    ep.amSend(11, header(1n), new Uint8Array(10)).catch(() => {});
    ep.amSend(11, header(2n), new Uint8Array(10)).catch(() => {});
    const got = ep.waitAmSync(11, 2n, { timeoutMs: 10000 });
    assert(new DataView(got.header).getBigUint64(8, true) === 2n, 'took another message');
    assert(got.data.byteLength === 10, `data of ${got.data.byteLength} B`);
    const data = new Uint8Array(LOOP);
    fillPattern(data, 5);
    ep.amSend(12, header(3n), data).catch(() => {});
    const big = ep.waitAmSync(12, 3n, { timeoutMs: 10000 });
    assert(big.info.region !== undefined && big.info.region.shm === null, 'not a private pooled region');
    assert(checkPattern(new Uint8Array(big.data, 0, LOOP), 5) === -1, 'bytes differ');
    big.info.region.release();
    const t0 = performance.now();
    expectCode(() => ep.waitAmSync(11, 9n, { timeoutMs: 200 }), 'UCX_TIMEOUT');
    const ms = performance.now() - t0;
    assert(ms >= 190 && ms < 2000, `timed out after ${ms.toFixed(0)} ms`);
    await tick();
    await tick();
    assert(seen.length === 1 && seen[0] === 1n, `the handlers saw ${seen.join(', ')}`);
    for (const bad of [() => ep.waitAmSync(11, 1), () => ep.waitAmSync(70000, 1n), () => ep.waitAmSync(11, 1n, { tagOffset: -1 })]) {
      let err = null;
      try { bad(); } catch (e) { err = e; }
      assert(err instanceof TypeError, `bad arguments: ${err}`);
    }
    ucx.setAmHandler(11, null);
    ucx.setAmHandler(12, null, { receive: 'pool' });
    await ep.close();
    return `the tagged message taken, the other dispatched; ${LOOP} B pooled; timeout after ${ms.toFixed(0)} ms`;
  });

  await test('release() during an RMA get throws UCX_BUSY; after it settles release works', async () => {
    const ep = ucx.connectAddressSync(ucx.workerAddress(), { errorMode: 'none' });
    const src = ucx.allocate(16 << 20);
    const rkey = ep.unpackRkey(src.packRkey());
    const dst = ucx.acquire(16 << 20);
    const pending = ep.get(dst, 0, 16 << 20, src.address, rkey, { timeoutMs: 10000 });
    const err = expectCode(() => dst.release(), 'UCX_BUSY');
    expectCode(() => ucx.releaseBuffer(dst.buffer), 'UCX_BUSY');
    await pending;
    dst.release();
    rkey.destroy();
    src.unmap();
    await ep.close();
    return err.message;
  });
}

await test('nothing left after the pool cases', async () => {
  await collect(() => stats().regions === 0 && stats().poolInUseBytes === 0, 50);
  const s = stats();
  assert(s.regions === 0 && s.poolInUseBytes === 0 && s.refs === 0, JSON.stringify(s));
  return JSON.stringify({ memMaps: s.memMaps, regCacheHits: s.regCacheHits, poolHits: s.poolHits, poolMisses: s.poolMisses, poolIdleBytes: s.poolIdleBytes, poolTrimmedBytes: s.poolTrimmedBytes });
});
