// Child processes that can fail without hanging their parent: every wait is bounded, a child that exits
// or crashes before it answers becomes an error that names it and quotes the end of its stderr. The
// harness uses this for the producer, and the producer for its consumers.
import { type ChildProcess, fork } from 'node:child_process';

const STDERR_TAIL = 4096;

/** A child of the memory suite failed: it exited, crashed, timed out or reported an error. */
export class MemoryChildError extends Error {
  readonly code = 'BENCH_MEMORY_CHILD_FAILED';
  override readonly name = 'MemoryChildError';
}

export class WatchedChild {
  readonly child: ChildProcess;
  /** "consumer 2", "producer (by value)": what error messages call it. */
  readonly label: string;
  /** Settles when the child has exited: its code, or the signal that ended it. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #stderr = '';
  #error: Error | undefined;
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  // Messages are queued from the moment of fork, so none is lost between two waits.
  readonly #queue: unknown[] = [];
  #wake: (() => void) | undefined;

  constructor(script: string, label: string) {
    this.label = label;
    // 'advanced' serialization: typed arrays cross as bytes, as a task system would ship them.
    this.child = fork(script, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-STDERR_TAIL);
    });
    this.child.on('message', (message) => {
      this.#queue.push(message);
      this.#wake?.();
    });
    // A failed spawn or a write to a dead child (EPIPE): remember it; waits report it.
    this.child.on('error', (err) => {
      this.#error ??= err;
      this.#wake?.();
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        resolve(this.#exit);
        this.#wake?.();
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  stderrTail(): string {
    return this.#stderr.trim();
  }

  /** Sends `message`; resolves once it is written to the channel. */
  send(message: unknown): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.child.connected) {
        reject(this.#failure('is not connected'));
        return;
      }
      this.child.send(message as never, (err) => (err === null ? resolve() : reject(this.#failure(`could not be sent a message: ${err.message}`))));
    });
  }

  /**
   * The next message that `accept` takes (others are dropped), within `timeoutMs`. Rejects with a
   * MemoryChildError if the child exits, fails or stays silent first.
   */
  async next<T>(accept: (message: unknown) => message is T, what: string, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.#queue.length > 0) {
        const message = this.#queue.shift();
        if (accept(message)) return message;
      }
      if (this.#error !== undefined) throw this.#failure(`failed before sending ${what}: ${this.#error.message}`);
      if (this.#exit !== undefined) throw this.#failure(`exited with ${describeExit(this.#exit)} before sending ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw this.#failure(`did not send ${what} within ${seconds(timeoutMs)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  /** Waits up to `timeoutMs` for the child to exit; a non-zero exit is a MemoryChildError. */
  async exit(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const result = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (result === 'timeout') throw this.#failure(`did not exit within ${seconds(timeoutMs)} of its report`);
    if (result.code !== 0) throw this.#failure(`exited with ${describeExit(result)}`);
  }

  /** SIGKILL if still running. Safe to call more than once. */
  kill(): void {
    if (this.#exit === undefined && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
    }
  }

  #failure(what: string): MemoryChildError {
    const tail = this.stderrTail();
    return new MemoryChildError(`${this.label} ${what}${tail === '' ? ' (stderr empty)' : `; stderr:\n${tail}`}`);
  }
}

function describeExit(exit: { code: number | null; signal: NodeJS.Signals | null }): string {
  return exit.signal !== null ? `signal ${exit.signal}` : `code ${exit.code}`;
}

function seconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(0)} s`;
}
