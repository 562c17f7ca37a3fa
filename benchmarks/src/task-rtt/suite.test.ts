// The task-rtt suite function end to end on a tiny config: sizes 1 B and 2 kB with a 1 kB broker limit,
// so 2 kB is impossible by value. Real broker, workers and file connector; no timing assertions.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../config.js';
import { type BenchConnector, fileBench, memoryBench } from '../connectors.js';
import type { Row, Skipped, SuiteContext } from '../suite.js';
import { taskRttSuite } from '../suites/task-rtt.js';

interface Recorded {
  ctx: SuiteContext;
  planned: number[];
  steps: string[];
  skipped: Omit<Skipped, 'suite'>[];
  logs: string[];
}

function context(connectors: readonly BenchConnector[]): Recorded {
  const budget = { time: 1, iterations: 1, warmupTime: 0, warmupIterations: 0 };
  const recorded: Omit<Recorded, 'ctx'> = { planned: [], steps: [], skipped: [], logs: [] };
  const ctx: SuiteContext = {
    config: defaultConfig(tmpdir(), { sizes: [1, 2000], repeat: 2, brokerLimit: 1000, workers: 2 }),
    budget,
    budgetFor: () => budget,
    connectors,
    progress: { plan: (n) => recorded.planned.push(n), step: (label) => recorded.steps.push(label) },
    skip: (s) => recorded.skipped.push(s),
    log: (m) => recorded.logs.push(m),
  };
  return { ctx, ...recorded };
}

/**
 * Processes whose parent is this one (Linux /proc; elsewhere an empty list, and the check is vacuous). The
 * suite's broker and workers are such children until it stops them.
 */
function childProcesses(): number[] {
  if (!existsSync('/proc/self/stat')) return [];
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // pid (comm) state ppid ...: comm may contain spaces, so read after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid) children.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return children;
}

/** The file connector, remembering the directory of every session it opened. */
function watchedFileBench(dirs: string[]): BenchConnector {
  return {
    ...fileBench,
    async open() {
      const session = await fileBench.open();
      dirs.push(String(session.connector.config().options.directory));
      return session;
    },
  };
}

describe('taskRttSuite', () => {
  it('measures by value and by proxy (file), marks the size over the limit impossible, and cleans up', async () => {
    const dirs: string[] = [];
    const before = childProcesses();
    const run = context([memoryBench, watchedFileBench(dirs)]);
    const rows: Row[] = await taskRttSuite.run(run.ctx);
    expect(childProcesses()).toEqual(before);

    expect(rows.map((r) => [r.suite, r.case, r.connector, r.bytes])).toEqual([
      ['task-rtt', 'rtt', 'file', 1],
      ['task-rtt', 'rtt', 'file', 2000],
    ]);
    const [small, large] = rows as [Row, Row];
    expect(small.params).toEqual({ inputBytes: 1, outputBytes: 1, workers: 2, brokerLimit: 1000 });
    expect(small.subject.name).toBe('by proxy (file)');
    expect(small.subject.stats.samples).toBe(2);
    expect(small.baseline?.name).toBe('by value (broker)');
    expect(small.baseline?.stats.samples).toBe(2);
    expect(small.impossible).toBeUndefined();

    expect(large.baseline).toBeUndefined();
    expect(large.impossible).toMatch(/^by value: a 2 kB message exceeds the broker's 1 kB limit/);
    expect(large.subject.stats.samples).toBe(2);
    expect(large.params).toEqual({ inputBytes: 2000, outputBytes: 2000, workers: 2, brokerLimit: 1000 });

    expect(run.planned).toEqual([4]);
    expect(run.steps).toEqual(['1 B by value (broker)', '1 B by proxy (file)', '2 kB by value (broker)', '2 kB by proxy (file)']);
    expect(run.skipped).toEqual([]);
    // The file session's directory (the store's files and all) is gone.
    expect(dirs).toHaveLength(1);
    expect(existsSync(dirs[0] as string)).toBe(false);
  });

  it('skips, with the reason, when no cross-process connector is selected', async () => {
    const run = context([memoryBench]);
    expect(await taskRttSuite.run(run.ctx)).toEqual([]);
    expect(run.skipped).toHaveLength(1);
    expect(run.skipped[0]?.reason).toMatch(/cross-process/);
    expect(run.planned).toEqual([]);
  });

  it('stops its processes and closes its sessions when a connector fails to open', async () => {
    const failing: BenchConnector = {
      ...fileBench,
      name: 'broken',
      async open() {
        throw new Error('cannot open');
      },
    };
    const dirs: string[] = [];
    const file = watchedFileBench(dirs);
    const before = childProcesses();
    const run = context([file, failing]);
    await expect(taskRttSuite.run(run.ctx)).rejects.toThrow('cannot open');
    expect(childProcesses()).toEqual(before);
    expect(dirs).toHaveLength(1);
    expect(existsSync(dirs[0] as string)).toBe(false);
  });
});
