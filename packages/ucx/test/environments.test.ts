// The UCX transport beyond one main thread: a worker thread with its own connector, a process without
// the addon (PROXYSTORE_UCX_DISABLE=1), and the addon's own test driver.
// UCX reads UCX_TLS at the first use of the addon, which no import triggers: set here, before any test.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ControlClient } from '@proxystore/control';
import { DAEMON_NODE_FLAGS, UcxConnector, UcxServer, type UcxKey } from '@proxystore/ucx';
import { UcxChild, UcxDaemonProcess, patternBytes, ucxSkipReason } from '@proxystore/ucx/testing';
import { describe, expect, it } from 'vitest';
import { sha256 } from './suite.js';

process.env.UCX_TLS = 'tcp';

const skip = ucxSkipReason();
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('the UCX transport in other environments', () => {
  it.skipIf(skip !== undefined)('a worker thread uses its own connector, reading and serving over UCX', async () => {
    const owner = await UcxChild.start({ tls: 'tcp' });
    const main = new UcxConnector({ timeoutMs: 15_000 });
    try {
      const { key, sha256: digest } = await owner.put([[2 * 1024 * 1024 + 5, 8]]);
      const worker = new Worker(new URL('./fixtures/worker.mjs', import.meta.url), { workerData: { key } });
      const exited = once(worker, 'exit');
      const [reply] = (await Promise.race([once(worker, 'message'), exited.then(() => [null])])) as [
        { get: string; getSync: string; key: UcxKey; mine: string } | null,
      ];
      expect(reply).not.toBeNull();
      expect(reply?.get).toBe(digest);
      expect(reply?.getSync).toBe(digest);
      // The worker's own server answers the main thread over UCX (another UCX worker, same process).
      const theirs = await main.get(reply!.key);
      expect(sha256(theirs ?? [])).toBe(reply?.mine);
      expect(await main.exists(reply!.key)).toBe(true);
      worker.postMessage('done');
      const [code] = (await exited) as [number];
      expect(code).toBe(0);
    } finally {
      await main.close();
      await owner.stop();
    }
  });

  it.skipIf(skip !== undefined)('a UcxServer answers the control plane, with gRPC put and get for consumers without UCX', async () => {
    const server = await UcxServer.start({ maxBytes: 64 * 1024 * 1024 });
    const client = new ControlClient(server.address, { chunkSize: 1024 * 1024 });
    try {
      const identity = await client.identity();
      expect(identity).toMatchObject({ id: server.id, address: server.address, objects: 0, bytesLimit: 64 * 1024 * 1024 });
      expect(Buffer.from(identity.workerAddress ?? []).equals(Buffer.from(server.workerAddress))).toBe(true);
      expect(await client.peers()).toEqual([]);
      await expect(client.register({ id: 'x', name: 'x', address: 'h:1', lastSeenMs: 0, reachable: true })).rejects.toMatchObject({
        code: 'CONTROL_INVALID_ARGUMENT',
      });

      const frames = [patternBytes(8 * 1024 * 1024, 5), new Uint8Array(0), new Uint8Array([1, 2, 3])];
      const digest = sha256(frames);
      const { id, owner } = await client.put(frames);
      expect(owner).toBe(server.id);
      const viaGrpc = await client.get({ id });
      expect(viaGrpc?.map((f) => f.byteLength)).toEqual([8 * 1024 * 1024, 0, 3]);
      expect(sha256(viaGrpc ?? [])).toBe(digest);
      expect(await client.stat({ id })).toMatchObject({ size: frames[0]!.byteLength + 3, frameLengths: [8 * 1024 * 1024, 0, 3] });
      expect((await client.health()).objects).toBe(1);
      // What gRPC put, UCX reads (this thread's server: answered in place; the key is the server's own).
      const key = server.keyOf(id) as UcxKey;
      const reader = new UcxConnector();
      expect(sha256((await reader.get(key)) ?? [])).toBe(digest);
      await reader.close();

      // Evicted while a gRPC get streams it: the stream still delivers every byte (the block is pinned),
      // and the block goes back to the pool when the stream ends.
      const stream = await client.openGet({ id });
      const chunks: Uint8Array[] = [];
      for await (const chunk of stream!.chunks) {
        if (chunks.length === 0) expect(await client.evict({ id })).toBe(true);
        chunks.push(chunk.slice());
      }
      expect(Buffer.concat(chunks).equals(Buffer.concat(frames))).toBe(true);
      expect(await client.exists({ id })).toBe(false);
      expect(server.bytesUsed).toBe(0);

      // The byte limit refuses before any data moves.
      await expect(client.put([new Uint8Array(65 * 1024 * 1024)])).rejects.toMatchObject({ code: 'CONTROL_STORAGE_FULL' });
    } finally {
      client.close();
      await server.close();
    }
  });

  it('the daemon binary prints its usage, and refuses bad flags with exit code 2', async () => {
    const run = async (args: string[]): Promise<{ code: number; out: string }> => {
      const child = spawn(process.execPath, [fileURLToPath(new URL('../dist/main.js', import.meta.url)), ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      const [code] = (await once(child, 'exit')) as [number];
      return { code, out };
    };
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/--token-file/);
    expect((await run(['--bogus'])).code).toBe(2);
    const bad = await run(['--max-bytes', 'lots']);
    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/--max-bytes must be/);
    expect(help.out).toMatch(/--lend-idle-ms/);
    const idle = await run(['--lend-idle-ms', '0']);
    expect(idle.code).toBe(2);
    expect(idle.out).toMatch(/--lend-idle-ms must be at least 1/);
    expect(help.out).toMatch(/--poll-us/);
    const poll = await run(['--poll-us', '2000000']);
    expect(poll.code).toBe(2);
    expect(poll.out).toMatch(/--poll-us must be at most 1000000/);
    expect((await run(['--poll-us', 'soon'])).code).toBe(2);
    expect(help.out).toMatch(/--sched <batch\|normal>/);
    const sched = await run(['--sched', 'fifo']);
    expect(sched.code).toBe(2);
    expect(sched.out).toMatch(/--sched must be 'batch' or 'normal', got 'fifo'/);
  });

  it.skipIf(skip !== undefined)('the daemon runs its main thread under SCHED_BATCH unless told --sched normal or started under another policy, and serves either way', async () => {
    // Field 41 of /proc/<pid>/stat, the policy of the process's main thread: 0 SCHED_OTHER, 3 SCHED_BATCH.
    const policyOf = (pid: number): number => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[38]);
    const batch = await UcxDaemonProcess.start({ tls: 'tcp' });
    const normal = await UcxDaemonProcess.start({ tls: 'tcp', sched: 'normal' });
    try {
      expect(batch.ready.schedPolicy).toBe('batch');
      expect(policyOf(batch.pid)).toBe(3);
      expect(normal.ready.schedPolicy).toBe('normal');
      expect(policyOf(normal.pid)).toBe(0);
      // Started under another policy (chrt -i: SCHED_IDLE, which needs no privilege), the default keeps it.
      const idle = spawn('chrt', ['-i', '0', fileURLToPath(new URL('../bin/proxystore-ucx-daemon', import.meta.url)), '--port', '0'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, UCX_TLS: 'tcp', NODE_OPTIONS: '' },
      });
      const idleExit = once(idle, 'exit');
      try {
        const ready = await new Promise<{ schedPolicy: string; pid: number }>((resolve, reject) => {
          let out = '';
          idle.stdout.on('data', (c: Buffer) => {
            out += c.toString();
            const line = out.split('\n').find((l) => l.startsWith('ready '));
            if (line !== undefined) resolve(JSON.parse(line.slice('ready '.length)) as { schedPolicy: string; pid: number });
          });
          void idleExit.then(([code]) => reject(new Error(`chrt -i daemon exited ${String(code)}`)));
        });
        expect(ready.schedPolicy).toBe('idle');
        expect(policyOf(ready.pid)).toBe(5);
      } finally {
        idle.kill('SIGTERM');
        await idleExit;
      }
      for (const d of [batch, normal]) {
        const connector = new UcxConnector({ mode: 'daemon', daemon: d.address, timeoutMs: 15_000 });
        try {
          const frames = [patternBytes(1024 * 1024 + 3, 7)];
          const key = await connector.put(frames);
          expect(sha256((await connector.get(key)) ?? [])).toBe(sha256(frames));
        } finally {
          await connector.close();
        }
      }
    } finally {
      await batch.kill('SIGTERM');
      await normal.kill('SIGTERM');
    }
  });

  it.skipIf(skip !== undefined)('a daemon with a poll window (--poll-us) says so and serves as one without', async () => {
    const polling = await UcxDaemonProcess.start({ tls: 'tcp', pollUs: 20_000 });
    const sleeping = await UcxDaemonProcess.start({ tls: 'tcp' });
    try {
      expect(polling.ready.pollUs).toBe(20_000);
      expect(sleeping.ready.pollUs).toBe(0);
      for (const d of [polling, sleeping]) {
        const connector = new UcxConnector({ mode: 'daemon', daemon: d.address, timeoutMs: 15_000 });
        try {
          const frames = [patternBytes(3 * 1024 * 1024 + 7, 4)];
          const key = await connector.put(frames);
          expect(sha256((await connector.get(key)) ?? [])).toBe(sha256(frames));
          expect(await connector.evict(key)).toBeUndefined();
        } finally {
          await connector.close();
        }
      }
    } finally {
      await polling.kill('SIGTERM');
      await sleeping.kill('SIGTERM');
    }
  });

  it.skipIf(skip !== undefined)('the launcher runs the daemon as itself under node with the heap flags; plain node says what it lacks', async () => {
    // The launcher's flags are the exported ones (the daemon's heap settings live in one place: heap.ts).
    const launcher = readFileSync(fileURLToPath(new URL('../bin/proxystore-ucx-daemon', import.meta.url)), 'utf8');
    expect(DAEMON_NODE_FLAGS.length).toBeGreaterThan(0);
    for (const flag of DAEMON_NODE_FLAGS) expect(launcher).toContain(flag);

    const d = await UcxDaemonProcess.start({ tls: 'tcp' });
    try {
      expect(d.ready.youngGenerationMiB).toBe(16);
      // exec: the pid the daemon reports is the launched process, node running main.js with the flags.
      const argv = readFileSync(`/proc/${d.pid}/cmdline`, 'utf8').split('\0');
      expect(argv).toEqual(expect.arrayContaining([...DAEMON_NODE_FLAGS]));
      expect(argv.some((a) => a.endsWith('/dist/main.js'))).toBe(true);
    } finally {
      await d.kill('SIGTERM');
    }

    const plain = spawn(process.execPath, [fileURLToPath(new URL('../dist/main.js', import.meta.url)), '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, UCX_TLS: 'tcp', NODE_OPTIONS: '' },
    });
    let stdout = '';
    let stderr = '';
    plain.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const ready = await new Promise<{ youngGenerationMiB: number }>((resolve, reject) => {
      plain.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
        const line = stdout.split('\n').find((l) => l.startsWith('ready '));
        if (line !== undefined) resolve(JSON.parse(line.slice('ready '.length)) as { youngGenerationMiB: number });
      });
      plain.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
    });
    plain.kill('SIGTERM');
    await once(plain, 'exit');
    expect(ready.youngGenerationMiB).toBeLessThan(16);
    expect(stderr).toMatch(/young generation is \d+ MiB; start it as proxystore-ucx-daemon \(or node --min-semi-space-size=16\)/);
  });

  it.skipIf(skip !== undefined)('a daemon whose PROXYSTORE_UCX_POLL_US is not a number of microseconds refuses to start, naming it', async () => {
    const started = await UcxDaemonProcess.start({ tls: 'tcp', env: { PROXYSTORE_UCX_POLL_US: '5ms' } }).then(
      async (d) => {
        await d.kill();
        return null;
      },
      (err: Error) => err,
    );
    expect(started?.message).toMatch(/PROXYSTORE_UCX_POLL_US must be a number of microseconds from 0 to 1000000, not '5ms'/);
  });

  it('without the addon: the package imports, and UCX calls fail with UCX_NOT_AVAILABLE and what to install', async () => {
    const child = await UcxChild.start({ env: { PROXYSTORE_UCX_DISABLE: '1' } });
    const local = skip === undefined ? new UcxConnector() : null;
    try {
      expect(child.errorMode).toBeDefined();
      const put = await child.put([[10, 1]]).then(
        () => null,
        (err: { code?: string; message: string }) => err,
      );
      expect(put?.code).toBe('UCX_NOT_AVAILABLE');
      expect(put?.message).toMatch(/apt-get install libucx-dev/);
      if (local !== null) {
        // A key from a process with UCX: reading it needs UCX; asking about it needs only the control plane.
        const key = await local.put([new Uint8Array(10)]);
        const get = await child.get(key).then(
          () => null,
          (err: { code?: string; message: string }) => err,
        );
        expect(get?.code).toBe('UCX_NOT_AVAILABLE');
        expect(get?.message).toMatch(/libucx-dev/);
      }
    } finally {
      await local?.close();
      await child.stop();
    }
  });

  it.skipIf(skip !== undefined)('a consumer that never closes its connector exits as soon as its work is done', async () => {
    // Cached endpoints are unref'd: they must not hold a process open until the idle sweep closes them.
    const owner = await UcxChild.start({ tls: 'tcp' });
    try {
      const { key, sha256: digest } = await owner.put([[1024 * 1024, 3]]);
      const script = `
        import { createHash } from 'node:crypto';
        import { UcxConnector } from '@proxystore/ucx';
        const frames = await new UcxConnector().get(${JSON.stringify(key)});
        const hash = createHash('sha256');
        for (const f of frames) hash.update(f);
        console.log(hash.digest('hex'));
        globalThis.doneAt = performance.now();
        process.on('exit', () => console.log(Math.round(performance.now() - globalThis.doneAt)));`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        cwd: ROOT,
        env: { ...process.env, UCX_TLS: 'tcp', UCX_WARN_UNUSED_ENV_VARS: 'n' },
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const [code] = (await once(child, 'exit')) as [number];
      expect(code).toBe(0);
      const [hash, lingerMs] = out.trim().split('\n');
      expect(hash).toBe(digest);
      // Without unref the open endpoint would keep it alive until its connector closed.
      expect(Number(lingerMs)).toBeLessThan(2_000);
    } finally {
      await owner.stop();
    }
  });

  it.skipIf(skip !== undefined)('a worker thread exits cleanly while values it read are still alive (3 runs)', async () => {
    // Regression: at a thread's teardown a value's buffer and the region that filled it are finalized
    // in any order; the buffer's finalizer deleted the lease the region still pointed at, and the region
    // then wrote through it (a segfault or abort in 15 of 15 runs before the fix).
    for (let run = 0; run < 3; run++) {
      const child = spawn(process.execPath, [fileURLToPath(new URL('./fixtures/exit-with-values.mjs', import.meta.url))], {
        cwd: ROOT,
        env: { ...process.env, UCX_TLS: 'tcp', UCX_WARN_UNUSED_ENV_VARS: 'n' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
      expect({ code, signal }, out).toEqual({ code: 0, signal: null });
    }
  }, 60_000);

  it.skipIf(skip !== undefined)('a daemon keeps answering a producer that has been reading from it for a while', async () => {
    // Regression: the daemon closed its endpoint to the producer after 5 s idle while the producer kept
    // reading over its own endpoint to the daemon; over tcp, UCX 1.13 then lost the producer's next put
    // requests (no answer until the timeout).
    const daemon = await UcxDaemonProcess.start({ tls: 'tcp' });
    const producer = new UcxConnector({ mode: 'daemon', daemon: daemon.address, timeoutMs: 10_000 });
    try {
      const bytes = patternBytes(4 * 1024 * 1024, 7);
      const key = await producer.put([bytes]);
      const until = performance.now() + 7_000;
      while (performance.now() < until) expect(await producer.get(key)).not.toBeNull();
      const again = await producer.put([bytes]);
      expect(sha256((await producer.get(again)) ?? [])).toBe(sha256([bytes]));
    } finally {
      await producer.close();
      await daemon.stop();
    }
  }, 60_000);

  it.skipIf(skip !== undefined)("the addon's own driver (native/ucx/test/run.mjs) ends with 0 failed", async () => {
    const env = { ...process.env };
    delete env.UCX_TLS;
    delete env.NODE_OPTIONS;
    const child = spawn(process.execPath, ['native/ucx/test/run.mjs'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    expect(out.trim().split('\n').at(-1), out).toMatch(/ 0 failed$/);
    expect(code).toBe(0);
  }, 120_000);
});
