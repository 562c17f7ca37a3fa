import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { escapeCell, formatDuration, markdownReport } from './markdown.js';
import type { Plot } from './plots.js';
import { formatRatio, formatTime } from './report.js';
import type { ReportJson, RowJson } from './report.js';

const fixture = JSON.parse(readFileSync(new URL('./fixtures/sample-results.json', import.meta.url), 'utf8')) as ReportJson;

// Plots as renderPlots returns them; markdownReport only links them, so the SVG text does not matter.
const plots: Plot[] = [
  { file: 'ops-latency.svg', title: 'ops: median latency vs size', suite: 'ops', svg: '' },
  { file: 'task-rtt.svg', title: 'task-rtt: round-trip time vs input size', suite: 'task-rtt', svg: '' },
  { file: 'serialize.svg', title: 'serialize: ratio to node:v8', suite: 'serialize', svg: '' },
];

function row(suite: string, kase: string, pred: (r: RowJson) => boolean = () => true): RowJson {
  const r = fixture.rows.find((x) => x.suite === suite && x.case === kase && pred(x));
  if (r === undefined) throw new Error(`fixture has no ${suite}/${kase} row`);
  return r;
}

/** The text between a `## name` heading and the next `## ` heading. */
function section(md: string, name: string): string {
  const start = md.indexOf(`\n## ${name}\n`);
  if (start < 0) throw new Error(`no section ${name}`);
  const end = md.indexOf('\n## ', start + 1);
  return md.slice(start, end < 0 ? undefined : end);
}

