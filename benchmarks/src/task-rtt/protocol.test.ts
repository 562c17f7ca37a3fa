// The framing on its own: frames survive any split of the byte stream, an oversize frame is skipped
// without a buffer for its payload, and every malformed header fails with BROKER_PROTOCOL_ERROR.
import { describe, expect, it } from 'vitest';
import { BrokerError, isBrokerError } from './errors.js';
import { FrameDecoder, FrameKind, HEADER_BYTES, MAX_META_BYTES, type Frame, type FrameHeader, decodeHeader, encodeFrame, messageBytes } from './protocol.js';

function concat(parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

function collect(limit?: number): { decoder: FrameDecoder; frames: Frame[]; oversize: { header: FrameHeader; bytes: number }[] } {
  const frames: Frame[] = [];
  const oversize: { header: FrameHeader; bytes: number }[] = [];
  const decoder = new FrameDecoder(
    { frame: (f) => frames.push(f), oversize: (header, bytes) => oversize.push({ header, bytes }) },
    limit === undefined ? {} : { limit },
  );
  return { decoder, frames, oversize };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isBrokerError(err) ? err.code : `not a BrokerError: ${String(err)}`;
  }
  return undefined;
}

/** A valid header, then `edit` applied to its bytes. */
function header(edit: (view: DataView) => void): Uint8Array {
  const head = concat(encodeFrame(FrameKind.Task, 7, { a: 1 }, new Uint8Array(10))).slice(0, HEADER_BYTES);
  edit(new DataView(head.buffer, head.byteOffset, head.byteLength));
  return head;
}

describe('frame round trip', () => {
  const payload = new Uint8Array(100_000).map((_, i) => i % 251);
  const stream = concat([
    ...encodeFrame(FrameKind.Hello, 0, { role: 'client' }),
    ...encodeFrame(FrameKind.Task, 42, { mode: 'value', outputBytes: 5 }, payload),
    ...encodeFrame(FrameKind.Result, 0xffff_ffff),
  ]);

  it('gives back kind, task id, meta and payload for frames in one chunk', () => {
    const { decoder, frames } = collect();
    decoder.push(stream);
    expect(frames.map((f) => [f.kind, f.taskId, f.meta, f.payload.byteLength])).toEqual([
      [FrameKind.Hello, 0, { role: 'client' }, 0],
      [FrameKind.Task, 42, { mode: 'value', outputBytes: 5 }, payload.byteLength],
      [FrameKind.Result, 0xffff_ffff, {}, 0],
    ]);
    expect(Buffer.compare(frames[1]?.payload as Uint8Array, payload)).toBe(0);
    expect(decoder.pendingBytes).toBe(0);
  });

  it('gives back the same frames when the stream arrives a byte at a time or in odd chunks', () => {
    for (const chunk of [1, 7, 23, 4096, 65_537]) {
      const { decoder, frames } = collect();
      for (let i = 0; i < stream.byteLength; i += chunk) decoder.push(stream.subarray(i, i + chunk));
      expect(frames.map((f) => f.taskId)).toEqual([0, 42, 0xffff_ffff]);
      expect(Buffer.compare(frames[1]?.payload as Uint8Array, payload)).toBe(0);
    }
  });

  it('hands out payloads at offset 0 of their own memory, so packed frames inside stay aligned', () => {
    const { decoder, frames } = collect();
    decoder.push(stream);
    const got = frames[1]?.payload as Uint8Array;
    expect(got.byteOffset).toBe(0);
    expect(got.buffer.byteLength).toBe(payload.byteLength);
  });

  it('counts header, meta and payload in the message size', () => {
    const parts = encodeFrame(FrameKind.Task, 1, { x: 'é' }, new Uint8Array(9));
    const meta = Buffer.byteLength(JSON.stringify({ x: 'é' }));
    expect(concat(parts).byteLength).toBe(messageBytes(meta, 9));
    expect(decodeHeader(concat(parts))).toEqual({ kind: FrameKind.Task, taskId: 1, metaBytes: meta, payloadBytes: 9 });
  });

  it('refuses to encode an unknown kind, a task id that is not a u32, or oversize meta', () => {
    expect(() => encodeFrame(99 as FrameKind, 1)).toThrow(RangeError);
    expect(() => encodeFrame(FrameKind.Task, -1)).toThrow(RangeError);
    expect(() => encodeFrame(FrameKind.Task, 2 ** 32)).toThrow(RangeError);
    expect(() => encodeFrame(FrameKind.Task, 1, { big: 'x'.repeat(MAX_META_BYTES) })).toThrow(RangeError);
  });
});

