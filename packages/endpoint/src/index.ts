// @proxystore/endpoint: endpoint daemons that store objects and serve them to each other over the gRPC
// control plane (peer to peer, forwarding to an object's owner), and the EndpointConnector that talks to
// one. Importing this package registers the 'endpoint' connector kind, so a reference revived in another
// process re-creates the connector from its config by loading this package by name.
import { registerConnector } from '@proxystore/core';
import { EndpointConnector } from './connector.js';

registerConnector(EndpointConnector.kind, (options) => EndpointConnector.fromConfig(options));

export { Endpoint } from './endpoint.js';
export { EndpointConnector, EndpointErrorCode, ENV_ENDPOINT, ENV_TOKEN, ENV_TOKEN_FILE } from './connector.js';
export type { EndpointConnectorOptions, EndpointKey, EndpointTlsOptions } from './connector.js';
export { DEFAULT_MAX_OBJECT_SIZE, DEFAULT_MEMORY_LIMIT, checkEndpointConfig } from './config.js';
export type { EndpointConfig, EndpointTlsConfig } from './config.js';
export { ControlError, ControlErrorCode } from '@proxystore/control';
