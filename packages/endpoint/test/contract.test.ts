// The core connector contract against one endpoint process, plain and with a bearer token.
import { describeConnectorContract } from '@proxystore/core/testing';
import { EndpointConnector } from '@proxystore/endpoint';
import { MiB, useEndpoint } from './endpoints.js';

const solo = useEndpoint({ name: 'contract' });
describeConnectorContract('endpoint (solo)', {
  create: () => new EndpointConnector({ address: solo.current.address }),
  maxSize: 16 * MiB,
});

const guarded = useEndpoint({ name: 'contract-token', token: 'contract-secret' });
describeConnectorContract('endpoint (bearer token)', {
  create: () => new EndpointConnector({ address: guarded.current.address, token: 'contract-secret' }),
  maxSize: 1 * MiB,
});
