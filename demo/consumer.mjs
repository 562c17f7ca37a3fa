// A demo consumer: it gets references, never data, over IPC. Touching a proxy resolves it synchronously
// from the store named in the reference, which this process re-creates from the reference's config.
import { extract, fromReference, getStore } from '@proxystore/core';

process.once('message', ({ id, references, storeName }) => {
  const weights = fromReference(references.weights);
  const run = fromReference(references.run);

  let t = performance.now();
  const length = weights.length; // first use: the whole array is read here, just in time
  const weightsMs = performance.now() - t;

  t = performance.now();
  const layers = run.layers.length;
  const runMs = performance.now() - t;

  // Hot loops take the real array out of the proxy: no trap per element.
  const values = extract(weights);
  let sum = 0;
  for (let i = 0; i < length; i += 1) sum += values[i];
  const dataBytes = getStore(storeName)?.metrics?.snapshot().operations.get?.bytes ?? 0;
  process.send({ id, weightsMs, runMs, sum, layers, dataBytes });
});
