// @proxystore/ucx: the UCX transport. UcxConnector moves objects by one-sided RMA get (InfiniBand, RoCE,
// shared memory, TCP) straight into pooled registered memory that becomes the value's backing store;
// UcxServer serves them (in the producer, or as the node-local `proxystore-ucx-daemon`). Importing this
// package registers the 'ucx' connector kind, so a reference revived in another process re-creates the
// connector from its config. Importing works without the native addon; using UCX then fails with
// UCX_NOT_AVAILABLE, saying what to install.
import { registerConnector } from '@proxystore/core';
import { UcxConnector } from './connector.js';

registerConnector(UcxConnector.kind, (options) => UcxConnector.fromConfig(options));

export { UcxConnector, ENV_DAEMON, ENV_GET, ENV_PUT, ENV_TOKEN, ucxStats } from './connector.js';
export type { UcxConnectorOptions, UcxMode } from './connector.js';
export { ENV_LEND_IDLE, UcxServer } from './server.js';
export { ENV_RESERVE, RESERVE_MAX_BLOCK } from './reserve.js';
export { releaseValue } from './regions.js';
export type { UcxServerOptions } from './server.js';
export { UcxError, UcxErrorCode, isUcxError } from './errors.js';
export { DESCRIPTOR_IDENTIFIER, decodeRemoteObject, encodeRemoteObject } from './descriptor.js';
export type { MemoryTypeName, RemoteObjectInfo, SameHostSource, UcxKey } from './descriptor.js';
export { defaultErrorMode, fetchGets, pushErrorMode } from './native-loader.js';
export { ENV_SAME_HOST, defaultSameHost } from './samehost.js';
export { ucxAvailability } from './native.js';
export { DAEMON_NODE_FLAGS, DAEMON_SCHED_POLICY } from './heap.js';
export type { Availability, ErrorMode, ThreadSchedPolicy } from './native.js';
