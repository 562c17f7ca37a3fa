// The server side of the control plane: a grpc-js server that checks the bearer token of every call,
// assembles client-streamed puts into frames (refusing an oversize object from its declared layout, before
// any data is read, and storing nothing unless every byte arrived), streams gets in chunks with
// backpressure, and passes decoded requests to handlers (the endpoint implements them).
import { once } from 'node:events';
import {
  Server,
  ServerCredentials,
  status as GrpcStatus,
  type ChannelOptions,
  type Metadata,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { encodeObjectDescriptor, type ObjectDescriptorInfo } from '@proxystore/serialize';
import type { Frames } from '@proxystore/core';
import {
  DEFAULT_CHUNK_SIZE,
  FrameAssembler,
  MAX_MESSAGE_SIZE,
  checkChunkSize,
  checkLayout,
  chunkFrames,
} from './chunks.js';
import { ControlError, ControlErrorCode } from './errors.js';
import {
  decodeEmpty,
  decodeObjectRef,
  decodePeerInfo,
  decodePutChunk,
  encodeEvictReply,
  encodeExistsReply,
  encodeGetChunk,
  encodeHealth,
  encodeIdentity,
  encodePeerList,
  encodePutReply,
  encodeStatReply,
  type HealthInfo,
  type IdentityInfo,
  type ObjectRefMessage,
  type PeerInfoData,
  type PutResult,
} from './messages.js';
import { checkBearer, checkToken, toBuffer, tokenDigests, type ServerTlsOptions } from './security.js';
import { ControlService } from './service.js';

/** What a handler knows about the call it serves. */
export interface CallContext {
  /** Aborted when the client cancels or goes away. */
  readonly signal: AbortSignal;
  /** The client's address, as grpc-js reports it. */
  readonly peer: string;
  readonly metadata: Metadata;
}

/** The bytes of an object to send: its frames, or chunks streamed from elsewhere (a peer, forwarding). */
export type ObjectSource =
  | { readonly frames: Frames }
  | {
      readonly frameLengths: readonly number[];
      /** The bytes of the frames back to back, in chunks of at most the chunk size. */
      readonly chunks: AsyncIterable<Uint8Array>;
    };

/** A put's layout, shown to `admitPut` before any of its data is read. */
export interface PutLayout {
  /** The id the client asked for; '' lets the handler mint one. */
  id: string;
  frameLengths: readonly number[];
  size: number;
}

type MaybePromise<T> = T | Promise<T>;

/** What the control server does with each call; throw a ControlError to fail one with its code. */
export interface ControlHandlers {
  /** Refuses a put from its layout (storage full, a bad id) before its data arrives. Optional. */
  admitPut?(layout: PutLayout, ctx: CallContext): MaybePromise<void>;
  /** Stores a complete object. Called only once every declared byte has arrived. */
  put(object: { id: string; frames: Uint8Array[]; size: number }, ctx: CallContext): MaybePromise<PutResult>;
  get(ref: ObjectRefMessage, ctx: CallContext): MaybePromise<ObjectSource | null>;
  exists(ref: ObjectRefMessage, ctx: CallContext): MaybePromise<boolean>;
  /** Returns whether there was an object to remove. */
  evict(ref: ObjectRefMessage, ctx: CallContext): MaybePromise<boolean>;
  stat(ref: ObjectRefMessage, ctx: CallContext): MaybePromise<ObjectDescriptorInfo | null>;
  identity(ctx: CallContext): MaybePromise<IdentityInfo>;
  /** `activeCalls` is filled in by the server. */
  health(ctx: CallContext): MaybePromise<Omit<HealthInfo, 'activeCalls'>>;
  peers(ctx: CallContext): MaybePromise<PeerInfoData[]>;
  register(peer: PeerInfoData, ctx: CallContext): MaybePromise<PeerInfoData[]>;
}

export interface ControlServerOptions {
  handlers: ControlHandlers;
  /** Bearer tokens accepted (any one of them). Without any, calls need no token: loopback testing only. */
  tokens?: readonly string[];
  tls?: ServerTlsOptions;
  /** Largest object a put may declare, in bytes. Default: no limit beyond memory. */
  maxObjectSize?: number;
  /** HTTP/2 streams one client connection may have open at once; more wait for a free one. Default 100. */
  maxConcurrentStreams?: number;
  /** Bytes per get chunk. Default DEFAULT_CHUNK_SIZE. */
  chunkSize?: number;
  /** Extra grpc-js channel options. */
  channelOptions?: ChannelOptions;
}

export interface ListenAddress {
  host: string;
  port: number;
  /** host:port, with an IPv6 host in brackets. */
  address: string;
}

/** Joins host and port, bracketing an IPv6 host. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

export class ControlServer {
  readonly chunkSize: number;
  readonly maxObjectSize: number;
  readonly #handlers: ControlHandlers;
  readonly #tokens: Buffer[] | null;
  readonly #server: Server;
  readonly #credentials: ServerCredentials;
  readonly #calls = new Set<AbortController>();
  #peakCalls = 0;
  #listening: ListenAddress | null = null;
  #closed = false;

  constructor(options: ControlServerOptions) {
    this.#handlers = options.handlers;
    this.chunkSize = checkChunkSize(options.chunkSize ?? DEFAULT_CHUNK_SIZE, 'ControlServer');
    this.maxObjectSize = options.maxObjectSize ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isSafeInteger(this.maxObjectSize) || this.maxObjectSize < 0) {
      throw new RangeError(`ControlServer: maxObjectSize must be a non-negative integer, got ${options.maxObjectSize}`);
    }
    const tokens = options.tokens ?? [];
    tokens.forEach((t) => checkToken(t, 'ControlServer'));
    this.#tokens = tokens.length > 0 ? tokenDigests(tokens) : null;
    const maxStreams = options.maxConcurrentStreams ?? 100;
    if (!Number.isSafeInteger(maxStreams) || maxStreams < 1) {
      throw new RangeError(`ControlServer: maxConcurrentStreams must be a positive integer, got ${maxStreams}`);
    }
    this.#server = new Server({
      'grpc.max_receive_message_length': MAX_MESSAGE_SIZE,
      'grpc.max_send_message_length': MAX_MESSAGE_SIZE,
      'grpc.max_concurrent_streams': maxStreams,
      // Node's HTTP/2 default (10 MB per session) refuses new streams under a few large transfers.
      'grpc-node.max_session_memory': 1024,
      // Clients ping every 10 s to notice a dead server; allow it.
      'grpc.keepalive_permit_without_calls': 1,
      ...options.channelOptions,
    });
    const tls = options.tls;
    this.#credentials =
      tls === undefined
        ? ServerCredentials.createInsecure()
        : ServerCredentials.createSsl(
            tls.ca === undefined ? null : toBuffer(tls.ca),
            [{ private_key: toBuffer(tls.key), cert_chain: toBuffer(tls.cert) }],
            tls.requireClientCert ?? tls.ca !== undefined,
          );
    this.#server.addService(ControlService, this.#implementation());
  }

  /** Calls being served now. */
  get activeCalls(): number {
    return this.#calls.size;
  }

  /** The most calls served at once since the server started. */
  get peakCalls(): number {
    return this.#peakCalls;
  }

  get address(): ListenAddress | null {
    return this.#listening;
  }

  /** Binds and starts serving. Port 0 picks a free port; the address says which. */
  async listen(host = '127.0.0.1', port = 0): Promise<ListenAddress> {
    if (this.#closed) throw new Error('ControlServer is closed');
    if (this.#listening !== null) throw new Error(`ControlServer already listens on ${this.#listening.address}`);
    const bound = await new Promise<number>((resolve, reject) => {
      this.#server.bindAsync(formatAddress(host, port), this.#credentials, (err, p) =>
        err ? reject(err) : resolve(p),
      );
    });
    const h = host.startsWith('[') ? host.slice(1, -1) : host;
    this.#listening = { host: h, port: bound, address: formatAddress(h, bound) };
    return this.#listening;
  }

  /**
   * Stops accepting calls, lets running ones finish for `graceMs`, then cancels the rest. Idempotent.
   */
  async close(options: { graceMs?: number } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const graceMs = options.graceMs ?? 1000;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        for (const c of this.#calls) c.abort(new Error('server shutting down'));
        this.#server.forceShutdown();
        resolve();
      }, graceMs);
      this.#server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Starts tracking a call; the controller aborts when the client cancels or the server stops. */
  #begin(call: { on(event: 'cancelled', fn: () => void): unknown; getPeer(): string; metadata: Metadata }): {
    ctx: CallContext;
    done: () => void;
  } {
    const controller = new AbortController();
    this.#calls.add(controller);
    this.#peakCalls = Math.max(this.#peakCalls, this.#calls.size);
    let finished = false;
    // grpc-js also reports 'cancelled' for calls that already ended; only a call still running is aborted
    // (and only then is an error built: capturing its stack on every call cost ~40 µs a call).
    call.on('cancelled', () => {
      if (!finished) controller.abort(new ControlError(ControlErrorCode.CANCELLED, 'client cancelled'));
    });
    return {
      ctx: { signal: controller.signal, peer: call.getPeer(), metadata: call.metadata },
      done: () => {
        finished = true;
        this.#calls.delete(controller);
      },
    };
  }

  /** A ControlError when the call's token is missing or wrong; null when it may go on. */
  #authenticate(metadata: Metadata): ControlError | null {
    if (this.#tokens === null) return null;
    const why = checkBearer(metadata, this.#tokens);
    return why === null ? null : new ControlError(ControlErrorCode.UNAUTHENTICATED, why);
  }

  #unary<T>(
    decodeRequest: (buf: Buffer) => T,
    serve: (request: T, ctx: CallContext) => Promise<Buffer>,
  ): (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => void {
    return (call, callback) => {
      const { ctx, done } = this.#begin(call);
      const run = async (): Promise<Buffer> => {
        const denied = this.#authenticate(call.metadata);
        if (denied) throw denied;
        return serve(decodeRequest(call.request), ctx);
      };
      run().then(
        (reply) => {
          done();
          callback(null, reply);
        },
        (err: unknown) => {
          done();
          callback(asControlError(err).toStatus());
        },
      );
    };
  }

  #implementation(): UntypedServiceImplementation {
    const h = this.#handlers;
    return {
      put: (call: ServerReadableStream<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => this.#put(call, callback),
      get: (call: ServerWritableStream<Buffer, Buffer>) => this.#get(call),
      exists: this.#unary(decodeObjectRef, async (ref, ctx) => encodeExistsReply(await h.exists(ref, ctx))),
      evict: this.#unary(decodeObjectRef, async (ref, ctx) => encodeEvictReply(await h.evict(ref, ctx))),
      stat: this.#unary(decodeObjectRef, async (ref, ctx) => {
        const d = await h.stat(ref, ctx);
        return encodeStatReply(d === null ? null : encodeObjectDescriptor(d));
      }),
      identity: this.#unary(decodeEmpty, async (_, ctx) => encodeIdentity(await h.identity(ctx))),
      health: this.#unary(decodeEmpty, async (_, ctx) =>
        encodeHealth({ ...(await h.health(ctx)), activeCalls: this.#calls.size }),
      ),
      peers: this.#unary(decodeEmpty, async (_, ctx) => encodePeerList(await h.peers(ctx))),
      register: this.#unary(decodePeerInfo, async (peer, ctx) => encodePeerList(await h.register(peer, ctx))),
    };
  }

  #put(call: ServerReadableStream<Buffer, Buffer>, callback: sendUnaryData<Buffer>): void {
    const { ctx, done } = this.#begin(call);
    let settled = false;
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      done();
      call.removeAllListeners('data');
      call.pause();
      callback(asControlError(err).toStatus());
    };
    const denied = this.#authenticate(call.metadata);
    if (denied) {
      fail(denied);
      return;
    }
    const h = this.#handlers;
    let ended = false;
    let id = '';
    let assembler: FrameAssembler | null = null;
    // Data that arrives while admitPut runs waits here, in order.
    let admitting: Promise<void> | null = null;
    const pending: Uint8Array[] = [];
    const what = 'put';

    const onData = (buf: Buffer): void => {
      if (settled) return;
      try {
        const chunk = decodePutChunk(buf);
        if (assembler === null && admitting === null) {
          if (chunk.frameLengths === null) {
            throw new ControlError(ControlErrorCode.PROTOCOL, `${what}: the first message must carry the frame layout`);
          }
          const size = checkLayout(chunk.frameLengths, this.maxObjectSize, what);
          id = chunk.id;
          const lengths = chunk.frameLengths;
          if (chunk.data.byteLength > 0) pending.push(chunk.data);
          call.pause();
          admitting = Promise.resolve(h.admitPut?.({ id, frameLengths: lengths, size }, ctx)).then(() => {
            if (settled) return;
            assembler = new FrameAssembler(lengths, size);
            for (const data of pending.splice(0)) assembler.push(data, what);
            call.resume();
            if (ended) finishPut();
          });
          admitting.catch(fail);
          return;
        }
        if (chunk.frameLengths !== null) {
          throw new ControlError(ControlErrorCode.PROTOCOL, `${what}: only the first message may carry a layout`);
        }
        if (assembler === null) pending.push(chunk.data);
        else assembler.push(chunk.data, what);
      } catch (err) {
        fail(err);
      }
    };
    const finishPut = (): void => {
      if (settled) return;
      const a = assembler;
      if (a === null) {
        if (admitting === null) fail(new ControlError(ControlErrorCode.PROTOCOL, `${what}: the stream carried no message`));
        return; // admitPut is running; it finishes the put when it resolves
      }
      if (!a.complete) {
        fail(
          new ControlError(
            ControlErrorCode.INCOMPLETE,
            `${what}: the stream ended after ${a.received} of ${a.size} bytes; nothing was stored`,
          ),
        );
        return;
      }
      Promise.resolve(h.put({ id, frames: a.frames, size: a.size }, ctx)).then((result) => {
        if (settled) return;
        settled = true;
        done();
        callback(null, encodePutReply(result));
      }, fail);
    };
    call.on('data', onData);
    call.on('end', () => {
      ended = true;
      finishPut();
    });
    call.on('error', (err) => fail(err));
    call.on('cancelled', () =>
      fail(new ControlError(ControlErrorCode.INCOMPLETE, `${what}: the client went away mid-stream; nothing was stored`)),
    );
  }

  #get(call: ServerWritableStream<Buffer, Buffer>): void {
    const { ctx, done } = this.#begin(call);
    const run = async (): Promise<void> => {
      const denied = this.#authenticate(call.metadata);
      if (denied) throw denied;
      const ref = decodeObjectRef(call.request);
      const source = await this.#handlers.get(ref, ctx);
      if (source === null) {
        call.write(encodeGetChunk({ found: false }));
        return;
      }
      const write = async (message: Buffer): Promise<void> => {
        ctx.signal.throwIfAborted();
        if (!call.write(message)) await once(call, 'drain', { signal: ctx.signal });
      };
      if ('frames' in source) {
        const frameLengths = source.frames.map((f) => f.byteLength);
        let first = true;
        for (const group of chunkFrames(source.frames, this.chunkSize)) {
          await write(encodeGetChunk(first ? { found: true, frameLengths, data: group } : { data: group }));
          first = false;
        }
        if (first) await write(encodeGetChunk({ found: true, frameLengths }));
        return;
      }
      await write(encodeGetChunk({ found: true, frameLengths: [...source.frameLengths] }));
      for await (const data of source.chunks) await write(encodeGetChunk({ data: [data] }));
    };
    run().then(
      () => {
        done();
        call.end();
      },
      (err: unknown) => {
        done();
        if (ctx.signal.aborted) {
          call.destroy();
          return;
        }
        call.emit('error', asControlError(err).toStatus());
      },
    );
  }
}

/** Any failure as the ControlError a client receives. */
function asControlError(err: unknown): ControlError {
  if (err instanceof ControlError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof code === 'number' && code === GrpcStatus.CANCELLED) {
    return new ControlError(ControlErrorCode.CANCELLED, message, { cause: err });
  }
  return new ControlError(ControlErrorCode.INTERNAL, `the endpoint failed: ${message}`, { cause: err });
}
