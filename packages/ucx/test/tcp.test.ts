// The transport suite over UCX's TCP transport (errorMode 'none', the default there: tcp still reports a
// dead peer, and the addon ends its calls with UCX_PEER_GONE). UCX reads
// UCX_TLS once per process, before the first use of the addon, which no import triggers.
process.env.UCX_TLS = 'tcp';

const { describeTransport } = await import('./suite.js');
describeTransport('tcp');
