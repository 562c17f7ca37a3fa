// The raw TCP baseline of the endpoint connectors: the least a hand-written object server on a socket does.
// A length-prefixed protocol over one net.Socket per client (put / get / exists / evict, a token once per
// connection), a server holding a Map of Buffers, and a relay that is a byte pipe to another server — the
// cheapest hop there is, for the peer case. Requests may be pipelined; the server answers each connection's
// requests in order, so the client matches replies to requests by position.
import { once } from 'node:events';
import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';

export const TcpOp = { AUTH: 0, PUT: 1, GET: 2, EXISTS: 3, EVICT: 4 } as const;
export type TcpOpCode = (typeof TcpOp)[keyof typeof TcpOp];
/** Reply status: OK (a get's bytes, exists true), MISSING (no such object, exists false), ERROR (a message). */
export const TcpStatus = { OK: 0, MISSING: 1, ERROR: 2 } as const;

/** op u8, 0 u8, id length u16 LE, payload length u64 LE (low u32, high u32); then the id, then the payload. */
const REQUEST_HEAD = 12;
/** status u8, 3 zero bytes, payload length u64 LE; then the payload. */
const REPLY_HEAD = 12;

function u64(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at) + buf.readUInt32LE(at + 4) * 2 ** 32;
}

function writeU64(buf: Buffer, at: number, n: number): void {
  buf.writeUInt32LE(n % 2 ** 32, at);
  buf.writeUInt32LE(Math.floor(n / 2 ** 32), at + 4);
}

export function requestHead(op: TcpOpCode, id: string, payloadLength: number): Buffer {
  const idBytes = Buffer.from(id, 'utf8');
  if (idBytes.byteLength > 0xffff) throw new RangeError('raw tcp: id longer than 65535 bytes');
  const head = Buffer.allocUnsafe(REQUEST_HEAD + idBytes.byteLength);
  head.writeUInt8(op, 0);
  head.writeUInt8(0, 1);
  head.writeUInt16LE(idBytes.byteLength, 2);
  writeU64(head, 4, payloadLength);
  idBytes.copy(head, REQUEST_HEAD);
  return head;
}

export function replyHead(status: number, payloadLength: number): Buffer {
  const head = Buffer.alloc(REPLY_HEAD);
  head.writeUInt8(status, 0);
  writeU64(head, 4, payloadLength);
  return head;
}

export interface TcpMessage {
  /** The op of a request, the status of a reply. */
  code: number;
  /** Requests only. */
  id: string;
  /** Its own allocation (one copy from the socket's chunks), never a view of them. */
  payload: Buffer;
}

/**
 * Cuts a byte stream into messages. A payload is copied once, from the socket's chunks into one buffer of
 * its final size, as a receiver that knows the length up front does.
 */
export class MessageReader {
  readonly #request: boolean;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #head: { code: number; id: string; length: number } | undefined;
  #payload: Buffer | undefined;
  #filled = 0;

  constructor(kind: 'request' | 'reply') {
    this.#request = kind === 'request';
  }

