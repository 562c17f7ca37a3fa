// The connector contract as a vitest suite: every connector package calls describeConnectorContract with
// a factory, so memory, file, Redis, endpoint and UCX connectors are held to the same behaviour (round
// trips, missing keys, ordering, no aliasing, close, abort, config revival). Connector-specific cases
// live beside each connector on top of this.
import { randomFillSync } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connector, Frames, Key } from '../connector.js';
import { connectorFromConfig } from '../connector-registry.js';

export interface ConnectorContractOptions {
  /** Makes a fresh connector; called per test or per suite. */
  create(): Promise<Connector> | Connector;
  /** Optional cleanup after each connector (besides close). */
  cleanup?(connector: Connector): Promise<void> | void;
  /** Largest round-trip size to test; default 64 MiB. */
  maxSize?: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;
/** Round trips of large objects move hundreds of MiB through slow transports in CI. */
const LARGE_TIMEOUT_MS = 120_000;

/** Bytes that differ from position to position, so a shifted or truncated copy does not compare equal. */
function pattern(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  // randomFillSync caps one call at 2 GiB; chunks keep any maxSize working.
  for (let offset = 0; offset < size; offset += 1 << 30) {
    randomFillSync(bytes, offset, Math.min(1 << 30, size - offset));
  }
  return bytes;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  // Buffer.compare runs in C++: checking 64 MiB element by element in JS would dominate the test.
  return (
    a.byteLength === b.byteLength &&
    Buffer.compare(
      Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    ) === 0
  );
}

function expectFrames(actual: readonly Uint8Array[] | null | undefined, expected: Frames): void {
  expect(actual).not.toBeNull();
  expect(actual).toBeDefined();
  const got = actual as readonly Uint8Array[];
  expect(got.map((f) => f.byteLength)).toEqual(expected.map((f) => f.byteLength));
  got.forEach((frame, i) => {
    expect(frame).toBeInstanceOf(Uint8Array);
    expect(same(frame, expected[i] as Uint8Array), `frame ${i} content`).toBe(true);
  });
}

function sizeName(size: number): string {
  if (size >= MiB && size % MiB === 0) return `${size / MiB} MiB`;
  if (size >= KiB && size % KiB === 0) return `${size / KiB} KiB`;
  return `${size} byte${size === 1 ? '' : 's'}`;
}

/**
 * Registers a `describe` block of contract cases for the connector that `options.create` makes. Each
 * case gets a fresh connector, closed (and passed to `cleanup`) after it. The config revival case builds
 * a second connector with `connectorFromConfig`, so the connector's kind must be registered (or its
 * package importable by name) in the test process.
 */
export function describeConnectorContract(name: string, options: ConnectorContractOptions): void {
  const maxSize = options.maxSize ?? 64 * MiB;
  const sizes = [...new Set([0, 1, KiB, maxSize])].filter((s) => s <= maxSize).sort((a, b) => a - b);

  describe(`connector contract: ${name}`, () => {
    let connector: Connector;
    // Every connector a case made, closed after it even when the case fails half way.
    let opened: Connector[] = [];

    beforeEach(async () => {
      connector = await options.create();
      opened = [connector];
    });

    afterEach(async () => {
      for (const c of opened.reverse()) {
        await c.close();
        await options.cleanup?.(c);
      }
      opened = [];
    });

    /** A key this connector minted whose object is gone. */
    async function missingKey(): Promise<Key> {
      const key = await connector.put([new Uint8Array([1])]);
      await connector.evict(key);
      return key;
    }

    for (const size of sizes) {
      it(
        `round-trips a ${sizeName(size)} object`,
        async () => {
          const frames = [pattern(size)];
          const key = await connector.put(frames);
          expectFrames(await connector.get(key), frames);
        },
        size >= 16 * MiB ? LARGE_TIMEOUT_MS : undefined,
      );
    }

    it('round-trips an object with no frames', async () => {
      const key = await connector.put([]);
      expect(await connector.get(key)).toEqual([]);
    });

    it('keeps frame count and every frame length exactly, empty frames included', async () => {
      const frames = [0, 1, 63, 64, 65, 0, 1000, 4096, 0].map(pattern);
      const key = await connector.put(frames);
      expectFrames(await connector.get(key), frames);
    });

    it('stores frames that are views into larger buffers (offset and length respected)', async () => {
      const backing = pattern(4 * KiB);
      const frames = [backing.subarray(3, 100), backing.subarray(1000, 1000), backing.subarray(2049)];
      const key = await connector.put(frames);
      expectFrames(await connector.get(key), frames);
    });

    it('get of a missing key is null', async () => {
      expect(await connector.get(await missingKey())).toBeNull();
    });

    it('exists is true for a stored object and false for a missing one', async () => {
      const key = await connector.put([pattern(10)]);
      expect(await connector.exists(key)).toBe(true);
      expect(await connector.exists(await missingKey())).toBe(false);
    });

    it('evict removes the object; evicting again is not an error', async () => {
      const key = await connector.put([pattern(10)]);
      await connector.evict(key);
      await expect(connector.evict(key)).resolves.toBeUndefined();
      expect(await connector.get(key)).toBeNull();
      expect(await connector.exists(key)).toBe(false);
    });

    it('rejects a malformed key with InvalidKeyError (code INVALID_KEY)', async () => {
      const invalid = { code: 'INVALID_KEY' };
      const malformed = [
        { kind: `not-${connector.kind}`, id: 'x' },
        { kind: connector.kind, id: '' },
        { kind: connector.kind },
        'not a key',
      ] as unknown as Key[];
      for (const key of malformed) {
        await expect(connector.get(key)).rejects.toMatchObject(invalid);
        await expect(connector.exists(key)).rejects.toMatchObject(invalid);
        await expect(connector.evict(key)).rejects.toMatchObject(invalid);
      }
    });

    it('mints a distinct key for every put', async () => {
      const keys = await Promise.all(Array.from({ length: 20 }, () => connector.put([pattern(1)])));
      expect(new Set(keys.map((k) => JSON.stringify(k))).size).toBe(20);
    });

    it('putBatch and getBatch keep the order of their input', async () => {
      const items = [[pattern(5)], [], [pattern(0), pattern(300)], [pattern(70_000)], [pattern(1)]];
      const keys = await connector.putBatch(items);
      expect(keys).toHaveLength(items.length);
      const got = await connector.getBatch(keys);
      expect(got).toHaveLength(items.length);
      items.forEach((frames, i) => expectFrames(got[i], frames));
      // Reversed input, reversed output: the order comes from the input, not from completion.
      const reversed = await connector.getBatch([...keys].reverse());
      [...items].reverse().forEach((frames, i) => expectFrames(reversed[i], frames));
    });

    it('getBatch answers null in place for a missing key', async () => {
      const a = [pattern(3)];
      const b = [pattern(4)];
      const [ka, kb] = await connector.putBatch([a, b]);
      const got = await connector.getBatch([ka as Key, await missingKey(), kb as Key]);
      expect(got).toHaveLength(3);
      expectFrames(got[0], a);
      expect(got[1]).toBeNull();
      expectFrames(got[2], b);
    });

    it('empty batches give empty results', async () => {
      expect(await connector.putBatch([])).toEqual([]);
      expect(await connector.getBatch([])).toEqual([]);
    });

    it('mutating the input buffers after put does not change what get returns', async () => {
      const frames = [pattern(100), pattern(5000)];
      const original = frames.map((f) => f.slice());
      const key = await connector.put(frames);
      for (const f of frames) f.fill(0xee);
      expectFrames(await connector.get(key), original);
    });

    it('mutating what one get returned does not change what another get returns', async () => {
      const frames = [pattern(100), pattern(5000)];
      const key = await connector.put(frames);
      const first = await connector.get(key);
      for (const f of first ?? []) f.fill(0xee);
      expectFrames(await connector.get(key), frames);
      // Nor are two gets views of one buffer.
      const [a, b] = [await connector.get(key), await connector.get(key)];
      expect(a?.[0]?.buffer).not.toBe(b?.[0]?.buffer);
    });

    it('keys are plain JSON and survive JSON.parse(JSON.stringify(key))', async () => {
      const frames = [pattern(33)];
      const key = await connector.put(frames);
      expect(typeof key.kind).toBe('string');
      expect(key.kind).toBe(connector.kind);
      expect(typeof key.id).toBe('string');
      const revived = JSON.parse(JSON.stringify(key)) as Key;
      expect(revived).toEqual(key);
      expectFrames(await connector.get(revived), frames);
      expect(await connector.exists(revived)).toBe(true);
    });

    it('getSync agrees with get (skipped when the connector has no getSync)', async (ctx) => {
      if (connector.getSync === undefined) return ctx.skip('connector has no getSync');
      const frames = [pattern(10), pattern(0), pattern(200)];
      const key = await connector.put(frames);
      expectFrames(connector.getSync(key), frames);
      expect(connector.getSync(await missingKey())).toBeNull();
    });

    it('evictSync removes the object (skipped when the connector has no evictSync)', async (ctx) => {
      if (connector.evictSync === undefined) return ctx.skip('connector has no evictSync');
      const key = await connector.put([pattern(10)]);
      connector.evictSync(key);
      connector.evictSync(key);
      expect(await connector.exists(key)).toBe(false);
    });

    it('config() is JSON and rebuilds a connector that reads what the first one put', async () => {
      const frames = [pattern(64), pattern(1000)];
      const key = await connector.put(frames);
      const config = connector.config();
      expect(config.kind).toBe(connector.kind);
      expect(typeof config.package).toBe('string');
      const revivedConfig = JSON.parse(JSON.stringify(config)) as typeof config;
      expect(revivedConfig).toEqual(config);

      const second = connectorFromConfig(revivedConfig);
      opened.push(second);
      expect(second.kind).toBe(connector.kind);
      expectFrames(await second.get(key), frames);
      // And the other way round: what the second puts, the first reads.
      const back = await second.put([pattern(7)]);
      expect(await connector.exists(back)).toBe(true);
      // Closing the revived one (without clear) leaves the first one's objects in place.
      await second.close();
      expectFrames(await connector.get(key), frames);
    });

    it('close() twice is fine', async () => {
      await connector.close();
      await expect(connector.close()).resolves.toBeUndefined();
    });

    it('I/O after close rejects with ClosedError (code CLOSED)', async () => {
      const key = await connector.put([pattern(1)]);
      await connector.close();
      const closed = { code: 'CLOSED' };
      await expect(connector.put([pattern(1)])).rejects.toMatchObject(closed);
      await expect(connector.get(key)).rejects.toMatchObject(closed);
      await expect(connector.exists(key)).rejects.toMatchObject(closed);
      await expect(connector.evict(key)).rejects.toMatchObject(closed);
      await expect(connector.putBatch([[pattern(1)]])).rejects.toMatchObject(closed);
      await expect(connector.getBatch([key])).rejects.toMatchObject(closed);
      if (connector.getSync) expect(() => connector.getSync?.(key)).toThrow(expect.objectContaining(closed));
      if (connector.evictSync) {
        expect(() => connector.evictSync?.(key)).toThrow(expect.objectContaining(closed));
      }
      if (connector.newKey) await expect(connector.newKey()).rejects.toMatchObject(closed);
      if (connector.set) await expect(connector.set(key, [pattern(1)])).rejects.toMatchObject(closed);
    });

    it('an already-aborted signal rejects every I/O call with the signal reason', async () => {
      const key = await connector.put([pattern(1)]);
      const reason = new Error('stop here');
      const signal = AbortSignal.abort(reason);
      await expect(connector.put([pattern(1)], { signal })).rejects.toBe(reason);
      await expect(connector.get(key, { signal })).rejects.toBe(reason);
      await expect(connector.exists(key, { signal })).rejects.toBe(reason);
      await expect(connector.evict(key, { signal })).rejects.toBe(reason);
      await expect(connector.putBatch([[pattern(1)]], { signal })).rejects.toBe(reason);
      await expect(connector.getBatch([key], { signal })).rejects.toBe(reason);
      if (connector.newKey) await expect(connector.newKey({ signal })).rejects.toBe(reason);
      if (connector.set) await expect(connector.set(key, [pattern(1)], { signal })).rejects.toBe(reason);
      // The aborted evict did not evict.
      expect(await connector.exists(key)).toBe(true);
    });

    const newKeyCase = 'newKey/set: get before set is null, after set the frames (skipped when no newKey)';
    it(newKeyCase, async (ctx) => {
      if (connector.newKey === undefined) return ctx.skip('connector has no newKey');
      expect(connector.set, 'a connector with newKey must have set').toBeTypeOf('function');
      const key = await connector.newKey();
      expect(JSON.parse(JSON.stringify(key))).toEqual(key);
      expect(await connector.get(key)).toBeNull();
      expect(await connector.exists(key)).toBe(false);
      const frames = [pattern(20), pattern(0), pattern(3000)];
      await connector.set?.(key, frames);
      expect(await connector.exists(key)).toBe(true);
      expectFrames(await connector.get(key), frames);
      await connector.evict(key);
      expect(await connector.get(key)).toBeNull();
    });
  });
}
