// @proxystore/redis/testing: throwaway redis-server processes on free loopback ports (one server, or a
// Redis Cluster of N masters), for this package's tests and the benchmark suite. Nothing is persisted:
// each server runs with `--save '' --appendonly no` in a temp directory removed on stop.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 15_000;
const CLUSTER_TIMEOUT_MS = 30_000;
const CLUSTER_SLOTS = 16384;

/** null when `redis-server` can be started here, else what to install. */
export function redisServerUnavailable(): string | null {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) {
    return 'redis-server is not installed (Debian/Ubuntu: apt-get install redis-server)';
  }
  return null;
}

/**
 * A port nothing listens on now. redis-server has no `--port 0`, so a port is picked by binding to port
 * 0 and closing; a race with another process is caught by the retry in RedisTestServer.start.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, HOST);
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('freePort: no TCP address');
  return address.port;
}

/** Reads one RESP reply from the start of `data`: [text, bytes used], or null while incomplete. */
function parseReply(data: Buffer): [{ error: boolean; text: string }, number] | null {
  const lineEnd = data.indexOf('\r\n');
  if (lineEnd < 0) return null;
  const type = String.fromCharCode(data[0] as number);
  const line = data.toString('utf8', 1, lineEnd);
  if (type === '$') {
    const length = Number(line);
    if (length < 0) return [{ error: false, text: '' }, lineEnd + 2];
    const end = lineEnd + 2 + length;
    if (data.length < end + 2) return null;
    return [{ error: false, text: data.toString('utf8', lineEnd + 2, end) }, end + 2];
  }
  return [{ error: type === '-', text: line }, lineEnd + 2];
}

/** Sends one command over a fresh connection and returns its reply as text (no client library needed). */
export async function redisCommand(port: number, args: readonly string[], timeoutMs = 2000): Promise<string> {
  const socket = connect({ host: HOST, port });
  socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`redis ${args[0]}: no reply in ${timeoutMs} ms`)));
  try {
    await once(socket, 'connect');
    let request = `*${args.length}\r\n`;
    for (const arg of args) request += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
    socket.write(request);
    let data = Buffer.alloc(0);
    for await (const chunk of socket) {
      data = Buffer.concat([data, chunk as Buffer]);
      const reply = parseReply(data);
      if (reply === null) continue;
      if (reply[0].error) throw Object.assign(new Error(`redis ${args[0]}: ${reply[0].text}`), { reply: true });
      return reply[0].text;
    }
    throw new Error(`redis ${args[0]}: connection closed before the reply`);
  } finally {
    socket.destroy();
  }
}

export interface RedisTestServerOptions {
  /** Extra redis-server arguments, e.g. `['--requirepass', 'secret']`. */
  args?: readonly string[];
}

/** One redis-server child process on a loopback port. */
export class RedisTestServer {
  readonly host = HOST;
  readonly port: number;
  /** The server's working directory (a temp dir, removed by stop). */
  readonly dir: string;
  readonly #args: readonly string[];
  #process: ChildProcess | undefined;
  #output = '';
  #paused = false;

  private constructor(port: number, args: readonly string[]) {
    this.port = port;
    this.#args = args;
    this.dir = mkdtempSync(join(tmpdir(), 'proxystore-redis-'));
  }

