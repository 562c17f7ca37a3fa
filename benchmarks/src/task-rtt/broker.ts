// The task service's broker, run as its own process (`node dist/task-rtt/broker.js --limit BYTES`): the
// stand-in for a serverless task service such as funcX/Globus Compute, whose message-size limit is what
// makes large inputs impossible by value. It queues tasks from clients, hands each to the first idle
// worker, routes results back, and refuses any message (task or result) over the limit from its header
// alone, skipping the bytes as they arrive so an oversize message is never held in memory.
//
// Choices, so callers know what to expect:
// - An oversize message is answered with an Error frame (BROKER_MESSAGE_TOO_LARGE, with its size and the
//   limit) and the connection stays usable: the broker skips the message's bytes and reads the next frame.
// - A malformed frame (protocol.ts) gets an Error frame with task id 0 and the connection is closed: a byte
//   stream cannot be resynchronised.
// - A task is failed, not queued, when no worker is connected (BROKER_NO_WORKERS), and a task whose worker
//   disconnects fails with BROKER_WORKER_LOST: a submitter never waits on a task nobody can run.
import { type Server, type Socket, createServer } from 'node:net';
import { pathToFileURL } from 'node:url';
import { BrokerError } from './errors.js';
import { type Frame, FrameDecoder, type FrameHeader, FrameKind, type Meta, writeFrame } from './protocol.js';

interface Peer {
  socket: Socket;
  role: 'unknown' | 'client' | 'worker';
  /** The job a worker is running. */
  job: Job | undefined;
}

interface Job {
  /** The broker's own id, unique over all clients: what the worker sees. */
  id: number;
  client: Peer;
  clientTaskId: number;
  meta: Meta;
  /** Held from arrival until it is written to a worker, as a real service holds a queued message. */
  payload: Uint8Array;
}

export interface BrokerOptions {
  /** Largest message (header + meta + payload) accepted, in bytes. */
  limit: number;
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
}

export class Broker {
  readonly limit: number;
  readonly #server: Server;
  readonly #peers = new Set<Peer>();
  readonly #idle: Peer[] = [];
  readonly #queue: Job[] = [];
  #nextJobId = 1;

  private constructor(limit: number, server: Server) {
    this.limit = limit;
    this.#server = server;
  }

  static async start(options: BrokerOptions): Promise<Broker> {
    if (!Number.isSafeInteger(options.limit) || options.limit <= 0) throw new RangeError(`Broker limit must be a positive integer, got ${options.limit}`);
    const server = createServer();
    const broker = new Broker(options.limit, server);
    server.on('connection', (socket) => broker.#accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return broker;
  }

  get port(): number {
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('The broker is not listening on TCP');
    return address.port;
  }

  get workers(): number {
    let n = 0;
    for (const peer of this.#peers) if (peer.role === 'worker') n++;
    return n;
  }

  async close(): Promise<void> {
    for (const peer of this.#peers) peer.socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(socket: Socket): void {
    socket.setNoDelay(true);
    const peer: Peer = { socket, role: 'unknown', job: undefined };
    this.#peers.add(peer);
    const decoder = new FrameDecoder(
      { frame: (frame) => this.#onFrame(peer, frame), oversize: (header, bytes) => this.#onOversize(peer, header, bytes) },
      { limit: this.limit },
    );
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch (err) {
        const error = err instanceof BrokerError ? err : new BrokerError('BROKER_PROTOCOL_ERROR', String(err), { cause: err });
        writeFrame(socket, FrameKind.Error, 0, error.toWire());
        socket.end();
        socket.removeAllListeners('data');
      }
    });
    socket.on('error', () => {}); // a peer that vanishes shows up as 'close'
    socket.on('close', () => this.#onClose(peer));
  }

  #onFrame(peer: Peer, frame: Frame): void {
    switch (frame.kind) {
      case FrameKind.Hello: {
        const role = frame.meta.role;
        if ((role !== 'client' && role !== 'worker') || peer.role !== 'unknown') {
          throw new BrokerError('BROKER_PROTOCOL_ERROR', `Unexpected hello ${JSON.stringify(frame.meta)} from a ${peer.role} peer`);
        }
        peer.role = role;
        writeFrame(peer.socket, FrameKind.Welcome, 0, { limit: this.limit });
        if (role === 'worker') this.#makeIdle(peer);
        return;
      }
      case FrameKind.Task: {
        if (peer.role !== 'client') throw new BrokerError('BROKER_PROTOCOL_ERROR', `A ${peer.role} peer sent a task`);
        if (this.workers === 0) {
          this.#fail(peer, frame.taskId, new BrokerError('BROKER_NO_WORKERS', 'No worker is connected to the broker'));
          return;
        }
        this.#queue.push({ id: this.#nextJobId++, client: peer, clientTaskId: frame.taskId, meta: frame.meta, payload: frame.payload });
        if (this.#nextJobId > 0xffff_ffff) this.#nextJobId = 1;
        this.#pump();
        return;
      }
      case FrameKind.Result:
      case FrameKind.Error: {
        const job = this.#finish(peer, frame.taskId);
        if (job === undefined) return;
        if (job.client.socket.destroyed) return; // the client left; drop the answer
        writeFrame(job.client.socket, frame.kind, job.clientTaskId, frame.meta, frame.payload);
        return;
      }
      default:
        throw new BrokerError('BROKER_PROTOCOL_ERROR', `A ${peer.role} peer sent a frame of kind ${frame.kind} to the broker`);
    }
  }

  /** The header of a message over the limit: answer now; the decoder skips its bytes. */
  #onOversize(peer: Peer, header: FrameHeader, bytes: number): void {
    const details = { bytes, limit: this.limit };
    if (peer.role === 'client' && header.kind === FrameKind.Task) {
      this.#fail(
        peer,
        header.taskId,
        new BrokerError('BROKER_MESSAGE_TOO_LARGE', `A task message of ${bytes} bytes exceeds the broker's limit of ${this.limit} bytes`, {
          details: { ...details, direction: 'task' },
        }),
      );
    } else if (peer.role === 'worker' && (header.kind === FrameKind.Result || header.kind === FrameKind.Error)) {
      // The worker is free again (its next frame follows the skipped bytes); the task's client learns why.
      const job = this.#finish(peer, header.taskId);
      const error = new BrokerError(
        'BROKER_MESSAGE_TOO_LARGE',
        `A result message of ${bytes} bytes exceeds the broker's limit of ${this.limit} bytes`,
        { details: { ...details, direction: 'result' } },
      );
      if (job !== undefined) this.#fail(job.client, job.clientTaskId, error);
    } else {
      throw new BrokerError('BROKER_PROTOCOL_ERROR', `A ${peer.role} peer sent an oversize frame of kind ${header.kind}`);
    }
  }

  /** The job a worker answered for, after which the worker is idle again. */
  #finish(worker: Peer, jobId: number): Job | undefined {
    const job = worker.job;
    if (worker.role !== 'worker' || job === undefined || job.id !== jobId) {
      throw new BrokerError('BROKER_PROTOCOL_ERROR', `Answer for task ${jobId}, which this peer is not running`);
    }
    worker.job = undefined;
    this.#makeIdle(worker);
    return job;
  }

