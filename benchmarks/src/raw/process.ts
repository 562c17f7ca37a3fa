// Starts a raw baseline server (raw/server.ts) in a child process and stops it: what the bench
// connectors and the endpoint-qps suite use to put a raw grpc-js or TCP server next to an endpoint.
import { awaitMessage, childScript, spawnChild, stopChild } from '../child.js';

export interface RawServerProcess {
  kind: 'grpc' | 'tcp';
  host: string;
  port: number;
  /** host:port */
  address: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startRawServer(options: {
  kind: 'grpc' | 'tcp';
  token: string;
  chunkSize: number;
  /** host:port of the raw server this one relays to. */
  upstream?: string;
  timeoutMs?: number;
}): Promise<RawServerProcess> {
  const args = ['--kind', options.kind, '--token', options.token, '--chunk-size', String(options.chunkSize)];
  if (options.upstream !== undefined) args.push('--upstream', options.upstream);
  const child = spawnChild(childScript(import.meta.url, './server'), args);
  try {
    const what = `the raw ${options.kind} ${options.upstream === undefined ? 'server' : 'relay'}`;
    const message = await awaitMessage(child, 'listening', what, options.timeoutMs ?? 20_000);
    const port = Number(message['port']);
    return { kind: options.kind, host: '127.0.0.1', port, address: `127.0.0.1:${port}`, pid: child.pid ?? -1, stop: () => stopChild(child) };
  } catch (err) {
    await stopChild(child);
    throw err;
  }
}
