import { describe, expect, it } from 'vitest';
import { ProgressReporter, renderBar } from './progress.js';

function sink(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, isTTY, columns: 80, write: (text: string) => writes.push(text) };
}

describe('renderBar', () => {
  it('fills in proportion to the steps done and fits the width', () => {
    const half = renderBar('ops', 5, 10, 'put file 1 MiB', 80);
    expect(half).toMatch(/^ops {2}\[#+-+\] {2} 5\/10 {2}put file 1 MiB$/);
    const inside = /\[([#-]+)\]/.exec(half)?.[1] ?? '';
    expect(inside.split('#').length - 1).toBe(inside.length / 2);
    expect(renderBar('ops', 10, 10, 'x', 80)).not.toContain('-]');
    const long = renderBar('ops', 1, 2, 'a very long label '.repeat(10), 60);
    expect(long.length).toBeLessThan(60);
    expect(long.endsWith('…')).toBe(true);
  });
});

describe('ProgressReporter', () => {
  it('draws one bar in place on a terminal and clears it before a log line', () => {
    const s = sink(true);
    const reporter = new ProgressReporter(s, { bars: true });
    const p = reporter.forSuite('ops');
    p.plan(2);
    p.step('first');
    p.step('second');
    reporter.line('hello');
    reporter.finish();
    expect(s.writes[0]).toMatch(/^\r\x1b\[2Kops .*1\/2 {2}first$/);
    expect(s.writes[1]).toMatch(/2\/2 {2}second$/);
    expect(s.writes[2]).toBe('\r\x1b[2K');
    expect(s.writes[3]).toMatch(/^\[bench +\d+ s\] hello\n$/);
    expect(s.writes).toHaveLength(4);
  });

  it('writes one plain line per step when stderr is not a terminal, or bars are off', () => {
    for (const s of [sink(false), sink(true)]) {
      const reporter = new ProgressReporter(s, { bars: !s.isTTY ? true : false });
      const p = reporter.forSuite('memory');
      p.plan(1);
      p.step('one');
      p.step('an unplanned step');
      expect(reporter.bars).toBe(false);
      expect(s.writes).toEqual([
        expect.stringMatching(/^\[bench +\d+ s\] memory 1\/1 one\n$/),
        expect.stringMatching(/^\[bench +\d+ s\] memory 2\/2 an unplanned step\n$/),
      ]);
    }
  });
});
