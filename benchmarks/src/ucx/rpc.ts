// Request/response over a child's IPC channel, both ends: the parent numbers each request and waits for
// the answer with that id (or the child's exit, or a timeout); the child answers each request with its
// handler's result or error. The UCX children (owner.ts, client.ts) and their parent (session.ts) use it.
import { type ChildProcess, fork } from 'node:child_process';

export interface Request {
  id: number;
  type: string;
  [field: string]: unknown;
}

export interface Reply {
  id: number;
  ok: boolean;
  /** The handler's result (ok) or the error's message (not ok). */
  value?: unknown;
  error?: string;
}

const STDERR_TAIL = 4096;

/** A child process started with its own environment (UCX_TLS), answering requests. */
export class RpcChild {
  readonly child: ChildProcess;
  readonly label: string;
  /** The first message the child sent ({ type: 'ready', ... }). */
  readonly ready: Promise<Record<string, unknown>>;
  #next = 1;
  readonly #pending = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>();
  #stderr = '';
  #gone: Error | undefined;

  constructor(script: string, label: string, env: NodeJS.ProcessEnv, readyTimeoutMs = 30_000, execArgv: readonly string[] = []) {
    this.label = label;
    this.child = fork(script, [], { env, execArgv: [...execArgv], serialization: 'json', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-STDERR_TAIL);
    });
    this.child.on('error', () => {});
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${label} did not start within ${readyTimeoutMs} ms${this.#tail()}`)), readyTimeoutMs);
      this.child.on('message', (message: unknown) => {
        const m = message as Partial<Reply> & { type?: string };
        if (m.type === 'ready') {
          clearTimeout(timer);
          resolve(m as Record<string, unknown>);
        } else if (m.type === 'failed') {
          clearTimeout(timer);
          reject(new Error(`${label} could not start: ${String((m as { error?: unknown }).error)}`));
        } else if (typeof m.id === 'number') {
          const waiter = this.#pending.get(m.id);
          this.#pending.delete(m.id);
          if (waiter === undefined) return;
          if (m.ok === true) waiter.resolve(m.value);
          else waiter.reject(new Error(`${label}: ${m.error ?? 'failed'}`));
        }
      });
      this.child.once('exit', (code, signal) => {
        clearTimeout(timer);
        this.#gone = new Error(`${label} exited (${signal ?? `code ${code}`})${this.#tail()}`);
        reject(this.#gone);
        for (const waiter of this.#pending.values()) waiter.reject(this.#gone);
        this.#pending.clear();
      });
    });
    // Nobody may be awaiting `ready` when a child dies later; the rejection is reported through requests.
    this.ready.catch(() => {});
  }

  #tail(): string {
    const tail = this.#stderr.trim();
    return tail === '' ? '' : `; its stderr ends with: ${tail.slice(-600)}`;
  }

  /** Sends a request and resolves with the handler's result; rejects on its error, the child's exit, or the timeout. */
  request<T>(type: string, fields: Record<string, unknown> = {}, timeoutMs = 120_000): Promise<T> {
    if (this.#gone !== undefined) return Promise.reject(this.#gone);
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.label}: ${type} did not answer within ${timeoutMs} ms${this.#tail()}`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      this.child.send({ id, type, ...fields } satisfies Request);
    });
  }

  /** SIGTERM, then SIGKILL after 3 s; resolves once the child is gone. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * The child's side: announces `ready` (with `info`) once `start` resolves, then answers each request with
 * `handlers[type](request)`; exits when the parent goes away or on SIGTERM (after `close`).
 */
export async function serveRequests(
  start: () => Promise<{ info: Record<string, unknown>; handlers: Record<string, (req: Request) => unknown>; close?: () => unknown }>,
): Promise<void> {
  let served: Awaited<ReturnType<typeof start>>;
  try {
    served = await start();
  } catch (err) {
    process.send?.({ type: 'failed', error: err instanceof Error ? err.message : String(err) });
    process.exitCode = 1;
    process.disconnect?.();
    return;
  }
  const exit = (): void => {
    void Promise.resolve()
      .then(() => served.close?.())
      .finally(() => process.exit(0));
  };
  process.on('disconnect', exit);
  process.on('SIGTERM', exit);
  process.on('message', (message: unknown) => {
    const req = message as Request;
    const handler = served.handlers[req.type];
    void (async () => {
      try {
        if (handler === undefined) throw new Error(`unknown request ${req.type}`);
        const value = await handler(req);
        process.send?.({ id: req.id, ok: true, value } satisfies Reply);
      } catch (err) {
        process.send?.({ id: req.id, ok: false, error: err instanceof Error ? err.message : String(err) } satisfies Reply);
      }
    })();
  });
  process.send?.({ type: 'ready', ...served.info });
}
