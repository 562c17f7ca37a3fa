// The transport suite over UCX's TCP transport (peer-failure detection on: errorMode 'peer'). UCX reads
// UCX_TLS once per process, before the first use of the addon, which no import triggers.
process.env.UCX_TLS = 'tcp';

const { describeTransport } = await import('./suite.js');
describeTransport('tcp');
