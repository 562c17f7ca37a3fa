// Starts the whole task service for a benchmark or a test: the broker and N workers as child processes
// of the built JavaScript, and a client in this process. `stop()` ends all of them, and a failed start
// ends whatever had started; the children also exit on their own when this process goes away (their IPC
// channel closes), so no run leaves orphans behind.
import type { ChildProcess } from 'node:child_process';
import { awaitMessage, childScript, spawnChild, stopChild } from '../child.js';
import { TaskClient } from './client.js';

export { stopChild };

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
