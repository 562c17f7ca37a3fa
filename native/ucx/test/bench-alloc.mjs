// Measures a two-process RMA get (getSync, region and rkey reused) from a pool block of the server into
// a pool block of the client, with the pool's blocks allocated by our own mmap or by UCX
// (configurePool({ allocator })). Usage: node test/bench-alloc.mjs [tcp|sm] [mmap|ucx] [rounds]
// Prints one line per size: median and best GB/s over `rounds` timed runs.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ucx } from './common.mjs';

const [, , tls = 'sm', allocator = 'mmap', roundsArg = '3', role] = process.argv;
const SIZES = [4 << 20, 16 << 20, 64 << 20];
const ITERS = { [4 << 20]: 200, [16 << 20]: 60, [64 << 20]: 16 };

if (role === 'server') {
  ucx.configurePool({ allocator });
  const src = ucx.acquire(64 << 20);
  new Uint8Array(src.buffer).fill(7);
  process.send({ address: src.address.toString(), rkey: Buffer.from(src.packRkey()).toString('base64'),
    worker: Buffer.from(ucx.workerAddress()).toString('base64'), using: ucx.stats().poolAllocator });
  process.on('message', () => process.exit(0));
  setInterval(() => {}, 1000);  // keep progressing (the worker's fd is polled by the loop)
} else {
  const env = { ...process.env, UCX_TLS: tls === 'sm' ? 'sm,self' : 'tcp', UCX_WARN_UNUSED_ENV_VARS: 'n' };
  if (!process.env.UCX_TLS) {
    // Re-run ourselves with the transport set before UCX initialises.
    const child = fork(fileURLToPath(import.meta.url), process.argv.slice(2, 5), { env });
    await new Promise((r) => child.on('exit', r));
    process.exit(child.exitCode ?? 1);
  }
  const server = fork(fileURLToPath(import.meta.url), [tls, allocator, roundsArg, 'server'], { env });
  const info = await new Promise((r) => server.once('message', r));
  ucx.configurePool({ allocator });
  const ep = ucx.connectAddressSync(Buffer.from(info.worker, 'base64'), { errorMode: 'none' });
  const rkey = ep.unpackRkey(Buffer.from(info.rkey, 'base64'));
  const dst = ucx.acquire(64 << 20);
  const remote = BigInt(info.address);
  ep.getSync(dst, 0, 64 << 20, remote, rkey, { timeoutMs: 30000 });  // warm-up, faults pages in
  const out = [];
  for (const size of SIZES) {
    const rates = [];
    for (let r = 0; r < Number(roundsArg); r++) {
      const n = ITERS[size];
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) ep.getSync(dst, 0, size, remote, rkey, { timeoutMs: 30000 });
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      rates.push((size * n) / s / 1e9);
    }
    rates.sort((a, b) => a - b);
    out.push(`${tls} ${allocator}(server ${info.using}, client ${ucx.stats().poolAllocator}) ${size >> 20} MiB: median ${rates[rates.length >> 1].toFixed(2)} GB/s, best ${rates[rates.length - 1].toFixed(2)} GB/s`);
  }
  if (new Uint8Array(dst.buffer)[123] !== 7) out.push('BYTES WRONG');
  console.log(out.join('\n'));
  server.send('exit');
  dst.release();
  rkey.destroy();
  ep.close({ force: true });
  process.exit(0);
}
