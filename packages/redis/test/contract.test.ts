// The core connector contract, against a real redis-server and a real 3-master Redis Cluster.
import { RedisConnector } from '@proxystore/redis';
import { describeConnectorContract } from '@proxystore/core/testing';
import { useRedisCluster, useRedisServer } from './servers.js';

const server = useRedisServer();
const cluster = useRedisCluster();

describeConnectorContract('RedisConnector (standalone)', {
  create: () => new RedisConnector({ host: server.current.host, port: server.current.port }),
});

describeConnectorContract('RedisConnector (cluster of 3 masters)', {
  create: () => new RedisConnector({ cluster: { nodes: cluster.current.nodes } }),
});
