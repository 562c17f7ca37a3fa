// The serializer against the one every Node program already has: node:v8, on the same values. Two
// values: 64 MiB of doubles (bulk bytes, which ours sends out of band) and a structured value (many
// small objects and a Map, which ours encodes with node:v8 plus a header). Both directions and the
// round trip; plus the round trip through the contiguous encoding, what a one-blob connector pays.
import { isDeepStrictEqual } from 'node:util';
import * as v8 from 'node:v8';
import { deserialize, framesByteLength, joinFrames, serialize, unpackFrames } from '@proxystore/serialize';
import { type Measurement, type MeasureOptions, consume, measureInterleaved, timed } from '../measure.js';
import type { Row, Suite, SuiteContext } from '../suite.js';

const FLOATS_BYTES = 64 * 1024 * 1024;
const RECORDS = 10_000;

function floats(): Float64Array {
  const out = new Float64Array(FLOATS_BYTES / Float64Array.BYTES_PER_ELEMENT);
  for (let i = 0; i < out.length; i++) out[i] = Math.sin(i) * 1e6;
  return out;
}

function structured(): { records: unknown[]; index: Map<string, number> } {
  const records = Array.from({ length: RECORDS }, (_, i) => ({
    id: i,
    name: `record-${i}`,
    score: i * 1.5,
    tags: ['alpha', 'beta', i % 2 === 0 ? 'even' : 'odd'],
    nested: { level: i % 7, path: [i, i + 1, i + 2], label: `n${i % 100}` },
  }));
  const index = new Map(records.map((r) => [r.name, r.id] as const));
  return { records, index };
}

async function compare(
  ctx: SuiteContext,
  label: string,
  value: unknown,
  bytes: number,
  options: MeasureOptions,
  remark?: string,
): Promise<Row[]> {
  const frames = serialize(value);
  const encoded = v8.serialize(value);
  if (!isDeepStrictEqual(deserialize(frames), value) || !isDeepStrictEqual(v8.deserialize(encoded), value)) {
    throw new Error(`${label}: a round trip changed the value`);
  }
  const note = `encoded: ${framesByteLength(frames)} B in ${frames.length} frames; v8: ${encoded.byteLength} B${remark === undefined ? '' : `. ${remark}`}`;
  const pairs: { case: string; subject: [string, () => unknown]; baseline: [string, () => unknown] }[] = [
    {
      case: 'serialize',
      subject: ['serialize(v)', () => serialize(value)],
      baseline: ['v8.serialize(v)', () => v8.serialize(value)],
    },
    {
      case: 'deserialize',
      subject: ['deserialize(frames)', () => deserialize(frames)],
      baseline: ['v8.deserialize(buf)', () => v8.deserialize(encoded)],
    },
    {
      case: 'round trip',
      subject: ['deserialize(serialize(v))', () => deserialize(serialize(value))],
      baseline: ['v8.deserialize(v8.serialize(v))', () => v8.deserialize(v8.serialize(value))],
    },
    {
      case: 'round trip, one buffer',
      subject: ['deserialize(unpackFrames(joinFrames(serialize(v))))', () => deserialize(unpackFrames(joinFrames(serialize(value))))],
      baseline: ['v8.deserialize(v8.serialize(v))', () => v8.deserialize(v8.serialize(value))],
    },
  ];
  const rows: Row[] = [];
  for (const pair of pairs) {
    ctx.progress.step(`${label}: ${pair.case}`);
    const [baseName, baseFn] = pair.baseline;
    const [subjectName, subjectFn] = pair.subject;
    const [base, subject] = (await measureInterleaved(
      [timed(baseName, () => consume(baseFn())), timed(subjectName, () => consume(subjectFn()))],
      options,
    )) as [Measurement, Measurement];
    const row: Row = {
      suite: 'serialize',
      case: `${label}: ${pair.case}`,
      bytes,
      subject: { name: subjectName, stats: subject },
      baseline: { name: baseName, stats: base },
    };
    // One note per value, on its first row.
    if (rows.length === 0) row.note = note;
    rows.push(row);
  }
  return rows;
}

export const serializeSuite: Suite = {
  name: 'serialize',
  description: 'serialize/deserialize against v8.serialize/v8.deserialize of the same value',
  async run(ctx) {
    ctx.progress.plan(8);
    const big = floats();
    const rows = await compare(
      ctx,
      'Float64Array 64 MiB',
      big,
      big.byteLength,
      // A time budget even at 64 MiB: the subject's serialize and deserialize take microseconds.
      { ...ctx.budgetFor(big.byteLength), time: ctx.budget.time / 2 },
      'serialize() puts the array in a frame as a view (no copy) and deserialize() views the frame, so both ' +
        'are O(1); v8.deserialize() also returns a view into its buffer for an aligned typed array, but ' +
        'v8.serialize() copies the 64 MiB. The one-buffer round trip pays one copy (joinFrames), like v8.',
    );
    const value = structured();
    // GB/s for the structured value is over its v8 encoding size: a common yardstick for both sides.
    const size = v8.serialize(value).byteLength;
    rows.push(...(await compare(ctx, `${RECORDS} records + Map`, value, size, ctx.budgetFor(size))));
    return rows;
  },
};
