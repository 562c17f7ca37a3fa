import { afterEach, describe, expect, it } from 'vitest';
import { registerConnector } from '../connector-registry.js';
import { describeConnectorContract } from '../testing/index.js';
import { MemoryConnector, type MemoryKey } from './memory.js';

// core's index registers the built-in kinds; these tests import the connector module directly.
registerConnector('memory', (options) => MemoryConnector.fromConfig(options));

describeConnectorContract('MemoryConnector', { create: () => new MemoryConnector() });

describe('MemoryConnector', () => {
  const opened: MemoryConnector[] = [];
  const open = (options?: ConstructorParameters<typeof MemoryConnector>[0]): MemoryConnector => {
    const c = new MemoryConnector(options);
    opened.push(c);
    return c;
  };
  afterEach(async () => {
    for (const c of opened.splice(0)) await c.close({ clear: true });
  });

  it('keys name the segment, and config carries it', async () => {
    const c = open({ segment: 'named' });
    const key = await c.put([new Uint8Array([1])]);
    expect(key).toEqual({ kind: 'memory', id: expect.any(String), segment: 'named' });
    expect(c.config()).toEqual({
      kind: 'memory',
      package: '@proxystore/core',
      options: { segment: 'named' },
    });
  });

  it('gives each connector a private segment by default', async () => {
    const a = open();
    const b = open();
    expect(a.segment).not.toBe(b.segment);
    const key = await a.put([new Uint8Array([1])]);
    // A key of another segment is an error, not a silent miss.
    await expect(b.get({ ...key, segment: b.segment })).resolves.toBeNull();
    await expect(b.get(key)).rejects.toMatchObject({ code: 'INVALID_KEY' });
  });

  it('keeps a segment while any attached connector is open, and drops it after the last closes', async () => {
    const a = new MemoryConnector({ segment: 'refcounted' });
    const key = await a.put([new Uint8Array([7])]);
    const b = MemoryConnector.fromConfig(a.config().options);
    await a.close();
    expect(b.getSync(key)).toEqual([new Uint8Array([7])]);
    await b.close();
    const c = open({ segment: 'refcounted' });
    expect(c.getSync(key)).toBeNull();
  });

  it('close({ clear: true }) drops the objects at once, for every attached connector', async () => {
    const a = open({ segment: 'cleared' });
    const b = open({ segment: 'cleared' });
    const key = await a.put([new Uint8Array([7])]);
    await a.close({ clear: true });
    expect(b.getSync(key)).toBeNull();
    // The segment still works for the connectors left on it.
    const again = await b.put([new Uint8Array([8])]);
    expect(b.getSync(again)).toEqual([new Uint8Array([8])]);
  });

  it('returns frames 64-byte aligned in a fresh buffer per get', async () => {
    const c = open();
    const key = await c.put([new Uint8Array(3), new Uint8Array(100), new Uint8Array(0), new Uint8Array(8)]);
    const a = (await c.get(key)) ?? [];
    const b = c.getSync(key) ?? [];
    for (const f of a) expect(f.byteOffset % 64).toBe(0);
    expect(a[0]?.buffer).not.toBe(b[0]?.buffer);
    // Aligned frames take typed-array views without a copy.
    expect(new Float64Array(a[3]!.buffer, a[3]!.byteOffset, 1)).toHaveLength(1);
  });

  it('rejects malformed keys with InvalidKeyError', async () => {
    const c = open();
    await expect(c.get({ kind: 'file', id: 'x' } as unknown as MemoryKey)).rejects.toMatchObject({
      code: 'INVALID_KEY',
    });
    expect(() => c.getSync({ kind: 'memory', id: '', segment: c.segment } as MemoryKey)).toThrow(/non-empty/);
  });

  it('fromConfig rejects a non-string segment', () => {
    expect(() => MemoryConnector.fromConfig({ segment: 3 })).toThrow(
      expect.objectContaining({ code: 'CONFIG_ERROR' }),
    );
  });

  it('works with await using', async () => {
    let key: MemoryKey;
    let segment: string;
    {
      await using c = new MemoryConnector();
      segment = c.segment;
      key = await c.put([new Uint8Array([1])]);
    }
    const after = open({ segment });
    expect(after.getSync(key)).toBeNull();
  });
});
