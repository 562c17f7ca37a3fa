// Moving values that contain proxies between threads and processes. `postMessage` and IPC cannot clone a
// Proxy, so a message is the value serialized, with every proxy in it reduced to its reference: the
// message stays small and no proxied data is fetched to send it.
import { deserialize, joinFrames, serialize, unpackFrames, type CodecRegistry } from '@proxystore/serialize';
import { InvalidReferenceError } from './errors.js';

/** `binary` suits `worker.postMessage` and `fork(..., { serialization: 'advanced' })`; `base64` suits JSON IPC. */
export type MessageEncoding = 'binary' | 'base64';

export type ProxyStoreMessage =
  | { proxystoreMessage: 1; encoding: 'binary'; data: Uint8Array }
  | { proxystoreMessage: 1; encoding: 'base64'; data: string };

export interface PackMessageOptions {
  /** Default `binary`. Use `base64` for channels that carry JSON only (default child_process IPC). */
  encoding?: MessageEncoding;
  codecs?: CodecRegistry;
}

/** Wraps `value` for a message channel; proxies inside it travel as references, unresolved. */
export function packMessage(value: unknown, options: PackMessageOptions = {}): ProxyStoreMessage {
  const frames = serialize(value, options.codecs === undefined ? {} : { codecs: options.codecs });
  // One compact buffer: cloning a view would also clone the whole ArrayBuffer behind it.
  const data = joinFrames(frames);
  if (options.encoding === 'base64') {
    return { proxystoreMessage: 1, encoding: 'base64', data: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64') };
  }
  return { proxystoreMessage: 1, encoding: 'binary', data };
}

export function isProxyStoreMessage(value: unknown): value is ProxyStoreMessage {
  return typeof value === 'object' && value !== null && (value as { proxystoreMessage?: unknown }).proxystoreMessage === 1;
}

/** The value back from a message; its proxies are unresolved and resolve on first use. */
export function unpackMessage<T = unknown>(message: unknown, options: { codecs?: CodecRegistry } = {}): T {
  if (!isProxyStoreMessage(message)) {
    throw new InvalidReferenceError('Not a ProxyStore message (expected the output of packMessage)');
  }
  let bytes: Uint8Array;
  if (message.encoding === 'base64') {
    bytes = Buffer.from(message.data, 'base64');
    // Buffers from base64 may sit at any offset in Node's pool; frames want 64-byte alignment.
    if (bytes.byteOffset % 64 !== 0) bytes = new Uint8Array(bytes);
  } else {
    bytes = message.data;
  }
  return deserialize<T>(unpackFrames(bytes), options.codecs === undefined ? {} : { codecs: options.codecs });
}
