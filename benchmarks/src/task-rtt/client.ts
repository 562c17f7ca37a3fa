// The submitting side of the task service, in the benchmark's own process: submit a task, await its
// result. Every way a task can fail (refused by the broker, worker lost, broker gone, deadline passed)
// rejects its promise with a BrokerError, so a round trip never hangs.
import { connect, type Socket } from 'node:net';
import { BrokerError } from './errors.js';
import { type Frame, FrameDecoder, FrameKind, writeFrame } from './protocol.js';
import type { ResultMeta, TaskMeta } from './task.js';

export interface TaskRequest {
  meta: TaskMeta;
  /** `packPayload(bytes or proxy)` (task.ts). */
  payload: Uint8Array;
  /** Reject with TASK_TIMEOUT after this many ms (default: no deadline). */
  timeoutMs?: number;
  /** Called when the broker hands the task to a worker; sets `meta.notify`. */
  onDispatched?: () => void;
}

export interface TaskResult {
  meta: ResultMeta;
  payload: Uint8Array;
}

interface Pending {
  resolve(result: TaskResult): void;
  reject(error: BrokerError): void;
  onDispatched: (() => void) | undefined;
  timer: NodeJS.Timeout | undefined;
}

export class TaskClient {
  /** The broker's message limit, as it announced it. */
  readonly limit: number;
  readonly #socket: Socket;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed: BrokerError | undefined;

  private constructor(socket: Socket, limit: number) {
    this.#socket = socket;
    this.limit = limit;
  }

  /** Connects and says hello; rejects with BROKER_DISCONNECTED if the broker does not welcome it in time. */
  static connect(port: number, options: { host?: string; timeoutMs?: number } = {}): Promise<TaskClient> {
    const socket = connect({ port, host: options.host ?? '127.0.0.1' });
    socket.setNoDelay(true);
    return new Promise<TaskClient>((resolve, reject) => {
      let client: TaskClient | undefined;
      const fail = (reason: string, cause?: unknown): void => {
        const error = new BrokerError('BROKER_DISCONNECTED', reason, cause === undefined ? {} : { cause });
        if (client === undefined) {
          clearTimeout(timer);
          socket.destroy();
          reject(error);
        } else {
          client.#shutdown(error);
        }
      };
      const timer = setTimeout(() => fail(`The broker on port ${port} did not answer within ${options.timeoutMs ?? 10_000} ms`), options.timeoutMs ?? 10_000);
      const decoder = new FrameDecoder({
        frame(frame) {
          if (client !== undefined) {
            client.#onFrame(frame);
          } else if (frame.kind === FrameKind.Welcome) {
            clearTimeout(timer);
            client = new TaskClient(socket, Number(frame.meta.limit));
            resolve(client);
          } else {
            fail(`Expected a welcome from the broker, got a frame of kind ${frame.kind}`);
          }
        },
      });
      socket.once('connect', () => writeFrame(socket, FrameKind.Hello, 0, { role: 'client' }));
      socket.on('data', (chunk: Buffer) => {
        try {
          decoder.push(chunk);
        } catch (err) {
          const error = err instanceof BrokerError ? err : new BrokerError('BROKER_PROTOCOL_ERROR', String(err), { cause: err });
          if (client === undefined) fail(error.message, error);
          else client.#shutdown(error);
        }
      });
      socket.on('error', (err) => fail(`Connection to the broker failed: ${err.message}`, err));
      socket.on('close', () => fail('The broker closed the connection'));
    });
  }

  get pending(): number {
    return this.#pending.size;
  }

  /** Sends a task and resolves with its result. Tasks may overlap; each has its own id. */
  submit(request: TaskRequest): Promise<TaskResult> {
    if (this.#closed !== undefined) return Promise.reject(this.#closed);
    const id = this.#nextId++;
    if (this.#nextId > 0xffff_ffff) this.#nextId = 1;
    const meta: TaskMeta = request.onDispatched === undefined ? request.meta : { ...request.meta, notify: true };
    return new Promise<TaskResult>((resolve, reject) => {
      const pending: Pending = { resolve, reject, onDispatched: request.onDispatched, timer: undefined };
      if (request.timeoutMs !== undefined) {
        const timeoutMs = request.timeoutMs;
        pending.timer = setTimeout(() => {
          this.#settle(id)?.reject(new BrokerError('TASK_TIMEOUT', `Task ${id} got no result within ${timeoutMs} ms`, { details: { timeoutMs } }));
        }, timeoutMs);
      }
      this.#pending.set(id, pending);
      writeFrame(this.#socket, FrameKind.Task, id, { ...meta }, request.payload);
    });
  }

  /** Closes the connection; pending tasks fail with BROKER_DISCONNECTED. */
  async close(): Promise<void> {
    if (this.#socket.destroyed) return;
    const closed = new Promise<void>((resolve) => this.#socket.once('close', () => resolve()));
    this.#shutdown(new BrokerError('BROKER_DISCONNECTED', 'The client was closed'));
    await closed;
  }

  #settle(id: number): Pending | undefined {
    const pending = this.#pending.get(id);
    if (pending === undefined) return undefined;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    return pending;
  }

  #onFrame(frame: Frame): void {
    if (frame.kind === FrameKind.Dispatched) {
      this.#pending.get(frame.taskId)?.onDispatched?.();
    } else if (frame.kind === FrameKind.Result) {
      // A result after a timeout has nobody waiting: dropped.
      this.#settle(frame.taskId)?.resolve({ meta: frame.meta as unknown as ResultMeta, payload: frame.payload });
    } else if (frame.kind === FrameKind.Error) {
      const error = BrokerError.fromWire(frame.meta);
      if (frame.taskId === 0) this.#shutdown(error);
      else this.#settle(frame.taskId)?.reject(error);
    }
  }

  #shutdown(error: BrokerError): void {
    this.#closed ??= error;
    for (const id of [...this.#pending.keys()]) this.#settle(id)?.reject(error);
    this.#socket.destroy();
  }
}
