// @proxystore/endpoint/testing: endpoint daemons as child processes (the `proxystore-endpoint` binary on a
// free loopback port) for this package's tests and the benchmark suite, and throwaway TLS material (a CA,
// a server certificate for localhost/127.0.0.1 and a client certificate) made with the system openssl.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { EndpointConfig } from './config.js';

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

export interface EndpointProcessOptions extends Partial<EndpointConfig> {
  /** Extra environment of the child (NODE_DEBUG=proxystore:endpoint to see its log). */
  env?: Record<string, string>;
}

/** What the binary prints when it listens. */
export interface ReadyLine {
  id: string;
  name: string;
  address: string;
  pid: number;
}

let counter = 0;

/**
 * A loopback port nothing listens on now (bind to port 0, close). For a mesh whose members must name
 * each other's addresses before they start; another process may take it meanwhile, rarely.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('freePort: no TCP address');
  return address.port;
}

/** One `proxystore-endpoint` child process. */
export class EndpointProcess {
  readonly id: string;
  readonly name: string;
  readonly address: string;
  readonly pid: number;
  /** The config the child was started with (its port is the one it bound). */
  readonly config: EndpointConfig;
  readonly #child: ChildProcess;
  readonly #dir: string;
  #stderr = '';

  private constructor(child: ChildProcess, dir: string, ready: ReadyLine, config: EndpointConfig) {
    this.#child = child;
    this.#dir = dir;
    this.id = ready.id;
    this.name = ready.name;
    this.address = ready.address;
    this.pid = ready.pid;
    this.config = config;
  }

  /** Starts an endpoint (port 0: the child picks a free one) and resolves once it prints `ready`. */
  static async start(options: EndpointProcessOptions = {}): Promise<EndpointProcess> {
    const { env, ...rest } = options;
    const config: EndpointConfig = { name: `test-${process.pid}-${++counter}`, port: 0, ...rest };
    const dir = mkdtempSync(join(tmpdir(), 'proxystore-endpoint-'));
    const configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify(config));
    const child = spawn(process.execPath, [MAIN, '--config', configFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-8000);
    });
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    try {
      const ready = await new Promise<ReadyLine>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`endpoint '${config.name}' did not print ready in ${START_TIMEOUT_MS} ms`)),
          START_TIMEOUT_MS,
        );
        lines.on('line', (line) => {
          if (!line.startsWith('ready ')) return;
          clearTimeout(timer);
          resolve(JSON.parse(line.slice('ready '.length)) as ReadyLine);
        });
        child.once('exit', (code, signal) => {
          clearTimeout(timer);
          reject(new Error(`endpoint '${config.name}' exited (${code ?? signal}) before ready: ${stderr.trim()}`));
        });
      });
      const port = Number(ready.address.slice(ready.address.lastIndexOf(':') + 1));
      const p = new EndpointProcess(child, dir, ready, { ...config, id: ready.id, port });
      p.#stderr = stderr;
      child.stderr?.on('data', (chunk: Buffer) => {
        p.#stderr = (p.#stderr + chunk.toString('utf8')).slice(-8000);
      });
      return p;
    } catch (err) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** The child's recent stderr (its log). */
  get stderr(): string {
    return this.#stderr;
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Sends `signal` (SIGKILL by default, like a crash) and waits until the process is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    const exited = once(this.#child, 'exit');
    this.#child.kill(signal);
    await exited;
  }

  /** SIGTERM and wait for a clean exit; SIGKILL after a timeout. Removes the temp dir. Idempotent. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) {
      const exited = once(this.#child, 'exit');
      this.#child.kill('SIGTERM');
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.#dir, { recursive: true, force: true });
    return { code: this.#child.exitCode, signal: this.#child.signalCode };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

// Throwaway TLS material (a CA, server and client certificates, an unrelated CA) comes from the control
// plane's test kit: one implementation for every package's TLS tests.
export { makeTestCertificates, opensslUnavailable, type TestCertificates } from '@proxystore/control/testing';