  #fail(peer: Peer, taskId: number, error: BrokerError): void {
    if (!peer.socket.destroyed) writeFrame(peer.socket, FrameKind.Error, taskId, error.toWire());
  }

  #makeIdle(worker: Peer): void {
    this.#idle.push(worker);
    this.#pump();
  }

  /** First idle worker takes the oldest task: with equal tasks this is round-robin. */
  #pump(): void {
    while (this.#queue.length > 0 && this.#idle.length > 0) {
      const job = this.#queue.shift() as Job;
      if (job.client.socket.destroyed) continue;
      const worker = this.#idle.shift() as Peer;
      worker.job = job;
      writeFrame(worker.socket, FrameKind.Task, job.id, job.meta, job.payload);
      // The socket holds the bytes until they are sent; the job no longer needs them.
      job.payload = new Uint8Array(0);
      if (job.meta.notify === true) writeFrame(job.client.socket, FrameKind.Dispatched, job.clientTaskId);
    }
  }

  #onClose(peer: Peer): void {
    this.#peers.delete(peer);
    const idleAt = this.#idle.indexOf(peer);
    if (idleAt >= 0) this.#idle.splice(idleAt, 1);
    if (peer.role === 'worker') {
      const job = peer.job;
      peer.job = undefined;
      if (job !== undefined) {
        this.#fail(
          job.client,
          job.clientTaskId,
          new BrokerError('BROKER_WORKER_LOST', `The worker running task ${job.clientTaskId} disconnected before returning a result`),
        );
      }
      if (this.workers === 0) {
        for (const queued of this.#queue.splice(0)) {
          this.#fail(queued.client, queued.clientTaskId, new BrokerError('BROKER_NO_WORKERS', 'The last worker disconnected'));
        }
      }
    } else if (peer.role === 'client') {
      for (let i = this.#queue.length - 1; i >= 0; i--) if (this.#queue[i]?.client === peer) this.#queue.splice(i, 1);
    }
  }
}

/** `--limit BYTES [--port N]`: the process entry point. Reports `{ type: 'listening', port }` to the parent. */
async function main(argv: readonly string[]): Promise<void> {
  const arg = (name: string): string | undefined => {
    const at = argv.indexOf(name);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  let broker: Broker | undefined;
  const stop = (): void => {
    void (broker?.close() ?? Promise.resolve()).finally(() => process.exit(0));
  };
  // Set up before anything can fail or wait: the parent (the benchmark) dying or letting go at any point,
  // even during start-up, ends the broker, so none is left orphaned.
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
  broker = await Broker.start({ limit: Number(arg('--limit')), port: Number(arg('--port') ?? 0) });
  const ready = { type: 'listening', port: broker.port, limit: broker.limit };
  if (process.send !== undefined) process.send(ready);
  else process.stdout.write(`${JSON.stringify(ready)}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`task-rtt broker: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
