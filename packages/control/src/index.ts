// @proxystore/control: the ProxyStore control plane. gRPC services on @grpc/grpc-js whose messages are
// flatbuffers (schema/control.fbs): put (client-streamed chunks), get (server-streamed chunks), exists,
// evict, stat, identity, health, peers and register. A typed client, and a server scaffold that endpoints
// fill with handlers; both sides speak bearer tokens and TLS.
export { ControlClient } from './client.js';
export type { ControlCallOptions, ControlClientOptions, ObjectRef, ObjectStream } from './client.js';
export { ControlServer, formatAddress } from './server.js';
export type {
  CallContext,
  ControlHandlers,
  ControlServerOptions,
  ListenAddress,
  ObjectSource,
  PutLayout,
} from './server.js';
export { ControlError, ControlErrorCode, toControlError } from './errors.js';
export type { HealthInfo, IdentityInfo, ObjectRefMessage, PeerInfoData, PutResult } from './messages.js';
export {
  DEFAULT_CHUNK_SIZE,
  MAX_CHUNK_SIZE,
  MAX_FRAMES,
  MIN_CHUNK_SIZE,
  FrameAssembler,
  checkLayout,
  chunkFrames,
} from './chunks.js';
export type { ClientTlsOptions, Pem, ServerTlsOptions } from './security.js';
export { ControlService } from './service.js';
export { runDaemon, type DaemonSpec } from './daemon.js';
