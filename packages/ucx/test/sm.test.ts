// The transport suite over UCX's shared-memory transports (no peer-failure support in UCX 1.13:
// errorMode 'none', a dead peer shows as UCX_TIMEOUT). UCX reads UCX_TLS once per process.
process.env.UCX_TLS = 'sm,self';

const { describeTransport } = await import('./suite.js');
describeTransport('sm,self');
