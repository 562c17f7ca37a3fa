// The value the cross-thread and cross-process tests send: a structured record with a large typed array
// (out of band) and a Map (in the v8 stream), and the checksum a consumer must report back.

export function makeRun(length: number) {
  const weights = new Float64Array(length);
  for (let i = 0; i < length; i += 1) weights[i] = (i % 1000) * 0.5;
  let sum = 0;
  for (let i = 0; i < length; i += 1) sum += weights[i]!;
  return { run: { name: 'run-7', weights, tags: new Map([['a', 1]]) }, sum };
}
