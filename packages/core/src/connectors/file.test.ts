import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { registerConnector } from '../connector-registry.js';
import { describeConnectorContract } from '../testing/index.js';
import { FileConnector, type FileKey } from './file.js';

// core's index registers the built-in kinds; these tests import the connector module directly.
registerConnector('file', (options) => FileConnector.fromConfig(options));

const root = mkdtempSync(path.join(os.tmpdir(), 'proxystore-file-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let dirCount = 0;
const freshDir = (): string => path.join(root, `store-${dirCount++}`);

describeConnectorContract('FileConnector', {
  create: () => new FileConnector({ directory: freshDir() }),
  cleanup: (connector) => {
    rmSync(String(connector.config().options.directory), { recursive: true, force: true });
  },
});

const MiB = 1024 * 1024;

function bigFrames(size: number): Uint8Array[] {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 4096) bytes[i] = (i / 4096) & 0xff;
  return [new Uint8Array([1, 2, 3]), bytes];
}

describe('FileConnector', () => {
  const opened: FileConnector[] = [];
  const open = (directory = freshDir()): FileConnector => {
    const c = new FileConnector({ directory });
    opened.push(c);
    return c;
  };
  afterEach(async () => {
    for (const c of opened.splice(0)) await c.close({ clear: true });
  });

  const tempFiles = (c: FileConnector): string[] =>
    readdirSync(c.directory).filter((name) => name.startsWith('.tmp-'));

  it('writes one file per object named by the key id, and no temp file is left', async () => {
    const c = open();
    const key = await c.put([new Uint8Array([1, 2])]);
    expect(key).toEqual({ kind: 'file', id: expect.stringMatching(/^[A-Za-z0-9_-]+$/) });
    expect(readdirSync(c.directory)).toEqual([key.id]);
  });

  it('a concurrent reader never sees a partial object while a 64 MiB put is in flight', async () => {
    const c = open();
    const frames = bigFrames(64 * MiB);
    const key = await c.newKey();
    let done = false;
    let polls = 0;
    let sawTemp = false;
    const reader = (async () => {
      // Polls on the main thread between the write's chunks, which run on libuv's thread pool.
      while (!done) {
        polls++;
        sawTemp ||= tempFiles(c).length > 0;
        // exists first: once the object is visible, a read must find all of it (the rename may land
        // between the two calls, so a null read only counts before the object was seen).
        const visible = await c.exists(key);
        const got = c.getSync(key);
        if (visible) expect(got).not.toBeNull();
        if (got !== null) {
          expect(got.map((f) => f.byteLength)).toEqual([3, 64 * MiB]);
          expect(Buffer.compare(got[1] as Uint8Array, frames[1] as Uint8Array)).toBe(0);
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await c.set(key, frames);
    done = true;
    await reader;
    expect(polls).toBeGreaterThan(0);
    expect(sawTemp).toBe(true);
    const got = c.getSync(key);
    expect(got?.map((f) => f.byteLength)).toEqual([3, 64 * MiB]);
    expect(Buffer.compare(got?.[1] as Uint8Array, frames[1] as Uint8Array)).toBe(0);
  }, 60_000);

  it('an abort during put rejects with the reason and removes the temp file', async () => {
    const c = open();
    const controller = new AbortController();
    const reason = new Error('cancelled');
    const put = c.put(bigFrames(64 * MiB), { signal: controller.signal });
    controller.abort(reason);
    await expect(put).rejects.toBe(reason);
    expect(readdirSync(c.directory)).toEqual([]);
  });

  it('an abort once the temp file is being written still leaves nothing behind', async () => {
    const c = open();
    const controller = new AbortController();
    const reason = new Error('cancelled mid-write');
    const put = c.put(bigFrames(256 * MiB), { signal: controller.signal });
    // Abort as soon as the temp file exists, i.e. between chunks of the write.
    while (tempFiles(c).length === 0) await new Promise((resolve) => setImmediate(resolve));
    controller.abort(reason);
    await expect(put).rejects.toBe(reason);
    expect(readdirSync(c.directory)).toEqual([]);
  }, 60_000);

  it('a failing write rejects with ConnectorError (cause kept) and removes the temp file', async () => {
    const c = open();
    const key = await c.newKey();
    // A non-empty directory where the object should go makes the final rename fail, even as root.
    mkdirSync(path.join(c.directory, key.id));
    writeFileSync(path.join(c.directory, key.id, 'x'), 'x');
    const err = await c.set(key, [new Uint8Array(10)]).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ConnectorError', code: 'CONNECTOR_ERROR' });
    expect((err as Error).cause).toMatchObject({ code: expect.stringMatching(/^E/) });
    expect(tempFiles(c)).toEqual([]);
  });

  it('a failing putBatch leaves none of its objects behind', async () => {
    const c = open();
    const items = Array.from({ length: 20 }, (_, i) => [new Uint8Array([i])]);
    const bad = 'not frames' as unknown as Uint8Array[];
    await expect(c.putBatch([...items, bad, ...items])).rejects.toThrow(TypeError);
    expect(readdirSync(c.directory)).toEqual([]);
  });

  it('makes a relative directory absolute at construction', () => {
    const cwd = process.cwd();
    process.chdir(root);
    try {
      const c = open('relative-store');
      expect(c.directory).toBe(path.join(root, 'relative-store'));
      expect(c.config().options).toEqual({ directory: path.join(root, 'relative-store') });
      expect(existsSync(path.join(root, 'relative-store'))).toBe(true);
    } finally {
      process.chdir(cwd);
    }
  });

  it('a config round trip works from another cwd', async () => {
    const cwd = process.cwd();
    process.chdir(root);
    let config;
    let key: FileKey;
    try {
      const a = open('roundtrip-store');
      key = await a.put([new Uint8Array([9, 8, 7])]);
      config = JSON.parse(JSON.stringify(a.config())) as ReturnType<FileConnector['config']>;
    } finally {
      process.chdir(cwd);
    }
    process.chdir(os.tmpdir());
    try {
      const b = FileConnector.fromConfig(config.options);
      opened.push(b);
      expect(b.getSync(key)).toEqual([new Uint8Array([9, 8, 7])]);
    } finally {
      process.chdir(cwd);
    }
  });

  it('a corrupt file is a ConnectorError whose cause is the SerializationError', async () => {
    const c = open();
    const key = await c.put([new Uint8Array(100)]);
    writeFileSync(path.join(c.directory, key.id), 'not packed frames at all');
    const err = await c.get(key).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ConnectorError', code: 'CONNECTOR_ERROR' });
    expect((err as Error).cause).toMatchObject({ name: 'SerializationError', code: 'SERIALIZE_BAD_MAGIC' });
    expect(() => c.getSync(key)).toThrow(expect.objectContaining({ name: 'ConnectorError' }));
  });

  it('a truncated file is a ConnectorError too', async () => {
    const c = open();
    const key = await c.put([new Uint8Array(1000)]);
    const file = path.join(c.directory, key.id);
    const whole = readFileSync(file);
    writeFileSync(file, whole.subarray(0, 500));
    const err = await c.get(key).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ConnectorError' });
    expect((err as Error).cause).toMatchObject({ code: 'SERIALIZE_TRUNCATED' });
  });

  it.each(['../outside', '..', '.', 'a/b', 'a\\b', '.tmp-x', '/etc/passwd', 'a.b', 'x'.repeat(201)])(
    'rejects the key id %j (no path traversal, no temp names)',
    async (id) => {
      const c = open();
      const key = { kind: 'file', id } as FileKey;
      const invalid = { code: 'INVALID_KEY' };
      await expect(c.get(key)).rejects.toMatchObject(invalid);
      await expect(c.exists(key)).rejects.toMatchObject(invalid);
      await expect(c.evict(key)).rejects.toMatchObject(invalid);
      await expect(c.set(key, [new Uint8Array(1)])).rejects.toMatchObject(invalid);
      await expect(c.getBatch([key])).rejects.toMatchObject(invalid);
      expect(() => c.getSync(key)).toThrow(expect.objectContaining(invalid));
      expect(() => c.evictSync(key)).toThrow(expect.objectContaining(invalid));
    },
  );

  it('evicting a traversal key cannot delete a file outside the directory', async () => {
    const c = open();
    const outside = path.join(root, 'sentinel');
    writeFileSync(outside, 'keep me');
    await expect(c.evict({ kind: 'file', id: '../sentinel' })).rejects.toMatchObject({ code: 'INVALID_KEY' });
    expect(existsSync(outside)).toBe(true);
  });

  it('returns frames 64-byte aligned in a fresh buffer per get, small files included', async () => {
    const c = open();
    const sizes = [3, 100, 0, 8, 5000];
    const key = await c.put(sizes.map((n) => new Uint8Array(n).fill(n & 0xff)));
    for (const got of [await c.get(key), await c.get(key), c.getSync(key), c.getSync(key)]) {
      expect(got?.map((f) => f.byteLength)).toEqual(sizes);
      for (const f of got ?? []) {
        expect(f.byteOffset % 64).toBe(0);
        expect(Object.getPrototypeOf(f)).toBe(Uint8Array.prototype);
      }
    }
    const [a, b, s1, s2] = [await c.get(key), await c.get(key), c.getSync(key), c.getSync(key)];
    const buffers = new Set([a, b, s1, s2].map((g) => g?.[0]?.buffer));
    expect(buffers.size).toBe(4);
    // A small sync read (Buffer's pool serves readFileSync under 4 KiB) still owns its whole buffer:
    // nothing else from the pool shows through it.
    const small = await c.put([new Uint8Array([1, 2, 3])]);
    const frames = c.getSync(small);
    expect(frames?.[0]?.byteOffset).toBe(64);
    expect(frames?.[0]?.buffer.byteLength).toBe(statSync(path.join(c.directory, small.id)).size);
  });

  it('close({ clear: true }) removes the directory and all it holds', async () => {
    const c = new FileConnector({ directory: freshDir() });
    await c.put([new Uint8Array(1)]);
    await c.close({ clear: true });
    expect(existsSync(c.directory)).toBe(false);
    await c.close({ clear: true });
  });

  it('recreates its directory when another connector cleared it', async () => {
    const a = open();
    const b = FileConnector.fromConfig(a.config().options);
    await b.close({ clear: true });
    const key = await a.put([new Uint8Array([5])]);
    expect(a.getSync(key)).toEqual([new Uint8Array([5])]);
  });

  it('rejects a bad config', () => {
    expect(() => FileConnector.fromConfig({})).toThrow(expect.objectContaining({ code: 'CONFIG_ERROR' }));
    expect(() => new FileConnector({ directory: '' })).toThrow(
      expect.objectContaining({ code: 'CONFIG_ERROR' }),
    );
  });

  it('a directory path that is a file is a ConnectorError at construction', () => {
    const file = path.join(root, 'plain-file');
    writeFileSync(file, '');
    expect(() => new FileConnector({ directory: path.join(file, 'sub') })).toThrow(
      expect.objectContaining({ code: 'CONNECTOR_ERROR' }),
    );
  });
});
