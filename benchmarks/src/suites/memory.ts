// Peak memory of a producer and its consumers for the same workload, with and without proxies: the
// producer ships K objects to C consumer processes that each use only their share. By value every
// consumer receives all K objects and the producer holds a serialized copy per consumer; with proxies
// only references travel, each consumer fetches what it uses just in time, and evict-on-use empties the
// store as it goes. Samples are peak RSS in bytes, one per repetition, each in fresh processes.
import { totalmem } from 'node:os';
import { Store } from '@proxystore/core';
import { MiB, formatSize, repeatFor, sizesFor } from '../config.js';
import type { BenchConnector } from '../connectors.js';
import { type MemoryRun, runMemoryWorkload } from '../memory/workload.js';
import { summarize } from '../stats.js';
import type { Row, Suite, SuiteContext } from '../suite.js';

/** The workload at each scale: sizes S, K objects, C consumers, repetitions. */
export interface MemoryShape {
  sizes: readonly number[];
  objects: number;
  consumers: number;
  repeat: number;
}

/**
 * Full: C = 4 consumers on 2 cores, so by value's per-consumer copies show, and K = 8 objects, so each
 * consumer uses 2 of the 8 it is sent; 64 MiB by value peaks near 7 GiB in all and takes ~12 s a run.
 * Quick: one size, half the objects and consumers, one repetition: a few seconds.
 */
export const MEMORY_WORKLOAD: { full: MemoryShape; quick: MemoryShape } = {
  full: { sizes: [1 * MiB, 16 * MiB, 64 * MiB], objects: 8, consumers: 4, repeat: 3 },
  quick: { sizes: [16 * MiB], objects: 4, consumers: 2, repeat: 1 },
};

/**
 * What by value may peak at in all (the producer's objects and one serialized message per consumer;
 * each consumer's received chunks and objects): K·S·(1 + 3C). Sizes past half the machine's memory are
 * skipped rather than risking the OOM killer.
 */
export function byValueEstimate(objects: number, objectBytes: number, consumers: number): number {
  return objects * objectBytes * (1 + 3 * consumers);
}

const PROXY_VARIANTS = ['proxy', 'proxy + evict'] as const;

/** The memory suite at other scales (tests run K = 2, C = 2 on a small size); `memorySuite` is the real one. */
export function createMemorySuite(workload: { full: MemoryShape; quick: MemoryShape }): Suite {
  return {
    name: 'memory',
    description: 'peak RSS of a producer and its consumers, by value vs proxies (with and without evict-on-use)',
    async run(ctx: SuiteContext): Promise<Row[]> {
      const connectors = ctx.connectors.filter((c) => c.crossProcess);
      if (connectors.length === 0) {
        ctx.skip({ reason: 'no cross-process connector selected: consumers could not read what the producer put' });
        return [];
      }
      const shape = ctx.config.quick ? workload.quick : workload.full;
      const { objects, consumers } = shape;
      const repeat = repeatFor(ctx.config, { full: workload.full.repeat, quick: workload.quick.repeat });
      const sizes = sizesFor(ctx.config, { full: workload.full.sizes, quick: workload.quick.sizes }).filter((bytes) => {
        const estimate = byValueEstimate(objects, bytes, consumers);
        if (estimate <= totalmem() / 2) return true;
        ctx.skip({
          reason:
            `${formatSize(bytes)}: by value would need about ${formatSize(estimate)} ` +
            `(${objects} objects × ${consumers + 1} processes, with copies), over half of this machine's memory`,
        });
        return false;
      });
      ctx.progress.plan(sizes.length * repeat * (1 + 2 * connectors.length));
      return runSuite(ctx, connectors, sizes, { objects, consumers, repeat });
    },
  };
}

export const memorySuite: Suite = createMemorySuite(MEMORY_WORKLOAD);

interface Samples {
  producer: number[];
  /** The largest consumer's peak, per repetition. */
  consumer: number[];
  objectsLeft: number;
  bytesLeft: number;
}

function collect(into: Samples, run: MemoryRun): void {
  into.producer.push(run.producerPeakRss);
  into.consumer.push(Math.max(...run.consumerPeakRss));
  into.objectsLeft = Math.max(into.objectsLeft, run.storeObjectsLeft);
  into.bytesLeft = Math.max(into.bytesLeft, run.storeBytesLeft);
}

const empty = (): Samples => ({ producer: [], consumer: [], objectsLeft: 0, bytesLeft: 0 });

async function runSuite(
  ctx: SuiteContext,
  connectors: readonly BenchConnector[],
  sizes: readonly number[],
  shape: { objects: number; consumers: number; repeat: number },
): Promise<Row[]> {
  const { objects, consumers, repeat } = shape;
  const label = (bytes: number): string => `${objects} × ${formatSize(bytes)} → ${consumers} consumers`;
  // By value needs no connector: measured once per size, the baseline of every connector's rows.
  const byValue = new Map<number, Samples>();
  for (const bytes of sizes) {
    const samples = empty();
    for (let r = 0; r < repeat; r++) {
      ctx.progress.step(`memory › by value ${label(bytes)} (${r + 1}/${repeat})`);
      collect(samples, await runMemoryWorkload({ variant: 'by value', objects, objectBytes: bytes, consumers }));
    }
    byValue.set(bytes, samples);
  }

  const rows: Row[] = [];
  for (const bench of connectors) {
    const session = await bench.open();
    const store = new Store(`bench-memory-${bench.name}`, session.connector, { cacheSize: 0 });
    try {
      for (const bytes of sizes) {
        const proxied = new Map(PROXY_VARIANTS.map((v) => [v, empty()]));
        for (let r = 0; r < repeat; r++) {
          for (const variant of PROXY_VARIANTS) {
            ctx.progress.step(`memory › ${variant} (${bench.name}) ${label(bytes)} (${r + 1}/${repeat})`);
            const run = await runMemoryWorkload({ variant, objects, objectBytes: bytes, consumers, store });
            collect(proxied.get(variant) as Samples, run);
          }
        }
        const baseline = byValue.get(bytes) as Samples;
        for (const variant of PROXY_VARIANTS) {
          const subject = proxied.get(variant) as Samples;
          const params = {
            variant,
            objects,
            objectBytes: bytes,
            consumers,
            storeObjectsLeft: subject.objectsLeft,
            storeBytesLeft: subject.bytesLeft,
          };
          const row = (which: 'producer' | 'consumer', note: string): Row => ({
            suite: 'memory',
            case: `peak RSS (${which})`,
            connector: bench.name,
            bytes,
            params,
            subject: { name: `${variant} (${bench.name})`, unit: 'bytes', stats: summarize(subject[which]) },
            baseline: { name: 'by value', unit: 'bytes', stats: summarize(baseline[which]) },
            note,
          });
          const uses = Math.ceil(objects / consumers);
          const left = `storeObjectsLeft/storeBytesLeft: objects (payload bytes) still in the store once every consumer is done`;
          rows.push(
            row('producer', `${objects} objects of ${formatSize(bytes)} to each of ${consumers} consumers; ${left}`),
            row(
              'consumer',
              `the largest of the ${consumers} consumers' peaks in each repetition; each is sent all ${objects} objects ` +
                `and uses ${uses === 1 ? '1' : `up to ${uses}`}; ${left}`,
            ),
          );
        }
      }
    } finally {
      try {
        await store.close({ clear: true });
      } finally {
        await session.close();
      }
    }
  }
  return rows;
}
