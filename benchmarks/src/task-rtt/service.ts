// Starts the whole task service for a benchmark or a test: the broker and N workers as child processes
// of the built JavaScript, and a client in this process. `stop()` ends all of them, and a failed start
// ends whatever had started; the children also exit on their own when this process goes away (their IPC
// channel closes), so no run leaves orphans behind.
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { childScript } from '../child.js';
import { TaskClient } from './client.js';

export interface TaskServiceOptions {
  /** The broker's message limit in bytes. */
  brokerLimit: number;
  workers: number;
  /** Deadline for the broker and every worker to be up, ms (default 20 s). */
  startTimeoutMs?: number;
}

export interface TaskService {
  port: number;
  client: TaskClient;
  broker: ChildProcess;
  workers: ChildProcess[];
  /** Idempotent. Closes the client, then stops every child (SIGTERM, SIGKILL after a grace period). */
  stop(): Promise<void>;
}

const GRACE_MS = 3_000;

/** Resolves with the first IPC message of `type` from `child`; rejects if it exits first or time runs out. */
function awaitMessage(child: ChildProcess, type: string, what: string, timeoutMs: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${what} did not start within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (message: unknown): void => {
      if (typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type) {
        done(undefined, message as Record<string, unknown>);
      }
    };
    const onExit = (code: number | null, signal: string | null): void =>
      done(new Error(`${what} exited before it was ready (${signal ?? `code ${code}`})`));
    const onError = (err: Error): void => done(new Error(`${what} could not be started: ${err.message}`));
    function done(error: Error | undefined, message?: Record<string, unknown>): void {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      child.off('error', onError);
      if (error !== undefined) reject(error);
      else resolve(message as Record<string, unknown>);
    }
    child.on('message', onMessage);
    child.on('exit', onExit);
    child.on('error', onError);
  });
}

/** Stops a child and waits for it to be gone: SIGTERM, then SIGKILL if it is still there after the grace period. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), GRACE_MS);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

function spawnChild(script: string, args: string[]): ChildProcess {
  // stdout is not used (the IPC channel reports readiness); stderr is shared so a crash is visible.
  // No inherited execArgv: the children run plain Node whatever flags the harness (or vitest) runs with.
  const child = fork(script, args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'json', execArgv: [] });
  // Failures show up as 'exit' (awaitMessage, stopChild); an unheard 'error' event would throw here.
  child.on('error', () => {});
  return child;
}

export async function startTaskService(options: TaskServiceOptions): Promise<TaskService> {
  const timeoutMs = options.startTimeoutMs ?? 20_000;
  if (!Number.isInteger(options.workers) || options.workers < 1) throw new RangeError(`workers must be at least 1, got ${options.workers}`);
  const children: ChildProcess[] = [];
  let client: TaskClient | undefined;
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await client?.close();
      // Workers first: a broker that outlives them fails their tasks cleanly instead of the other way round.
      await Promise.all(children.slice(1).map(stopChild));
      if (children[0] !== undefined) await stopChild(children[0]);
    })();
    return stopped;
  };
  try {
    const broker = spawnChild(childScript(import.meta.url, './broker'), ['--limit', String(options.brokerLimit)]);
    children.push(broker);
    const listening = await awaitMessage(broker, 'listening', 'The task-rtt broker', timeoutMs);
    const port = Number(listening.port);
    const workerScript = childScript(import.meta.url, './worker');
    const workers: ChildProcess[] = [];
    for (let i = 0; i < options.workers; i++) {
      const worker = spawnChild(workerScript, ['--port', String(port)]);
      children.push(worker);
      workers.push(worker);
    }
    await Promise.all(workers.map((w, i) => awaitMessage(w, 'ready', `task-rtt worker ${i + 1}`, timeoutMs)));
    client = await TaskClient.connect(port, { timeoutMs });
    return { port, client, broker, workers, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
