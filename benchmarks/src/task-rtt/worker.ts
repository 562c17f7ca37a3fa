// A worker of the task service, run as its own process (`node dist/task-rtt/worker.js --port N`): it
// connects to the broker, runs one task at a time and returns the result through the broker. By value the
// input and output travel inside the messages; by proxy the messages carry references, the input is read
// from the store the reference names (re-created here from its config) and the output is put in that same
// store, evict-on-use, so neither accumulates.
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { getOrCreateStore, ProxyStoreError, toReference } from '@proxystore/core';
import { BrokerError } from './errors.js';
import { type Frame, FrameDecoder, FrameKind, writeFrame } from './protocol.js';
import { OutputPool, packPayload, parseTaskMeta, receive, type ResultMeta, sha256 } from './task.js';

/** Runs one task frame: read the input, work, make the output, pack it the way the input came. */
export async function runTask(frame: Frame, pool: OutputPool): Promise<{ meta: ResultMeta; payload: Uint8Array }> {
  const task = parseTaskMeta(frame.meta);
  const input = receive(frame.payload, task.mode);
  if (task.sleepMs !== undefined && task.sleepMs > 0) await sleep(task.sleepMs);
  const output = pool.take(task.outputBytes);
  let result: Uint8Array = output;
  if (task.mode === 'proxy') {
    // The store the input came from: the worker needs no configuration of its own.
    const store = getOrCreateStore(toReference(input.value).store);
    result = await store.proxy(output, { evict: true });
  }
  const meta: ResultMeta = { inputBytes: input.data.byteLength, checksum: input.checksum };
  if (task.verify === true) {
    meta.inputSha256 = sha256(input.data);
    meta.outputSha256 = sha256(output);
  }
  return { meta, payload: packPayload(result) };
}

/** Connects, says hello, and serves tasks until the connection closes. Resolves once the broker welcomed it. */
export async function serve(port: number, host = '127.0.0.1'): Promise<Socket> {
  const socket = connect({ port, host });
  socket.setNoDelay(true);
  const pool = new OutputPool();
  // One task at a time: the broker sends the next only after this one's answer, but keep order regardless.
  let chain = Promise.resolve();
  return new Promise<Socket>((resolve, reject) => {
    const decoder = new FrameDecoder({
      frame(frame) {
        if (frame.kind === FrameKind.Welcome) {
          resolve(socket);
        } else if (frame.kind === FrameKind.Task) {
          chain = chain.then(() => answer(socket, frame, pool));
        } else if (frame.kind === FrameKind.Error) {
          process.stderr.write(`task-rtt worker: broker error: ${JSON.stringify(frame.meta)}\n`);
        }
      },
    });
    socket.once('connect', () => writeFrame(socket, FrameKind.Hello, 0, { role: 'worker' }));
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch (err) {
        socket.destroy(err instanceof Error ? err : new Error(String(err)));
      }
    });
    socket.on('error', reject);
    socket.once('close', () => reject(new BrokerError('BROKER_DISCONNECTED', 'The broker closed the connection')));
  });
}

async function answer(socket: Socket, frame: Frame, pool: OutputPool): Promise<void> {
  try {
    const { meta, payload } = await runTask(frame, pool);
    writeFrame(socket, FrameKind.Result, frame.taskId, { ...meta }, payload);
  } catch (err) {
    // The task failed, not the worker: say why and stay available.
    const remoteCode = ProxyStoreError.isProxyStoreError(err) ? err.code : 'ERROR';
    const remoteName = err instanceof Error ? err.name : typeof err;
    const error = new BrokerError('TASK_FAILED', `The task failed in the worker: ${err instanceof Error ? err.message : String(err)}`, {
      details: { remoteCode, remoteName },
    });
    writeFrame(socket, FrameKind.Error, frame.taskId, error.toWire());
  }
}

/** `--port N`: the process entry point. Reports `{ type: 'ready' }` to the parent once the broker welcomed it. */
async function main(argv: readonly string[]): Promise<void> {
  // First, so a parent that dies or lets go even during start-up leaves no orphan worker.
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
  const at = argv.indexOf('--port');
  const port = Number(at >= 0 ? argv[at + 1] : Number.NaN);
  if (!Number.isInteger(port) || port <= 0) throw new RangeError(`--port needs a TCP port, got ${String(argv[at + 1])}`);
  const socket = await serve(port);
  if (process.send !== undefined) process.send({ type: 'ready', pid: process.pid });
  // Without the broker there is nothing to do; without the parent nobody would stop this process.
  socket.on('close', () => process.exit(0));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`task-rtt worker: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
