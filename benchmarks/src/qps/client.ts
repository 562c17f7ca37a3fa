// A client process of the endpoint-qps suite: holds its share of the clients (each an EndpointConnector,
// or a raw grpc-js client, on a channel of its own) and runs the cells it is told to over IPC
// (qps/protocol.ts). Exits when the suite goes away.
import { randomFillSync } from 'node:crypto';
import { EndpointConnector, type EndpointKey } from '@proxystore/endpoint';
import { RawGrpcClient } from '../raw/grpc.js';
import { type QpsCellResult, type QpsCommand, type QpsOp, type QpsReply, type QpsTarget, epochMs } from './protocol.js';

interface Client {
  put(data: Uint8Array): Promise<string>;
  get(id: string): Promise<number>;
  exists(id: string): Promise<boolean>;
  evict(id: string): Promise<void>;
  close(): Promise<void>;
  /** One call that opens the channel (connect, HTTP/2 handshake) and touches no object. */
  warm(): Promise<unknown>;
  /** The object prepared for get and exists. */
  prepared?: string;
  /** What puts made and evict has not removed yet, oldest first. */
  puts: string[];
}

function endpointClient(address: string, token: string, chunkSize: number): Client {
  const connector = new EndpointConnector({ address, token, chunkSize });
  const keys = new Map<string, EndpointKey>();
  const keyOf = (id: string): EndpointKey => {
    const key = keys.get(id);
    if (key === undefined) throw new Error(`qps client: no key ${id}`);
    return key;
  };
  return {
    puts: [],
    async put(data) {
      const key = await connector.put([data]);
      keys.set(key.id, key);
      return key.id;
    },
    async get(id) {
      const frames = await connector.get(keyOf(id));
      if (frames === null) throw new Error(`qps client: endpoint has no object ${id}`);
      return frames.reduce((n, f) => n + f.byteLength, 0);
    },
    exists: (id) => connector.exists(keyOf(id)),
    async evict(id) {
      await connector.evict(keyOf(id));
      keys.delete(id);
    },
    close: () => connector.close(),
    warm: () => connector.endpointId(),
  };
}

let counter = 0;

function grpcClient(address: string, token: string, chunkSize: number): Client {
  const client = new RawGrpcClient(address, { token, chunkSize });
  const prefix = `${process.pid}-${++counter}`;
  let n = 0;
  return {
    puts: [],
    async put(data) {
      const id = `${prefix}-${++n}`;
      await client.put(id, data);
      return id;
    },
    async get(id) {
      const data = await client.get(id);
      if (data === null) throw new Error(`qps client: raw server has no object ${id}`);
      return data.byteLength;
    },
    exists: (id) => client.exists(id),
    async evict(id) {
      await client.evict(id);
    },
    async close() {
      client.close();
    },
    warm: () => client.exists('qps-warmup'),
  };
}

const clients = new Map<QpsTarget, Client[]>();
const payloads = new Map<number, Uint8Array>();

function payload(bytes: number): Uint8Array {
  let data = payloads.get(bytes);
  if (data === undefined) {
    payloads.clear();
    data = new Uint8Array(bytes);
    for (let at = 0; at < bytes; at += 1 << 30) randomFillSync(data, at, Math.min(1 << 30, bytes - at));
    payloads.set(bytes, data);
  }
  return data;
}

function mine(target: QpsTarget): Client[] {
  return clients.get(target) ?? [];
}

async function one(client: Client, op: QpsOp, data: Uint8Array): Promise<boolean> {
  switch (op) {
    case 'get':
      await client.get(client.prepared as string);
      return true;
    case 'exists':
      if (!(await client.exists(client.prepared as string))) throw new Error('qps client: the prepared object is gone');
      return true;
    case 'put':
      client.puts.push(await client.put(data));
      return true;
    case 'evict': {
      const id = client.puts.shift();
      if (id === undefined) return false;
      await client.evict(id);
      return true;
    }
  }
}

async function run(command: Extract<QpsCommand, { type: 'run' }>): Promise<QpsCellResult> {
  // Made (or found: prepare made it) before the clock starts; a late start would shorten the cell's wall time.
  const data = command.op === 'put' ? payload(command.bytes) : new Uint8Array(0);
  const wait = command.startAt - epochMs();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  const beginAt = epochMs();
  const deadline = command.startAt + command.durationMs;
  const latencies: number[] = [];
  let endAt = beginAt;
  await Promise.all(
    mine(command.target).map(async (client) => {
      // At least one call each, then until the deadline: a cell is never empty, whatever the payload.
      do {
        const start = performance.now();
        if (!(await one(client, command.op, data))) break;
        latencies.push(performance.now() - start);
        endAt = Math.max(endAt, epochMs());
      } while (epochMs() < deadline);
    }),
  );
  return { ops: latencies.length, beginAt, endAt, latencies };
}

async function handle(command: QpsCommand): Promise<QpsReply> {
  switch (command.type) {
    case 'open': {
      const make = command.target === 'endpoint' ? endpointClient : grpcClient;
      const list = Array.from({ length: command.clients }, () => make(command.address, command.token, command.chunkSize));
      clients.set(command.target, list);
      // One call each opens the channel (connect, HTTP/2 handshake) before any cell's clock starts.
      await Promise.all(list.map((c) => c.warm()));
      return { type: 'done', command: command.type };
    }
    case 'prepare': {
      const data = payload(command.bytes);
      await Promise.all(mine(command.target).map(async (c) => void (c.prepared = await c.put(data))));
      return { type: 'done', command: command.type };
    }
    case 'run':
      return { type: 'result', result: await run(command) };
    case 'cleanup':
      await Promise.all(
        mine(command.target).map(async (c) => {
          for (const id of c.puts.splice(0)) await c.evict(id);
          if (c.prepared !== undefined) await c.evict(c.prepared);
          delete c.prepared;
        }),
      );
      return { type: 'done', command: command.type };
    case 'close':
      await Promise.all(mine(command.target).map((c) => c.close()));
      clients.delete(command.target);
      return { type: 'done', command: command.type };
  }
}

process.on('message', (message: QpsCommand) => {
  handle(message).then(
    (reply) => process.send?.(reply),
    (err: unknown) => process.send?.({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies QpsReply),
  );
});
process.on('disconnect', () => process.exit(0));
process.send?.({ type: 'ready' } satisfies QpsReply);
