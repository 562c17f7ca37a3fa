// A raw baseline server as a child process of its own, as the endpoint it is compared with is one:
// `server.js --kind grpc|tcp --token T --chunk-size N [--upstream host:port]` (upstream: a relay to that
// server). Reports `{ type: 'listening', port }` over IPC and exits when the parent goes away.
import { parseArgs } from 'node:util';
import { startGrpcRelay, startGrpcServer } from './grpc.js';
import { startTcpRelay, startTcpServer } from './tcp.js';

const { values } = parseArgs({
  options: {
    kind: { type: 'string' },
    token: { type: 'string' },
    'chunk-size': { type: 'string', default: String(1024 * 1024) },
    upstream: { type: 'string' },
  },
});
const token = values.token ?? '';
const chunkSize = Number(values['chunk-size']);
const upstream = values.upstream;

async function start(): Promise<{ port: number; close(): Promise<void> }> {
  if (values.kind === 'grpc') {
    return upstream === undefined ? startGrpcServer({ token, chunkSize }) : startGrpcRelay({ token, chunkSize, upstream });
  }
  if (values.kind === 'tcp') {
    if (upstream === undefined) return startTcpServer({ token });
    const at = upstream.lastIndexOf(':');
    return startTcpRelay({ upstream: { host: upstream.slice(0, at), port: Number(upstream.slice(at + 1)) } });
  }
  throw new Error(`raw server: --kind must be grpc or tcp, got ${String(values.kind)}`);
}

const server = await start();
const exit = (): void => {
  void server.close().finally(() => process.exit(0));
};
process.on('disconnect', exit);
process.on('SIGTERM', exit);
process.send?.({ type: 'listening', port: server.port });
