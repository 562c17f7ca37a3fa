// The ProxyStore.Control gRPC service. Messages are flatbuffers (messages.ts); the definition moves them
// as raw bytes and the client and server decode them themselves, so a malformed message becomes a typed
// CONTROL_PROTOCOL error on the side that reads it instead of grpc-js's generic deserialization failure.
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';

const SERVICE = '/proxystore.control.Control';

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

/** Every call of the control plane. Streams: put is client-streamed, get server-streamed. */
export const ControlService = {
  /** PutChunk* → PutReply */
  put: method('Put', true, false),
  /** ObjectRef → GetChunk* */
  get: method('Get', false, true),
  /** ObjectRef → ExistsReply */
  exists: method('Exists', false, false),
  /** ObjectRef → EvictReply */
  evict: method('Evict', false, false),
  /** ObjectRef → StatReply (a serialize ObjectDescriptor) */
  stat: method('Stat', false, false),
  /** Empty → Identity */
  identity: method('Identity', false, false),
  /** Empty → Health */
  health: method('Health', false, false),
  /** Empty → PeerList */
  peers: method('Peers', false, false),
  /** PeerInfo → PeerList: announce yourself to a directory (or peer); the reply is who it knows. */
  register: method('Register', false, false),
} satisfies ServiceDefinition;

export type ControlMethod = keyof typeof ControlService;