describe('markdownReport', () => {
  const md = markdownReport(fixture, { plots, imageDir: '../benchmarks/results/2026-11-24-full' });

  it('opens with the run name and the UTC date and time', () => {
    expect(md.split('\n')[0]).toBe('# proxystore-bench: full run, 2026-11-24 08:41 UTC');
  });

  it('describes the machine, with "not installed" for missing transports', () => {
    const machine = section(md, 'Machine');
    for (const text of ['AMD EPYC 7763 64-Core Processor', 'cores: 2', '8.0 GiB', 'linux-x64 6.8.0-1015-azure', 'v20.20.2', 'V8 11.3.244.8-node.30', 'UCX: not installed', 'Redis: 7.2.4']) {
      expect(machine).toContain(text);
    }
    const bare = markdownReport({ ...fixture, machine: { ...fixture.machine, ucx: '1.16.0', redis: null } }, { plots: [], imageDir: '.' });
    expect(section(bare, 'Machine')).toContain('UCX: 1.16.0');
    expect(section(bare, 'Machine')).toContain('Redis: not installed');
  });

  it('describes the configuration and the duration', () => {
    const config = section(md, 'Configuration');
    for (const text of ['quick: no', 'suites: ops, proxy, task-rtt, memory, serialize', 'sizes: suite defaults', 'repeat: suite defaults', 'broker limit (task-rtt): 10 MB', 'workers (task-rtt): 2', 'duration: 3 min 27 s']) {
      expect(config).toContain(text);
    }
    const custom = markdownReport(
      { ...fixture, config: { ...fixture.config, quick: true, sizes: [1024, 1024 ** 2], repeat: 5, connectors: ['file'] } },
      { plots: [], imageDir: '.' },
    );
    expect(custom).toContain('sizes: 1 KiB, 1 MiB');
    expect(custom).toContain('repeat: 5');
    expect(custom).toContain('connectors: file');
    expect(custom).toContain('quick: yes');
  });

  it('has one section per suite present, in run order, each with its explanation', () => {
    const headings = md.split('\n').filter((l) => l.startsWith('## '));
    expect(headings).toEqual(['## Machine', '## Configuration', '## ops', '## proxy', '## task-rtt', '## memory', '## serialize', '## Skipped', '## Notes']);
    expect(section(md, 'ops')).toContain('ratio = store median / raw median');
    expect(section(md, 'task-rtt')).toContain('speedup = by-value median / by-proxy median');
    const opsOnly = markdownReport({ ...fixture, rows: fixture.rows.filter((r) => r.suite === 'ops') }, { plots: [], imageDir: '.' });
    expect(opsOnly).not.toMatch(/^## memory$/m);
    expect(opsOnly).not.toMatch(/^## task-rtt$/m);
    expect(opsOnly).toMatch(/^### memory$/m);
  });

  it('ops: one table per connector, a row per size with each op median and ratio', () => {
    const ops = section(md, 'ops');
    expect(ops).toContain('### memory');
    expect(ops).toContain('### file');
    expect(ops).toContain('| size | put median | put ratio | get median | get ratio | exists median | exists ratio | evict median | evict ratio |');
    const at = (op: string): RowJson => row('ops', op, (r) => r.connector === 'file' && r.bytes === 1024 ** 2);
    const cells = ['put', 'get', 'exists', 'evict'].flatMap((op) => [formatTime(at(op).subject.median), formatRatio(at(op).ratio)]);
    const fileTable = ops.slice(ops.indexOf('### file'));
    expect(fileTable).toContain(`| 1 MiB | ${cells.join(' | ')} |`);
    // The long form keeps p99 and GB/s.
    const put = at('put');
    expect(fileTable).toContain(`| 1 MiB | put | ${formatTime(put.subject.median)} | ${formatTime(put.subject.p99)} | ${put.subject.gbPerSec?.toPrecision(3)} |`);
    expect(ops).toContain('- get: `store.get(key)` vs `fs.readFileSync(path)`');
  });

  it('proxy: case, subject, median, baseline, median, ratio', () => {
    const r = row('proxy', 'get property');
    expect(section(md, 'proxy')).toContain(`| get property | — | — | \`p.x\` | ${formatTime(r.subject.median)} | \`o.x\` | ${formatTime(r.baseline?.median ?? null)} | 17.5× |`);
  });

  it('task-rtt: by value, by proxy and speedup per connector; impossible sizes say so', () => {
    const rtt = section(md, 'task-rtt');
    expect(rtt).toContain('| size | by value | by proxy (file) | by proxy (redis) | speedup (file) | speedup (redis) |');
    const file = row('task-rtt', 'rtt', (r) => r.connector === 'file' && r.bytes === 1e6);
    const redis = row('task-rtt', 'rtt', (r) => r.connector === 'redis' && r.bytes === 1e6);
    const speedup = (r: RowJson): string => formatRatio((r.baseline?.median ?? 0) / r.subject.median);
    expect(rtt).toContain(
      `| 1 MB | ${formatTime(file.baseline?.median ?? null)} | ${formatTime(file.subject.median)} | ${formatTime(redis.subject.median)} | ${speedup(file)} | ${speedup(redis)} |`,
    );
    expect(speedup(file)).toBe('2.64×');
    expect(rtt).toMatch(/\| 100 MB \| impossible \(exceeds the 10 MB limit\) \| [^|]+ \| [^|]+ \| — \| — \|/);
    expect(rtt).toContain('Setup: output 1 kB, 2 workers, broker limit 10 MB.');
  });

  it('task-rtt: says when each output is as large as its input', () => {
    const symmetric: ReportJson = {
      ...fixture,
      rows: fixture.rows.map((r) =>
        r.suite === 'task-rtt' ? { ...r, params: { ...r.params, outputBytes: r.params?.['inputBytes'] ?? 0 } } : r,
      ),
    };
    const rtt = section(markdownReport(symmetric, { plots, imageDir: '.' }), 'task-rtt');
    expect(rtt).toContain('Setup: output as large as the input, 2 workers, broker limit 10 MB.');
  });

  it('memory: by value next to each variant, the ratio and the objects left in the store', () => {
    expect(section(md, 'memory')).toContain('| size | connector | case | variant | by value | proxy | ratio | store objects left |');
    expect(section(md, 'memory')).toContain('| 64 MiB | file | peak RSS (consumer) | proxy + evict | 260 MiB | 80 MiB | 0.308× | 0 |');
    expect(section(md, 'memory')).toContain('| 64 MiB | file | peak RSS (producer) | proxy | 250 MiB | 180 MiB | 0.720× | 1 (64 MiB) |');
  });

  it('serialize: a null ratio reads n/a', () => {
    const serialize = section(md, 'serialize');
    expect(serialize).toContain('| Float64Array 64 MiB: serialize | 64 MiB | `@proxystore/serialize` | 12.3 µs | `v8.serialize` | 31.4 ms | 3.92e-4× |');
    expect(serialize).toMatch(/\| Float64Array 64 MiB: deserialize \|.*\| n\/a \|/);
  });

  it('embeds each plot in its suite section, under the given image directory', () => {
    expect(section(md, 'ops')).toContain('![ops: median latency vs size](../benchmarks/results/2026-11-24-full/ops-latency.svg)');
    expect(section(md, 'task-rtt')).toContain('![task-rtt: round-trip time vs input size](../benchmarks/results/2026-11-24-full/task-rtt.svg)');
    expect(section(md, 'serialize')).toContain('(../benchmarks/results/2026-11-24-full/serialize.svg)');
    expect(section(md, 'proxy')).not.toContain('![');
    const here = markdownReport(fixture, { plots, imageDir: './' });
    expect(here).toContain('![ops: median latency vs size](./ops-latency.svg)');
  });

  it('lists what was skipped, and each note once', () => {
    const skipped = section(md, 'Skipped');
    expect(skipped).toContain('- ops (ucx): UCX not installed (ucx_info not found)');
    expect(skipped).toContain('- task-rtt (endpoint): endpoint | peer unreachable');
    const notes = section(md, 'Notes');
    expect(notes).toContain("- task-rtt › rtt (file, redis): by value exceeds the broker's 10 MB message limit");
    expect(notes.split("broker's 10 MB message limit")).toHaveLength(2);
    expect(notes).toContain('- serialize › Float64Array 64 MiB: deserialize: v8.deserialize of a view is lazy');
    const clean = markdownReport({ ...fixture, skipped: [], rows: fixture.rows.filter((r) => r.suite === 'proxy') }, { plots: [], imageDir: '.' });
    expect(clean).not.toContain('## Skipped');
    expect(clean).not.toContain('## Notes');
  });

  it('escapes | in table cells so a cell cannot split the row', () => {
    const piped: RowJson = { ...row('proxy', 'get property'), case: 'a | b', subject: { ...row('proxy', 'get property').subject, name: 'x ?? y | z' } };
    const out = markdownReport({ ...fixture, rows: [piped] }, { plots: [], imageDir: '.' });
    const line = out.split('\n').find((l) => l.startsWith('| a '));
    expect(line).toBe(`| a \\| b | \`x ?? y \\| z\` | ${formatTime(piped.subject.median)} | \`o.x\` | ${formatTime(piped.baseline?.median ?? null)} | 17.5× |`);
    expect(escapeCell('one|two\nthree')).toBe('one\\|two three');
  });

  it('ends with one newline and has no runs of blank lines', () => {
    expect(md.endsWith('\n')).toBe(true);
    expect(md.endsWith('\n\n')).toBe(false);
    expect(md).not.toMatch(/\n\n\n/);
  });
});

describe('formatDuration', () => {
  it('reads in seconds, minutes or hours', () => {
    expect(formatDuration(42.4)).toBe('42 s');
    expect(formatDuration(207.4)).toBe('3 min 27 s');
    expect(formatDuration(3 * 3600 + 125)).toBe('3 h 2 min');
  });
});
