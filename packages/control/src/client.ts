// The client side of the control plane: typed calls over one grpc-js channel, each with the bearer token in
// its metadata, an optional deadline, and an AbortSignal that cancels the call (rejecting with the
// signal's reason). Puts stream the frames in chunks with backpressure; gets assemble the chunks straight
// into one allocation per frame.
import { once } from 'node:events';
import {
  Client,
  Metadata,
  credentials,
  type CallOptions,
  type ChannelOptions,
  type ClientReadableStream,
  type ClientWritableStream,
  type ServiceError,
} from '@grpc/grpc-js';
import { assertFrames, type Frames } from '@proxystore/core';
import { decodeObjectDescriptor, type ObjectDescriptorInfo } from '@proxystore/serialize';
import { DEFAULT_CHUNK_SIZE, FrameAssembler, MAX_MESSAGE_SIZE, checkChunkSize, checkLayout, chunkFrames } from './chunks.js';
import { ControlError, ControlErrorCode, toControlError } from './errors.js';
import {
  decodeEvictReply,
  decodeExistsReply,
  decodeGetChunk,
  decodeHealth,
  decodeIdentity,
  decodePeerList,
  decodePutReply,
  decodeStatReply,
  encodeEmpty,
  encodeObjectRef,
  encodePeerInfo,
  encodePutChunk,
  type HealthInfo,
  type IdentityInfo,
  type PeerInfoData,
  type PutResult,
} from './messages.js';
import { AUTHORIZATION, checkToken, toBuffer, type ClientTlsOptions } from './security.js';
import { ControlService, type ControlMethod } from './service.js';

export interface ControlClientOptions {
  /** Sent as `authorization: Bearer <token>` on every call. */
  token?: string;
  /** TLS to the endpoint; `true` trusts the system's roots. Default: plaintext (loopback and tests). */
  tls?: ClientTlsOptions | boolean;
  /** Bytes per put chunk. Default DEFAULT_CHUNK_SIZE. */
  chunkSize?: number;
  /**
   * Deadline of every call that moves no object data (exists, evict, stat, identity, health, peers), in ms.
   * Default 30000. Puts and gets have none unless a call asks for one: a large object may take long.
   */
  timeoutMs?: number;
  /** Extra grpc-js channel options. */
  channelOptions?: ChannelOptions;
}

/** Per-call options. */
export interface ControlCallOptions {
  signal?: AbortSignal;
  /** Deadline of this call in ms from now (overrides the client's default). */
  timeoutMs?: number;
}

/** Names one object: its id and owning endpoint ('' or absent: the endpoint called). */
export interface ObjectRef {
  id: string;
  owner?: string;
}

/** A get in progress: the object's layout, and its bytes as they arrive. */
export interface ObjectStream {
  readonly frameLengths: readonly number[];
  readonly size: number;
  /** The frames' bytes back to back. Iterate once; breaking out of the loop cancels the call. */
  readonly chunks: AsyncIterable<Uint8Array>;
  /** Cancels the call (when the bytes are no longer wanted). */
  cancel(): void;
}

const KEEPALIVE: ChannelOptions = {
  // A dead server (host gone, no RST) is noticed within ~15 s rather than at the next OS timeout.
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
};

export class ControlClient {
  readonly address: string;
  readonly chunkSize: number;
  readonly #client: Client;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;
  #closed = false;

  constructor(address: string, options: ControlClientOptions = {}) {
    if (typeof address !== 'string' || !/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/.test(address)) {
      throw new TypeError(`ControlClient: address must be host:port ([v6]:port for IPv6), got '${String(address)}'`);
    }
    this.address = address;
    this.chunkSize = checkChunkSize(options.chunkSize ?? DEFAULT_CHUNK_SIZE, 'ControlClient');
    this.#token = options.token === undefined ? undefined : checkToken(options.token, 'ControlClient');
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    if (!Number.isFinite(this.#timeoutMs) || this.#timeoutMs <= 0) {
      throw new RangeError(`ControlClient: timeoutMs must be a positive number, got ${options.timeoutMs}`);
    }
    const tls = options.tls === true ? {} : options.tls === false ? undefined : options.tls;
    const channelOptions: ChannelOptions = {
      'grpc.max_receive_message_length': MAX_MESSAGE_SIZE,
      'grpc.max_send_message_length': MAX_MESSAGE_SIZE,
      'grpc-node.max_session_memory': 1024,
      ...KEEPALIVE,
      ...(tls?.serverName === undefined
        ? {}
        : { 'grpc.ssl_target_name_override': tls.serverName, 'grpc.default_authority': tls.serverName }),
      ...options.channelOptions,
    };
    const creds =
      tls === undefined
        ? credentials.createInsecure()
        : credentials.createSsl(
            tls.ca === undefined ? null : toBuffer(tls.ca),
            tls.key === undefined ? null : toBuffer(tls.key),
            tls.cert === undefined ? null : toBuffer(tls.cert),
          );
    this.#client = new Client(address, creds, channelOptions);
  }

  #metadata(): Metadata {
    const m = new Metadata();
    if (this.#token !== undefined) m.set(AUTHORIZATION, `Bearer ${this.#token}`);
    return m;
  }

  #options(timeoutMs: number | undefined): CallOptions {
    return timeoutMs === undefined ? {} : { deadline: Date.now() + timeoutMs };
  }

