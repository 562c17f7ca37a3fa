// @proxystore/redis: the RedisConnector (one server or a Redis Cluster, over ioredis). Importing this
// package registers the 'redis' connector kind, so a reference revived in another process re-creates the
// connector from its config by loading this package by name.
import { registerConnector } from '@proxystore/core';
import { RedisConnector } from './connector.js';

registerConnector(RedisConnector.kind, (options) => RedisConnector.fromConfig(options));

export { RedisConnector } from './connector.js';
export type { RedisKey } from './connector.js';
export type { RedisClusterNode, RedisConnectorOptions, RedisTlsOptions } from './options.js';
export { RedisErrorCode } from './errors.js';