describe('size limit', () => {
  it('reports an oversize frame from its header, skips its bytes, and decodes the next frame', () => {
    const big = encodeFrame(FrameKind.Task, 5, { m: 1 }, new Uint8Array(5000));
    const small = encodeFrame(FrameKind.Task, 6, {}, new Uint8Array(10));
    const { decoder, frames, oversize } = collect(1000);
    const header = big[0]?.subarray(0, HEADER_BYTES) as Uint8Array;
    decoder.push(header);
    // Reported before a byte of the payload arrived.
    expect(oversize).toEqual([{ header: { kind: FrameKind.Task, taskId: 5, metaBytes: 7, payloadBytes: 5000 }, bytes: HEADER_BYTES + 7 + 5000 }]);
    expect(decoder.pendingBytes).toBe(5007);
    const rest = concat([(big[0] as Uint8Array).subarray(HEADER_BYTES), big[1] as Uint8Array, ...small]);
    for (let i = 0; i < rest.byteLength; i += 333) decoder.push(rest.subarray(i, i + 333));
    expect(frames.map((f) => f.taskId)).toEqual([6]);
  });

  it('applies the limit to the whole message: a payload of exactly the limit is over it', () => {
    const { decoder, frames, oversize } = collect(1000);
    decoder.push(concat(encodeFrame(FrameKind.Task, 1, {}, new Uint8Array(1000))));
    expect(frames).toEqual([]);
    expect(oversize).toHaveLength(1);
    const ok = collect(1000);
    ok.decoder.push(concat(encodeFrame(FrameKind.Task, 1, {}, new Uint8Array(1000 - HEADER_BYTES - 2))));
    expect(ok.frames).toHaveLength(1);
  });

  it('without an oversize handler, fails with BROKER_MESSAGE_TOO_LARGE', () => {
    const decoder = new FrameDecoder({ frame: () => {} }, { limit: 100 });
    expect(codeOf(() => decoder.push(concat(encodeFrame(FrameKind.Task, 1, {}, new Uint8Array(200)))))).toBe('BROKER_MESSAGE_TOO_LARGE');
  });
});

describe('malformed frames', () => {
  const cases: [string, Uint8Array][] = [
    ['bad magic', header((v) => v.setUint32(0, 0x48545450))],
    ['unsupported version', header((v) => v.setUint8(4, 2))],
    ['unknown kind', header((v) => v.setUint8(5, 0))],
    ['reserved bytes set', header((v) => v.setUint16(6, 1))],
    ['meta over the maximum', header((v) => v.setUint32(12, MAX_META_BYTES + 1))],
    ['payload length of 2^53 or more', header((v) => v.setUint32(16, 0x20_0000))],
  ];
  for (const [what, bytes] of cases) {
    it(`fails on ${what} with BROKER_PROTOCOL_ERROR`, () => {
      const { decoder } = collect();
      expect(codeOf(() => decoder.push(bytes))).toBe('BROKER_PROTOCOL_ERROR');
    });
  }

  it('fails on meta that is not JSON, or not a JSON object', () => {
    for (const meta of ['{not json', '[1,2]', '"text"', 'null']) {
      const text = Buffer.from(meta);
      const head = header((v) => {
        v.setUint32(12, text.byteLength);
        v.setUint32(20, 0);
      });
      const { decoder } = collect();
      expect(codeOf(() => decoder.push(concat([head, text])))).toBe('BROKER_PROTOCOL_ERROR');
    }
  });

  it('stays failed after an error: a byte stream cannot be resynchronised', () => {
    const { decoder, frames } = collect();
    expect(codeOf(() => decoder.push(header((v) => v.setUint8(4, 9))))).toBe('BROKER_PROTOCOL_ERROR');
    expect(codeOf(() => decoder.push(concat(encodeFrame(FrameKind.Hello, 0))))).toBe('BROKER_PROTOCOL_ERROR');
    expect(frames).toEqual([]);
  });
});

describe('BrokerError on the wire', () => {
  it('keeps class, code, message and details', () => {
    const sent = new BrokerError('BROKER_MESSAGE_TOO_LARGE', 'too big', { details: { bytes: 2000, limit: 1000 } });
    const got = BrokerError.fromWire(JSON.parse(JSON.stringify(sent.toWire())) as Record<string, unknown>);
    expect(got).toBeInstanceOf(BrokerError);
    expect([got.name, got.code, got.message, got.details]).toEqual(['BrokerError', 'BROKER_MESSAGE_TOO_LARGE', 'too big', { bytes: 2000, limit: 1000 }]);
  });

  it('turns an unknown code into a protocol error instead of trusting it', () => {
    expect(BrokerError.fromWire({ code: 'EVIL', message: 'x' }).code).toBe('BROKER_PROTOCOL_ERROR');
  });
});