  /** Feeds a chunk; returns the messages it completed, in order. */
  push(chunk: Buffer): TcpMessage[] {
    const out: TcpMessage[] = [];
    let data = chunk;
    while (data.byteLength > 0) {
      if (this.#payload !== undefined && this.#head !== undefined) {
        const n = Math.min(data.byteLength, this.#payload.byteLength - this.#filled);
        data.copy(this.#payload, this.#filled, 0, n);
        this.#filled += n;
        data = data.subarray(n);
        if (this.#filled === this.#payload.byteLength) {
          out.push({ code: this.#head.code, id: this.#head.id, payload: this.#payload });
          this.#head = undefined;
          this.#payload = undefined;
        }
        continue;
      }
      // Gather the header (and id) from as many chunks as it spans.
      this.#pending.push(data);
      this.#pendingBytes += data.byteLength;
      data = Buffer.alloc(0);
      const fixed = this.#request ? REQUEST_HEAD : REPLY_HEAD;
      if (this.#pendingBytes < fixed) break;
      const joined = this.#pending.length === 1 ? (this.#pending[0] as Buffer) : Buffer.concat(this.#pending);
      const idLength = this.#request ? joined.readUInt16LE(2) : 0;
      if (joined.byteLength < fixed + idLength) {
        this.#pending = [joined];
        break;
      }
      this.#pending = [];
      this.#pendingBytes = 0;
      const length = u64(joined, 4);
      const id = idLength === 0 ? '' : joined.toString('utf8', fixed, fixed + idLength);
      this.#head = { code: joined.readUInt8(0), id, length };
      this.#payload = Buffer.allocUnsafe(length);
      this.#filled = 0;
      data = joined.subarray(fixed + idLength);
      if (length === 0) {
        out.push({ code: this.#head.code, id, payload: this.#payload });
        this.#head = undefined;
        this.#payload = undefined;
      }
    }
    return out;
  }
}

export interface RawTcpServer {
  port: number;
  /** Objects held (0 for a relay). */
  readonly size: number;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

function closer(server: Server, sockets: Set<Socket>): () => Promise<void> {
  return async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}

/** The object server: a Map of Buffers. A connection must send AUTH with the token first. */
export async function startTcpServer(options: { token: string }): Promise<RawTcpServer> {
  const objects = new Map<string, Buffer>();
  const sockets = new Set<Socket>();
  const server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const reader = new MessageReader('request');
    let authorized = false;
    socket.on('data', (chunk: Buffer) => {
      for (const m of reader.push(chunk)) {
        if (!authorized) {
          authorized = m.code === TcpOp.AUTH && m.payload.toString('utf8') === options.token;
          if (!authorized) {
            const message = Buffer.from('unauthenticated: a connection starts with AUTH and the token');
            socket.end(Buffer.concat([replyHead(TcpStatus.ERROR, message.byteLength), message]));
            return;
          }
          socket.write(replyHead(TcpStatus.OK, 0));
          continue;
        }
        switch (m.code) {
          case TcpOp.PUT:
            objects.set(m.id, m.payload);
            socket.write(replyHead(TcpStatus.OK, 0));
            break;
          case TcpOp.GET: {
            const data = objects.get(m.id);
            if (data === undefined) socket.write(replyHead(TcpStatus.MISSING, 0));
            else {
              socket.cork();
              socket.write(replyHead(TcpStatus.OK, data.byteLength));
              socket.write(data);
              socket.uncork();
            }
            break;
          }
          case TcpOp.EXISTS:
            socket.write(replyHead(objects.has(m.id) ? TcpStatus.OK : TcpStatus.MISSING, 0));
            break;
          case TcpOp.EVICT:
            socket.write(replyHead(objects.delete(m.id) ? TcpStatus.OK : TcpStatus.MISSING, 0));
            break;
          default: {
            const message = Buffer.from(`unknown op ${m.code}`);
            socket.write(Buffer.concat([replyHead(TcpStatus.ERROR, message.byteLength), message]));
          }
        }
      }
    });
  });
  const port = await listen(server);
  return {
    port,
    get size() {
      return objects.size;
    },
    close: closer(server, sockets),
  };
}

/**
 * A relay: every connection is piped, both ways, to a connection of its own to `upstream`. It does not
 * parse: a byte pipe is the cheapest forwarding hop, the lower bound of what a relaying endpoint costs.
 */
export async function startTcpRelay(options: { upstream: { host: string; port: number } }): Promise<RawTcpServer> {
  const sockets = new Set<Socket>();
  const server = createServer({ noDelay: true }, (socket) => {
    const up = connect({ ...options.upstream, noDelay: true });
    for (const s of [socket, up]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        socket.destroy();
        up.destroy();
      });
    }
    socket.pipe(up);
    up.pipe(socket);
  });
  const port = await listen(server);
  return { port, size: 0, close: closer(server, sockets) };
}

export class RawTcpError extends Error {
  override name = 'RawTcpError';
}

/** One connection to a raw TCP server (or relay); requests are pipelined, replies matched in order. */
export class RawTcpClient {
  readonly #socket: Socket;
  readonly #reader = new MessageReader('reply');
  readonly #waiting: { resolve: (m: TcpMessage) => void; reject: (e: Error) => void }[] = [];
  #failure: Error | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      for (const m of this.#reader.push(chunk)) this.#waiting.shift()?.resolve(m);
    });
    const fail = (error: Error): void => {
      this.#failure ??= error;
      for (const w of this.#waiting.splice(0)) w.reject(this.#failure);
    };
    socket.on('error', (e) => fail(new RawTcpError(`raw tcp: ${e.message}`)));
    socket.on('close', () => fail(new RawTcpError('raw tcp: the connection closed')));
  }

  static async connect(host: string, port: number, token: string): Promise<RawTcpClient> {
    const socket = connect({ host, port, noDelay: true });
    await once(socket, 'connect');
    const client = new RawTcpClient(socket);
    await client.#call(TcpOp.AUTH, '', Buffer.from(token, 'utf8'));
    return client;
  }

  #call(op: TcpOpCode, id: string, payload?: Uint8Array): Promise<TcpMessage> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const reply = new Promise<TcpMessage>((resolve, reject) => this.#waiting.push({ resolve, reject }));
    const head = requestHead(op, id, payload?.byteLength ?? 0);
    if (payload === undefined || payload.byteLength === 0) this.#socket.write(head);
    else {
      this.#socket.cork();
      this.#socket.write(head);
      this.#socket.write(payload);
      this.#socket.uncork();
    }
    return reply.then((m) => {
      if (m.code === TcpStatus.ERROR) throw new RawTcpError(`raw tcp: ${m.payload.toString('utf8')}`);
      return m;
    });
  }

  async put(id: string, data: Uint8Array): Promise<void> {
    await this.#call(TcpOp.PUT, id, data);
  }

  /** The bytes in a buffer of their own, or null when the server has no such object. */
  async get(id: string): Promise<Buffer | null> {
    const m = await this.#call(TcpOp.GET, id);
    return m.code === TcpStatus.OK ? m.payload : null;
  }

  async exists(id: string): Promise<boolean> {
    return (await this.#call(TcpOp.EXISTS, id)).code === TcpStatus.OK;
  }

  /** Whether there was an object to remove. */
  async evict(id: string): Promise<boolean> {
    return (await this.#call(TcpOp.EVICT, id)).code === TcpStatus.OK;
  }

  close(): void {
    this.#socket.destroy();
  }
}
