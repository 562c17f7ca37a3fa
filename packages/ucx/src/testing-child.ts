// The child process behind UcxChild (testing.ts): a UcxConnector and a Store in their own process, with
// their own UCX_TLS, driven over IPC. It owns objects (put, proxies), reads them (get, getSync, proxy
// resolution), and reports errors as { name, code, message } so a test can assert on typed errors.
import { createHash } from 'node:crypto';
import { Store, extract, fromReference, isProxy, resolve, toReference, type ProxyReference } from '@proxystore/core';
import { UcxConnector, ucxStats } from './connector.js';
import type { UcxKey } from './descriptor.js';
import { patternBytes } from './pattern.js';

interface Request {
  seq: number;
  op: string;
  args: Record<string, unknown>;
}

let connector: UcxConnector | null = null;
let store: Store | null = null;
const keep = new Map<string, unknown>();

function digest(frames: readonly Uint8Array[]): string {
  const h = createHash('sha256');
  for (const f of frames) h.update(f);
  return h.digest('hex');
}

function value(spec: Record<string, unknown>): unknown {
  const size = Number(spec.size ?? 0);
  const seed = Number(spec.seed ?? 1);
  switch (spec.kind) {
    case 'bytes':
      return patternBytes(size, seed);
    case 'float64': {
      const bytes = patternBytes(size * 8, seed);
      const out = new Float64Array(size);
      for (let i = 0; i < size; i++) out[i] = (bytes[i * 8] as number) + i / 2;
      return out;
    }
    case 'structured':
      return {
        name: `object ${seed}`,
        when: new Date(1_700_000_000_000 + seed),
        tags: new Set(['a', 'b']),
        lookup: new Map([['k', seed]]),
        big: 123456789012345678901234567890n + BigInt(seed),
        samples: patternBytes(size, seed),
        nested: [{ deep: true }, null, 'text'],
      };
    default:
      throw new Error(`unknown value kind ${String(spec.kind)}`);
  }
}

async function handle(op: string, args: Record<string, unknown>): Promise<unknown> {
  switch (op) {
    case 'init': {
      connector = new UcxConnector((args.options ?? {}) as ConstructorParameters<typeof UcxConnector>[0]);
      store = new Store(String(args.storeName ?? `ucx-child-${process.pid}`), connector, { cacheSize: 0, register: true });
      return { pid: process.pid, errorMode: connector.errorMode };
    }
    case 'put': {
      // frames: a list of [size, seed]; returns the key and the digest of what was put.
      const frames = (args.frames as [number, number][]).map(([size, seed]) => patternBytes(size, seed));
      const key = await (connector as UcxConnector).put(frames);
      return { key, sha256: digest(frames) };
    }
    case 'proxy': {
      const v = value(args.spec as Record<string, unknown>);
      const p = await (store as Store).proxy(v);
      return toReference(p);
    }
    case 'get':
    case 'getSync': {
      const c = connector as UcxConnector;
      const key = args.key as UcxKey;
      const started = performance.now();
      const frames = op === 'get' ? await c.get(key) : c.getSync(key);
      const ms = performance.now() - started;
      if (frames === null) return { found: false, ms };
      return { found: true, sha256: digest(frames), lengths: frames.map((f) => f.byteLength), ms };
    }
    case 'resolve': {
      // Revives a reference and resolves it synchronously (the proxy's just-in-time path).
      const p = fromReference(args.reference as ProxyReference);
      if (!isProxy(p)) throw new Error('not a proxy');
      resolve(p);
      const v = extract(p) as unknown;
      keep.set(String(args.as ?? 'last'), v);
      return v instanceof Uint8Array ? { sha256: digest([v]) } : { value: v };
    }
    case 'evict':
      await (connector as UcxConnector).evict(args.key as UcxKey);
      return null;
    case 'stats':
      return ucxStats();
    case 'importOnly':
      return { kind: UcxConnector.kind };
    case 'close':
      await (store as Store | null)?.close();
      await connector?.close();
      return null;
    default:
      throw new Error(`unknown op ${op}`);
  }
}

process.on('message', (message: Request) => {
  handle(message.op, message.args).then(
    (result) => process.send?.({ seq: message.seq, ok: true, result }),
    (err: unknown) => {
      const e = err as { name?: string; code?: string; message?: string; status?: string; reason?: string };
      process.send?.({
        seq: message.seq,
        ok: false,
        error: { name: e.name, code: e.code, message: e.message, status: e.status, reason: e.reason },
      });
    },
  );
});
process.send?.({ seq: 0, ok: true, result: 'ready' });