  #open(what: string, signal: AbortSignal | undefined): void {
    if (this.#closed) throw new ControlError(ControlErrorCode.UNAVAILABLE, `${what}: the ControlClient is closed`);
    signal?.throwIfAborted();
  }

  /** Runs one call under the signal: an abort cancels it and rejects with the signal's reason. */
  #guard<T>(
    what: string,
    signal: AbortSignal | undefined,
    start: (settle: (err: unknown, value?: T) => void) => { cancel(): void },
  ): Promise<T> {
    this.#open(what, signal);
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const onAbort = (): void => {
        if (done) return;
        done = true;
        call.cancel();
        reject(signal?.reason);
      };
      const call = start((err, value) => {
        if (done) return;
        done = true;
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(toControlError(what, err));
        else resolve(value as T);
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #unaryCall<T>(
    method: ControlMethod,
    request: Buffer,
    decode: (buf: Buffer) => T,
    what: string,
    options: ControlCallOptions | undefined,
  ): Promise<T> {
    const def = ControlService[method];
    return this.#guard<T>(what, options?.signal, (settle) =>
      this.#client.makeUnaryRequest<Buffer, Buffer>(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        request,
        this.#metadata(),
        this.#options(options?.timeoutMs ?? this.#timeoutMs),
        (err, reply) => {
          if (err) return settle(err);
          try {
            settle(null, decode(reply as Buffer));
          } catch (e) {
            settle(e);
          }
        },
      ),
    );
  }

  #what(op: string, ref?: ObjectRef): string {
    return ref === undefined ? `${op} at ${this.address}` : `${op} of '${ref.id}' at ${this.address}`;
  }

  /**
   * Stores `frames` at the endpoint, streamed in chunks; `id` asks for that id (the endpoint mints one
   * otherwise). Nothing is stored unless every byte arrives.
   */
  async put(frames: Frames, options: ControlCallOptions & { id?: string } = {}): Promise<PutResult> {
    assertFrames(frames);
    const what = this.#what('put');
    const frameLengths = frames.map((f) => f.byteLength);
    const def = ControlService.put;
    let stream: ClientWritableStream<Buffer> | undefined;
    let failed: unknown;
    const reply = this.#guard<PutResult>(what, options.signal, (settle) => {
      stream = this.#client.makeClientStreamRequest<Buffer, Buffer>(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        this.#metadata(),
        this.#options(options.timeoutMs),
        (err, buf) => {
          if (err) return settle(err);
          try {
            settle(null, decodePutReply(buf as Buffer));
          } catch (e) {
            settle(e);
          }
        },
      );
      return stream as ClientWritableStream<Buffer>;
    });
    reply.catch((err: unknown) => {
      failed = err;
    });
    const s = stream as NonNullable<typeof stream>;
    // A server that refuses the put ends the call; stop writing then, and let `reply` say why.
    const stopped = reply.then(
      () => undefined,
      () => undefined,
    );
    try {
      let first = true;
      for (const group of chunkFrames(frames, this.chunkSize)) {
        if (failed !== undefined) break;
        const message = encodePutChunk(first ? { id: options.id ?? '', frameLengths, data: group } : { data: group });
        first = false;
        if (!s.write(message)) await Promise.race([once(s, 'drain'), stopped]);
      }
      if (first && failed === undefined) s.write(encodePutChunk({ id: options.id ?? '', frameLengths }));
      s.end();
    } catch {
      // A write on a stream the server already ended: `reply` carries the server's status.
    }
    return reply;
  }

  /**
   * Starts a get: resolves with the object's layout once the endpoint answers (null when it has no such
   * object), and streams the bytes after.
   */
  async openGet(ref: ObjectRef, options: ControlCallOptions & { forwarded?: boolean } = {}): Promise<ObjectStream | null> {
    const what = this.#what('get', ref);
    this.#open(what, options.signal);
    const def = ControlService.get;
    const call: ClientReadableStream<Buffer> = this.#client.makeServerStreamRequest<Buffer, Buffer>(
      def.path,
      def.requestSerialize,
      def.responseDeserialize,
      encodeObjectRef({ id: ref.id, owner: ref.owner ?? '', forwarded: options.forwarded ?? false }),
      this.#metadata(),
      this.#options(options.timeoutMs),
    );
    const signal = options.signal;
    const onAbort = (): void => call.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    const iterator = call[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const fail = (err: unknown): never => {
      signal?.removeEventListener('abort', onAbort);
      call.cancel();
      if (signal?.aborted) throw signal.reason;
      throw toControlError(what, err as ServiceError);
    };
    let first: IteratorResult<Buffer>;
    try {
      first = await iterator.next();
    } catch (err) {
      return fail(err);
    }
    if (first.done) return fail(new ControlError(ControlErrorCode.PROTOCOL, `${what}: the stream ended without a reply`));
    let head;
    try {
      head = decodeGetChunk(first.value);
      if (head.found && head.frameLengths === null) {
        throw new ControlError(ControlErrorCode.PROTOCOL, `${what}: the first message carries no frame layout`);
      }
    } catch (err) {
      return fail(err);
    }
    if (!head.found) {
      signal?.removeEventListener('abort', onAbort);
      call.cancel();
      return null;
    }
    const frameLengths = head.frameLengths as number[];
    let size: number;
    try {
      size = checkLayout(frameLengths, Number.MAX_SAFE_INTEGER, what);
    } catch (err) {
      return fail(err);
    }
    const firstData = head.data;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      let received = 0;
      let finished = false;
      try {
        if (firstData.byteLength > 0) {
          received += firstData.byteLength;
          yield firstData;
        }
        for (;;) {
          let next: IteratorResult<Buffer>;
          try {
            next = await iterator.next();
          } catch (err) {
            return fail(err);
          }
          if (next.done) break;
          let chunk;
          try {
            chunk = decodeGetChunk(next.value);
            if (chunk.frameLengths !== null) {
              throw new ControlError(ControlErrorCode.PROTOCOL, `${what}: only the first message may carry a layout`);
            }
            if (received + chunk.data.byteLength > size) {
              throw new ControlError(ControlErrorCode.PROTOCOL, `${what}: more bytes than the ${size} declared`);
            }
          } catch (err) {
            return fail(err);
          }
          received += chunk.data.byteLength;
          if (chunk.data.byteLength > 0) yield chunk.data;
        }
        if (received !== size) {
          return fail(
            new ControlError(ControlErrorCode.INCOMPLETE, `${what}: the stream ended after ${received} of ${size} bytes`),
          );
        }
        finished = true;
      } finally {
        signal?.removeEventListener('abort', onAbort);
        if (!finished) call.cancel();
      }
    }
    return { frameLengths, size, chunks: chunks(), cancel: () => call.cancel() };
  }

  /** The object's frames, or null when the endpoint has none under `ref`. */
  async get(ref: ObjectRef, options: ControlCallOptions & { forwarded?: boolean } = {}): Promise<Uint8Array[] | null> {
    const stream = await this.openGet(ref, options);
    if (stream === null) return null;
    const assembler = new FrameAssembler(stream.frameLengths, stream.size);
    const what = this.#what('get', ref);
    for await (const data of stream.chunks) assembler.push(data, what);
    return assembler.frames;
  }

  async exists(ref: ObjectRef, options?: ControlCallOptions & { forwarded?: boolean }): Promise<boolean> {
    return this.#unaryCall('exists', this.#ref(ref, options), decodeExistsReply, this.#what('exists', ref), options);
  }

  /** Removes the object; resolves with whether there was one. */
  async evict(ref: ObjectRef, options?: ControlCallOptions & { forwarded?: boolean }): Promise<boolean> {
    return this.#unaryCall('evict', this.#ref(ref, options), decodeEvictReply, this.#what('evict', ref), options);
  }

  /** The object's descriptor (size, frame layout, memory type, owner), or null when there is none. */
  async stat(ref: ObjectRef, options?: ControlCallOptions & { forwarded?: boolean }): Promise<ObjectDescriptorInfo | null> {
    const what = this.#what('stat', ref);
    const bytes = await this.#unaryCall('stat', this.#ref(ref, options), decodeStatReply, what, options);
    if (bytes === null) return null;
    try {
      return decodeObjectDescriptor(bytes);
    } catch (err) {
      throw new ControlError(ControlErrorCode.PROTOCOL, `${what}: malformed descriptor: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  async identity(options?: ControlCallOptions): Promise<IdentityInfo> {
    return this.#unaryCall('identity', encodeEmpty(), decodeIdentity, this.#what('identity'), options);
  }

  async health(options?: ControlCallOptions): Promise<HealthInfo> {
    return this.#unaryCall('health', encodeEmpty(), decodeHealth, this.#what('health'), options);
  }

  async peers(options?: ControlCallOptions): Promise<PeerInfoData[]> {
    return this.#unaryCall('peers', encodeEmpty(), decodePeerList, this.#what('peers'), options);
  }

  /** Announces `self` to the endpoint (a directory, or a peer); resolves with every endpoint it knows. */
  async register(self: PeerInfoData, options?: ControlCallOptions): Promise<PeerInfoData[]> {
    return this.#unaryCall('register', encodePeerInfo(self), decodePeerList, this.#what('register'), options);
  }

  #ref(ref: ObjectRef, options?: { forwarded?: boolean }): Buffer {
    if (typeof ref?.id !== 'string') throw new TypeError(`ControlClient: an object ref needs a string id`);
    return encodeObjectRef({ id: ref.id, owner: ref.owner ?? '', forwarded: options?.forwarded ?? false });
  }

  /** Closes the channel; calls in flight are cancelled. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#client.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
