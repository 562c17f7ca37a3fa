// The task service as real processes: a broker child with a 1000-byte limit and worker children, driven
// by the client in this process. Checks behaviour, never timings.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { FileConnector, Store, toReference } from '@proxystore/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type BrokerErrorCode, isBrokerError } from './errors.js';
import { FrameDecoder, FrameKind, type Frame, encodeFrame } from './protocol.js';
import { type TaskService, startTaskService } from './service.js';
import { packPayload, randomPayload, receive, sha256, touchPages } from './task.js';

const LIMIT = 1000;

async function codeOf(promise: Promise<unknown>): Promise<BrokerErrorCode | string> {
  try {
    await promise;
  } catch (err) {
    return isBrokerError(err) ? err.code : `not a BrokerError: ${String(err)}`;
  }
  return 'resolved';
}

function gone(service: TaskService): boolean {
  return [service.broker, ...service.workers].every((c) => c.exitCode !== null || c.signalCode !== null);
}

describe('task service with two workers', () => {
  let service: TaskService;
  let dir: string;
  let store: Store;

  beforeAll(async () => {
    service = await startTaskService({ brokerLimit: LIMIT, workers: 2 });
    dir = mkdtempSync(join(tmpdir(), 'task-rtt-test-'));
    store = new Store(`task-rtt-test-${process.pid}`, new FileConnector({ directory: join(dir, 'store') }), { cacheSize: 0, register: true });
  });

  afterAll(async () => {
    await service?.stop();
    await store?.close({ clear: true });
    rmSync(dir, { recursive: true, force: true });
    expect(gone(service)).toBe(true);
  });

  it('returns the right bytes by value', async () => {
    const input = randomPayload(300);
    const result = await service.client.submit({ meta: { mode: 'value', outputBytes: 200, verify: true }, payload: packPayload(input) });
    expect(result.meta).toMatchObject({ inputBytes: 300, checksum: touchPages(input), inputSha256: sha256(input) });
    const output = receive(result.payload, 'value').data;
    expect(output.byteLength).toBe(200);
    expect(sha256(output)).toBe(result.meta.outputSha256);
  });

  it('returns the right bytes by proxy through the file connector, far over the broker limit, and leaves nothing in the store', async () => {
    const input = randomPayload(1_000_000);
    const proxy = await store.proxy(input, { evict: true });
    const inputKey = toReference(proxy).key;
    const payload = packPayload(proxy);
    expect(payload.byteLength).toBeLessThan(LIMIT);
    const result = await service.client.submit({ meta: { mode: 'proxy', outputBytes: 2_000_000, verify: true }, payload });
    expect(result.meta).toMatchObject({ inputBytes: 1_000_000, inputSha256: sha256(input) });
    const { value, data } = receive(result.payload, 'proxy');
    expect(data.byteLength).toBe(2_000_000);
    expect(sha256(data)).toBe(result.meta.outputSha256);
    // Evict-on-use: the worker's read removed the input, the client's read removed the output.
    expect(await store.exists(inputKey)).toBe(false);
    expect(await store.exists(toReference(value).key)).toBe(false);
  });

  it('refuses a task over the limit with BROKER_MESSAGE_TOO_LARGE, naming size and limit, and serves the next task', async () => {
    const payload = packPayload(randomPayload(5000));
    const error = await service.client.submit({ meta: { mode: 'value', outputBytes: 1 }, payload }).catch((err: unknown) => err);
    expect(isBrokerError(error, 'BROKER_MESSAGE_TOO_LARGE')).toBe(true);
    if (!isBrokerError(error)) return;
    expect(error.details).toMatchObject({ limit: LIMIT, direction: 'task' });
    expect(error.details.bytes).toBeGreaterThan(5000);
    expect(error.message).toContain(String(LIMIT));
    const next = await service.client.submit({ meta: { mode: 'value', outputBytes: 3 }, payload: packPayload(new Uint8Array(3)) });
    expect(next.meta.inputBytes).toBe(3);
  });

  it('refuses a result over the limit: the client gets BROKER_MESSAGE_TOO_LARGE and the worker serves on', async () => {
    const results = await Promise.all(
      [5000, 5000, 10].map((outputBytes) =>
        service.client.submit({ meta: { mode: 'value', outputBytes }, payload: packPayload(new Uint8Array(1)) }).then(
          (r) => r.payload.byteLength,
          (err: unknown) => (isBrokerError(err) ? `${err.code} ${String(err.details.direction)}` : String(err)),
        ),
      ),
    );
    expect(results.slice(0, 2)).toEqual(['BROKER_MESSAGE_TOO_LARGE result', 'BROKER_MESSAGE_TOO_LARGE result']);
    expect(typeof results[2]).toBe('number');
  });

  it('reports a task that throws in the worker as TASK_FAILED with the remote code', async () => {
    const proxy = await store.proxy(randomPayload(10));
    await store.evict(toReference(proxy).key);
    const error = await service.client.submit({ meta: { mode: 'proxy', outputBytes: 1 }, payload: packPayload(proxy) }).catch((e: unknown) => e);
    expect(isBrokerError(error, 'TASK_FAILED')).toBe(true);
    if (isBrokerError(error)) expect(error.details.remoteCode).toBe('PROXY_RESOLVE_MISSING_KEY');
  });

  it('answers a malformed frame with a protocol error and closes that connection only', async () => {
    const socket = connect({ port: service.port, host: '127.0.0.1' });
    const frames: Frame[] = [];
    const decoder = new FrameDecoder({ frame: (f) => frames.push(f) });
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
    await once(socket, 'connect');
    socket.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await once(socket, 'close');
    expect(frames.map((f) => [f.kind, f.taskId, f.meta.code])).toEqual([[FrameKind.Error, 0, 'BROKER_PROTOCOL_ERROR']]);
    const next = await service.client.submit({ meta: { mode: 'value', outputBytes: 1 }, payload: packPayload(new Uint8Array(1)) });
    expect(next.meta.inputBytes).toBe(1);
  });

  it('refuses a task from a peer that never said hello', async () => {
    const socket = connect({ port: service.port, host: '127.0.0.1' });
    const frames: Frame[] = [];
    const decoder = new FrameDecoder({ frame: (f) => frames.push(f) });
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
    await once(socket, 'connect');
    for (const part of encodeFrame(FrameKind.Task, 1, { mode: 'value', outputBytes: 1 })) socket.write(part);
    await once(socket, 'close');
    expect(frames.map((f) => f.meta.code)).toEqual(['BROKER_PROTOCOL_ERROR']);
  });

  it('fails a task with TASK_TIMEOUT at the client deadline', async () => {
    const code = await codeOf(
      service.client.submit({ meta: { mode: 'value', outputBytes: 1, sleepMs: 2000 }, payload: packPayload(new Uint8Array(1)), timeoutMs: 50 }),
    );
    expect(code).toBe('TASK_TIMEOUT');
  });
});

