// The raw grpc-js baseline of the endpoint connectors: the least a hand-written gRPC object service does.
// Buffer passthrough (de)serializers (no message codec at all), put client-streamed and get
// server-streamed in chunks of the same size as the endpoint's, exists and evict unary, a bearer token
// checked on every call, a Map of Buffers on the server. A get sends the object's size in its response
// headers, so the client allocates once and copies each chunk to its place, as the endpoint client does.
// A relay mode forwards every call to another raw server, streaming chunks through as they arrive.
import { once } from 'node:events';
import {
  Client,
  Metadata,
  Server,
  ServerCredentials,
  credentials,
  status,
  type ChannelOptions,
  type ClientReadableStream,
  type MethodDefinition,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceError,
  type ServiceDefinition,
  type UntypedServiceImplementation,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { MAX_CHUNK_SIZE } from '@proxystore/control';

const SERVICE = '/proxystore.bench.RawObjects';
const ID = 'x-object-id';
const SIZE = 'x-object-size';
const AUTHORIZATION = 'authorization';

const raw = (b: Buffer): Buffer => b;

function method(name: string, requestStream: boolean, responseStream: boolean): MethodDefinition<Buffer, Buffer> {
  return {
    path: `${SERVICE}/${name}`,
    requestStream,
    responseStream,
    requestSerialize: raw,
    requestDeserialize: raw,
    responseSerialize: raw,
    responseDeserialize: raw,
    originalName: name,
  };
}

/** Put: data chunks → empty (id in metadata). Get: id → data chunks (size in headers). Exists, Evict: id → 1 byte. */
export const RawObjectService = {
  put: method('Put', true, false),
  get: method('Get', false, true),
  exists: method('Exists', false, false),
  evict: method('Evict', false, false),
} satisfies ServiceDefinition;

/** The same channel limits as the control plane: chunks up to 4 MiB, many large streams per session. */
const CHANNEL: ChannelOptions = {
  'grpc.max_receive_message_length': MAX_CHUNK_SIZE + 64 * 1024,
  'grpc.max_send_message_length': MAX_CHUNK_SIZE + 64 * 1024,
  'grpc-node.max_session_memory': 1024,
};

const TRUE = Buffer.from([1]);
const FALSE = Buffer.from([0]);

function statusError(code: status, details: string): Partial<ServiceError> {
  return { code, details, message: details };
}

function authorized(metadata: Metadata, token: string): boolean {
  return metadata.get(AUTHORIZATION)[0] === `Bearer ${token}`;
}

export interface RawGrpcServer {
  port: number;
  readonly size: number;
  close(): Promise<void>;
}

interface Handlers {
  put(id: string, call: ServerReadableStream<Buffer, Buffer>): Promise<void>;
  get(id: string, call: ServerWritableStream<Buffer, Buffer>): Promise<void>;
  exists(id: string): Promise<boolean>;
  evict(id: string): Promise<boolean>;
}

async function serve(token: string, handlers: Handlers, size: () => number): Promise<RawGrpcServer> {
  const server = new Server({ ...CHANNEL, 'grpc.max_concurrent_streams': 1000 });
  const denied = statusError(status.UNAUTHENTICATED, 'raw grpc: missing or wrong bearer token');
  const unary =
    (fn: (id: string) => Promise<boolean>) =>
    (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>): void => {
      if (!authorized(call.metadata, token)) return callback(denied);
      fn(call.request.toString('utf8')).then(
        (yes) => callback(null, yes ? TRUE : FALSE),
        (err: unknown) => callback(statusError(status.INTERNAL, String(err))),
      );
    };
  const implementation: UntypedServiceImplementation = {
    put(call: ServerReadableStream<Buffer, Buffer>, callback: sendUnaryData<Buffer>) {
      if (!authorized(call.metadata, token)) return callback(denied);
      const id = call.metadata.get(ID)[0];
      if (typeof id !== 'string') return callback(statusError(status.INVALID_ARGUMENT, `raw grpc: put without ${ID}`));
      handlers.put(id, call).then(
        () => callback(null, Buffer.alloc(0)),
        (err: unknown) => callback(statusError(status.INTERNAL, String(err))),
      );
    },
    get(call: ServerWritableStream<Buffer, Buffer>) {
      if (!authorized(call.metadata, token)) return void call.emit('error', denied);
      handlers.get(call.request.toString('utf8'), call).catch((err: unknown) => {
        call.emit('error', (err as Partial<ServiceError>).code === undefined ? statusError(status.INTERNAL, String(err)) : err);
      });
    },
    exists: unary(handlers.exists),
    evict: unary(handlers.evict),
  };
  server.addService(RawObjectService, implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    get size() {
      return size();
    },
    async close() {
      server.forceShutdown();
    },
  };
}

/** Writes `chunks` to a server stream, waiting for 'drain' when it pushes back. */
async function writeAll(call: ServerWritableStream<Buffer, Buffer>, chunks: Iterable<Buffer>): Promise<void> {
  for (const chunk of chunks) {
    if (!call.write(chunk)) await once(call, 'drain');
  }
  call.end();
}

function* slices(data: Buffer, chunkSize: number): Generator<Buffer> {
  for (let at = 0; at < data.byteLength; at += chunkSize) yield data.subarray(at, Math.min(at + chunkSize, data.byteLength));
}

/** The object server: a Map of Buffers; gets stream the stored bytes in chunks of `chunkSize`. */
export async function startGrpcServer(options: { token: string; chunkSize: number }): Promise<RawGrpcServer> {
  const objects = new Map<string, Buffer>();
  return serve(
    options.token,
    {
      async put(id, call) {
        const chunks: Buffer[] = [];
        for await (const chunk of call as AsyncIterable<Buffer>) chunks.push(chunk);
        // One allocation for the object, each chunk copied to its place (concat of one chunk copies too).
        objects.set(id, Buffer.concat(chunks));
      },
      async get(id, call) {
        const data = objects.get(id);
        if (data === undefined) throw statusError(status.NOT_FOUND, `raw grpc: no object ${id}`);
        const headers = new Metadata();
        headers.set(SIZE, String(data.byteLength));
        call.sendMetadata(headers);
        await writeAll(call, slices(data, options.chunkSize));
      },
      exists: async (id) => objects.has(id),
      evict: async (id) => objects.delete(id),
    },
    () => objects.size,
  );
}

/** A relay: every call is forwarded to the raw server at `upstream`; get and put chunks stream through. */
export async function startGrpcRelay(options: { token: string; chunkSize: number; upstream: string }): Promise<RawGrpcServer> {
  const up = new RawGrpcClient(options.upstream, { token: options.token, chunkSize: options.chunkSize });
  const server = await serve(
    options.token,
    {
      async put(id, call) {
        await up.putStream(id, call as AsyncIterable<Buffer>);
      },
      async get(id, call) {
        const stream = up.openGet(id);
        const size = await stream.size;
        if (size === null) throw statusError(status.NOT_FOUND, `raw grpc: no object ${id}`);
        const headers = new Metadata();
        headers.set(SIZE, String(size));
        call.sendMetadata(headers);
        for await (const chunk of stream.call as AsyncIterable<Buffer>) {
          if (!call.write(chunk)) await once(call, 'drain');
        }
        call.end();
      },
      exists: (id) => up.exists(id),
      evict: (id) => up.evict(id),
    },
    () => 0,
  );
  return {
    port: server.port,
    size: 0,
    async close() {
      await server.close();
      up.close();
    },
  };
}

export class RawGrpcError extends Error {
  override name = 'RawGrpcError';
}

/** A client on one grpc-js channel of its own. */
export class RawGrpcClient {
  readonly chunkSize: number;
  readonly #client: Client;
  readonly #token: string;

  constructor(address: string, options: { token: string; chunkSize: number }) {
    this.chunkSize = options.chunkSize;
    this.#token = options.token;
    this.#client = new Client(address, credentials.createInsecure(), CHANNEL);
  }

  #metadata(id?: string): Metadata {
    const m = new Metadata();
    m.set(AUTHORIZATION, `Bearer ${this.#token}`);
    if (id !== undefined) m.set(ID, id);
    return m;
  }

  /** Streams `chunks` into a put of `id`. */
  async putStream(id: string, chunks: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<void> {
    const def = RawObjectService.put;
    let settled = false;
    const done = new Promise<void>((resolve, reject) => {
      const call = this.#client.makeClientStreamRequest<Buffer, Buffer>(def.path, def.requestSerialize, def.responseDeserialize, this.#metadata(id), {}, (err) => {
        settled = true;
        if (err) reject(new RawGrpcError(`raw grpc put ${id}: ${err.details}`));
        else resolve();
      });
      void (async () => {
        try {
          for await (const chunk of chunks) {
            if (settled) return;
            if (!call.write(chunk)) await Promise.race([once(call, 'drain'), done.catch(() => {})]);
          }
          call.end();
        } catch (err) {
          call.cancel();
          reject(err);
        }
      })();
    });
    return done;
  }

  put(id: string, data: Uint8Array): Promise<void> {
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    return this.putStream(id, data.byteLength === 0 ? [buf] : slices(buf, this.chunkSize));
  }

  /** A get as a stream: `size` resolves with the object's size from the headers (null when missing). */
  openGet(id: string): { call: ClientReadableStream<Buffer>; size: Promise<number | null> } {
    const def = RawObjectService.get;
    const call = this.#client.makeServerStreamRequest<Buffer, Buffer>(def.path, def.requestSerialize, def.responseDeserialize, Buffer.from(id, 'utf8'), this.#metadata(), {});
    const size = new Promise<number | null>((resolve, reject) => {
      call.once('metadata', (m: Metadata) => {
        const text = m.get(SIZE)[0];
        if (typeof text === 'string') resolve(Number(text));
      });
      call.once('error', (err: ServiceError) => {
        if (err.code === status.NOT_FOUND) resolve(null);
        else reject(new RawGrpcError(`raw grpc get ${id}: ${err.details}`));
      });
    });
    return { call, size };
  }

  /** The bytes in one buffer of their own, or null when the server has no such object. */
  async get(id: string): Promise<Buffer | null> {
    const { call, size: sized } = this.openGet(id);
    const failed = new Promise<never>((_, reject) => call.on('error', (err: ServiceError) => reject(new RawGrpcError(`raw grpc get ${id}: ${err.details}`))));
    failed.catch(() => {});
    const size = await sized;
    if (size === null) return null;
    const out = Buffer.allocUnsafe(size);
    let at = 0;
    await Promise.race([
      (async () => {
        for await (const chunk of call as AsyncIterable<Buffer>) {
          chunk.copy(out, at);
          at += chunk.byteLength;
        }
      })(),
      failed,
    ]);
    if (at !== size) throw new RawGrpcError(`raw grpc get ${id}: ${at} of ${size} bytes`);
    return out;
  }

  #unary(def: MethodDefinition<Buffer, Buffer>, id: string): Promise<boolean> {
    return new Promise((resolve, reject) =>
      this.#client.makeUnaryRequest<Buffer, Buffer>(def.path, def.requestSerialize, def.responseDeserialize, Buffer.from(id, 'utf8'), this.#metadata(), {}, (err, reply) =>
        err ? reject(new RawGrpcError(`raw grpc ${def.originalName} ${id}: ${err.details}`)) : resolve(reply?.[0] === 1),
      ),
    );
  }

  exists(id: string): Promise<boolean> {
    return this.#unary(RawObjectService.exists, id);
  }

  evict(id: string): Promise<boolean> {
    return this.#unary(RawObjectService.evict, id);
  }

  close(): void {
    this.#client.close();
  }
}