  /** Starts a server on a free port (retrying on another port if one was taken meanwhile). */
  static async start(options: RedisTestServerOptions = {}): Promise<RedisTestServer> {
    const unavailable = redisServerUnavailable();
    if (unavailable !== null) throw new Error(unavailable);
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const server = new RedisTestServer(await freePort(), options.args ?? []);
      try {
        await server.#launch();
        return server;
      } catch (err) {
        lastError = err;
        await server.stop();
        if (!String(err).includes('in use')) break;
      }
    }
    throw lastError;
  }

  get url(): string {
    return `redis://${this.host}:${this.port}`;
  }

  /** The child's pid while it runs. */
  get pid(): number | undefined {
    return this.#process?.pid;
  }

  async #launch(): Promise<void> {
    const args = [
      '--port', String(this.port),
      '--bind', HOST,
      '--save', '',
      '--appendonly', 'no',
      '--dir', this.dir,
      '--daemonize', 'no',
      '--loglevel', 'warning',
      ...this.#args,
    ];
    const child = spawn('redis-server', args, { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    this.#process = child;
    this.#paused = false;
    this.#output = '';
    const keep = (chunk: Buffer): void => {
      this.#output = (this.#output + chunk.toString('utf8')).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const deadline = performance.now() + START_TIMEOUT_MS;
    while (performance.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`redis-server on port ${this.port} exited at start: ${this.#output.trim()}`);
      }
      try {
        await redisCommand(this.port, ['PING'], 500);
        return;
      } catch (err) {
        // Any reply, NOAUTH included (a server started with ACL users), means it is up.
        if ((err as { reply?: unknown }).reply === true) return;
      }
      await sleep(20);
    }
    throw new Error(`redis-server on port ${this.port} did not answer PING in ${START_TIMEOUT_MS} ms`);
  }

  /** Kills the process (SIGKILL by default, like a crash) and waits until it is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.#process;
    this.#process = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    if (this.#paused && signal !== 'SIGKILL') child.kill('SIGCONT');
    await exited;
    this.#paused = false;
  }

  /** Freezes the server (SIGSTOP): connections stay open, nothing is answered. */
  pause(): void {
    this.#process?.kill('SIGSTOP');
    this.#paused = true;
  }

  resume(): void {
    this.#process?.kill('SIGCONT');
    this.#paused = false;
  }

  /** Starts the server again on the same port (after kill), empty. */
  async restart(): Promise<void> {
    await this.kill();
    await this.#launch();
  }

  /** Kills the server and removes its directory. Idempotent. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

export interface RedisTestClusterOptions {
  /** Number of masters (no replicas); default 3. */
  masters?: number;
  args?: readonly string[];
}

/** A Redis Cluster of N masters, each a RedisTestServer with its slots assigned and all nodes met. */
export class RedisTestCluster {
  readonly servers: readonly RedisTestServer[];

  private constructor(servers: RedisTestServer[]) {
    this.servers = servers;
  }

  static async start(options: RedisTestClusterOptions = {}): Promise<RedisTestCluster> {
    const masters = options.masters ?? 3;
    const servers: RedisTestServer[] = [];
    const buses: number[] = [];
    try {
      for (let i = 0; i < masters; i++) {
        // The cluster bus defaults to port + 10000, which may be taken or out of range: pick it too.
        const bus = await freePort();
        buses.push(bus);
        servers.push(
          await RedisTestServer.start({
            args: [
              '--cluster-enabled', 'yes',
              '--cluster-config-file', 'nodes.conf',
              '--cluster-port', String(bus),
              '--cluster-node-timeout', '5000',
              ...(options.args ?? []),
            ],
          }),
        );
      }
      // Slots split evenly, then every node introduced to the first: gossip does the rest.
      for (let i = 0; i < masters; i++) {
        const from = Math.floor((i * CLUSTER_SLOTS) / masters);
        const to = Math.floor(((i + 1) * CLUSTER_SLOTS) / masters);
        const slots = Array.from({ length: to - from }, (_, k) => String(from + k));
        await redisCommand((servers[i] as RedisTestServer).port, ['CLUSTER', 'ADDSLOTS', ...slots]);
      }
      const first = servers[0] as RedisTestServer;
      for (let i = 1; i < masters; i++) {
        const server = servers[i] as RedisTestServer;
        await redisCommand(first.port, ['CLUSTER', 'MEET', HOST, String(server.port), String(buses[i])]);
      }
      const cluster = new RedisTestCluster(servers);
      await cluster.waitUntilOk();
      return cluster;
    } catch (err) {
      await Promise.all(servers.map((s) => s.stop()));
      throw err;
    }
  }

  get nodes(): { host: string; port: number }[] {
    return this.servers.map((s) => ({ host: s.host, port: s.port }));
  }

  /** Waits until every node reports cluster_state:ok with all slots and all nodes known. */
  async waitUntilOk(timeoutMs = CLUSTER_TIMEOUT_MS): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    let last = '';
    while (performance.now() < deadline) {
      const infos = await Promise.all(
        this.servers.map((s) => redisCommand(s.port, ['CLUSTER', 'INFO']).catch((err: unknown) => String(err))),
      );
      const ok = infos.every(
        (info) =>
          info.includes('cluster_state:ok') &&
          info.includes(`cluster_slots_ok:${CLUSTER_SLOTS}`) &&
          info.includes(`cluster_known_nodes:${this.servers.length}`),
      );
      if (ok) return;
      last = infos.join('\n');
      await sleep(50);
    }
    throw new Error(`Redis Cluster did not reach cluster_state:ok in ${timeoutMs} ms:\n${last}`);
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