describe('task service faults', () => {
  let service: TaskService | undefined;
  afterEach(async () => {
    await service?.stop();
    if (service !== undefined) expect(gone(service)).toBe(true);
    service = undefined;
  });

  it('fails the task of a killed worker with BROKER_WORKER_LOST, then new tasks with BROKER_NO_WORKERS', async () => {
    service = await startTaskService({ brokerLimit: LIMIT, workers: 1 });
    const worker = service.workers[0];
    let dispatched!: () => void;
    const running = new Promise<void>((resolve) => (dispatched = resolve));
    const task = service.client.submit({
      meta: { mode: 'value', outputBytes: 1, sleepMs: 60_000 },
      payload: packPayload(new Uint8Array(1)),
      onDispatched: dispatched,
    });
    await running;
    worker?.kill('SIGKILL');
    expect(await codeOf(task)).toBe('BROKER_WORKER_LOST');
    expect(await codeOf(service.client.submit({ meta: { mode: 'value', outputBytes: 1 }, payload: packPayload(new Uint8Array(1)) }))).toBe(
      'BROKER_NO_WORKERS',
    );
  });

  it('fails pending tasks with BROKER_DISCONNECTED when the broker dies', async () => {
    service = await startTaskService({ brokerLimit: LIMIT, workers: 1 });
    const task = service.client.submit({ meta: { mode: 'value', outputBytes: 1, sleepMs: 60_000 }, payload: packPayload(new Uint8Array(1)) });
    service.broker.kill('SIGKILL');
    expect(await codeOf(task)).toBe('BROKER_DISCONNECTED');
    expect(await codeOf(service.client.submit({ meta: { mode: 'value', outputBytes: 1 }, payload: packPayload(new Uint8Array(1)) }))).toBe(
      'BROKER_DISCONNECTED',
    );
  });

  it('refuses a service without workers before starting anything', async () => {
    await expect(startTaskService({ brokerLimit: LIMIT, workers: 0 })).rejects.toThrow(RangeError);
  });
});
