import { describe, expect, it } from 'vitest';
import { measureInterleaved, timed } from './measure.js';

describe('measureInterleaved', () => {
  it('stops a pass at its wall-clock cap even when the loop never yields to timers', async () => {
    let hooks = 0;
    // A near-free timed call with a costly untimed hook, and a time budget that the timed calls alone
    // would take minutes to fill: only the cap can end it. Both are promises that settle at once.
    const [m] = await measureInterleaved(
      [
        timed('noop', async () => undefined, {
          beforeEach: async () => {
            hooks++;
            const until = performance.now() + 0.2;
            while (performance.now() < until);
          },
        }),
      ],
      { time: 60_000, iterations: 1, warmupTime: 0, warmupIterations: 1, wallLimit: 200 },
    );
    expect(m?.samples).toBeGreaterThan(0);
    // 200 ms of 0.2 ms hooks over two passes: at most ~1000 calls, not the millions 60 s of no-ops need.
    expect(hooks).toBeLessThan(5_000);
  }, 20_000);

  it('runs the hooks around every timed call, in order', async () => {
    const events: string[] = [];
    await measureInterleaved(
      [
        timed('op', () => void events.push('call'), {
          beforeEach: () => void events.push('before'),
          afterEach: () => void events.push('after'),
        }),
      ],
      { time: 0, iterations: 4, warmupTime: 0, warmupIterations: 0 },
    );
    // tinybench may also call a function once on its own, before a pass, to learn whether it returns a
    // promise; every hooked call must still be framed by its hooks.
    const befores = events.flatMap((e, i) => (e === 'before' ? [i] : []));
    expect(befores.length).toBeGreaterThanOrEqual(4);
    for (const i of befores) expect(events.slice(i, i + 3)).toEqual(['before', 'call', 'after']);
    expect(events.filter((e) => e === 'after')).toHaveLength(befores.length);
  });
});
