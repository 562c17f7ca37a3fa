// report.md: the results file as a page people read on GitHub. Built from the JSON document alone (never
// from live measurements), so `proxystore-bench report` can re-render an old run; each suite gets a
// paragraph on how to read its ratio, a table shaped for its rows, and its plots.
import { formatSize, SUITE_NAMES } from './config.js';
import type { Plot } from './plots.js';
import { formatRate, formatRatio, formatValue } from './report.js';
import type { MeasuredJson, ReportJson, RowJson } from './report.js';

export interface MarkdownOptions {
  /** The plots renderPlots made for this report; each is embedded in its suite's section. */
  plots: readonly Plot[];
  /** Prefix of the image links, relative to where report.md will be read: '.' or '../benchmarks/results/2026-11-24-full'. */
  imageDir: string;
}

const NONE = '—';
const OPS_ORDER = ['put', 'get', 'exists', 'evict'];

// ---------------------------------------------------------------------------------------------------
// Markdown pieces

/** A table cell: `|` would end the cell and a newline the row. */
export function escapeCell(text: string): string {
  return text.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
}

/** Inline code that survives backticks in the text. */
function code(text: string): string {
  if (text === '') return '';
  return text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``;
}

/** Columns of numbers, aligned right so digits line up. */
const NUMERIC =
  /^(÷ .*|size|median|p99|p50|GB\/s|ratio|by value|proxy|store objects left|clients|chunk|ops\/s|rate ratio|raw .*|.* median|.* ratio( \(.*\))?|.* GB\/s|by proxy .*|speedup .*)$/;

function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const line = (cells: readonly string[]): string => `| ${cells.map(escapeCell).join(' | ')} |`;
  return [line(header), `|${header.map((h) => (NUMERIC.test(h) ? ' ---: ' : ' --- ')).join('|')}|`, ...rows.map(line)];
}

function imageLink(plot: Plot, imageDir: string): string {
  const dir = imageDir.replace(/\/+$/, '');
  const path = encodeURI(dir === '' ? plot.file : `${dir}/${plot.file}`);
  return `![${plot.title.replace(/([[\]\\])/g, '\\$1')}](${path})`;
}

function unique<T>(values: Iterable<T>): T[] {
  return [...new Set(values)];
}

function defined<T>(values: readonly (T | undefined)[]): T[] {
  return values.filter((v): v is T => v !== undefined);
}

function median(m: MeasuredJson | undefined): string {
  return m === undefined ? NONE : formatValue(m.median, m.unit);
}

function sizeOf(r: RowJson): string {
  return r.bytes === undefined ? NONE : formatSize(r.bytes);
}

function list(values: readonly string[]): string {
  return values.join(', ');
}

// ---------------------------------------------------------------------------------------------------
// Header

function utcDate(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return 'n/a';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const h = Math.floor(s / 3600);
  const min = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h} h ${min} min` : `${min} min ${sec} s`;
}

function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}

function headerLines(report: ReportJson): string[] {
  const m = report.machine;
  const c = report.config;
  return [
    `# proxystore-bench: ${report.name} run, ${utcDate(report.date)}`,
    '',
    'Every figure sits next to a raw baseline measured in the same run, on the same bytes. **ratio = subject median / ' +
      'baseline median**: 1× is as fast (or, for memory, as large) as the baseline, 2× twice as slow, below 1× faster. ' +
      'Times are per operation; GB/s is 10^9 bytes per second at the median. Absolute numbers depend on the machine; ' +
      'compare ratios between runs on like machines.',
    '',
    '## Machine',
    '',
    `- CPU: ${m.cpuModel}`,
    `- cores: ${m.cpus} (${m.availableParallelism} available to the process)`,
    `- memory: ${gib(m.totalMemoryBytes)} (${gib(m.freeMemoryBytes)} free at the start)`,
    `- OS: ${m.platform}-${m.arch} ${m.osRelease}`,
    `- Node: ${m.node}, V8 ${m.v8}`,
    `- UCX: ${m.ucx ?? 'not installed'}`,
    `- Redis: ${m.redis ?? 'not installed'}`,
    '',
    '## Configuration',
    '',
    `- quick: ${c.quick ? 'yes (shorter budgets, quick sizes)' : 'no'}`,
    `- suites: ${list(c.suites)}`,
    `- connectors: ${c.connectors.length === 0 ? 'every one available' : list(c.connectors)}`,
    `- sizes: ${c.sizes === null ? 'suite defaults' : list(c.sizes.map(formatSize))}`,
    `- repeat: ${c.repeat === null ? 'suite defaults' : String(c.repeat)}`,
    `- broker limit (task-rtt): ${formatSize(c.brokerLimit)}`,
    `- workers (task-rtt): ${c.workers}`,
    `- duration: ${formatDuration(report.durationSeconds)}`,
  ];
}

// ---------------------------------------------------------------------------------------------------
// Suites

const ABOUT: Record<string, string> = {
  ops:
    'Each store operation (put, get, exists, evict) on a payload of random bytes, per connector and size, next to the raw ' +
    'operation of the same medium on the same bytes (named under each connector). ratio = store median / raw median: what ' +
    'the store adds (key, serialization, bookkeeping) on top of moving the bytes. It should fall towards 1× as the size ' +
    'grows and fixed costs are amortized; a ratio that stays high at the largest sizes points to an extra copy. GB/s is the ' +
    'payload over the median time.',
  proxy:
    'The proxy itself: creating one, reading through it, looping over it, and resolving a proxy of a payload, each next ' +
    'to the same work on the plain value. Nanosecond operations are timed in batches and divided by the batch size. ' +
    'ratio = proxy median / plain median. A large ratio on a nanosecond baseline is expected (a Proxy trap costs tens ' +
    'of nanoseconds where a property load costs one): weigh the absolute cost against the work the value takes part in.',
  'task-rtt':
    'The round trip of a task whose input is a payload of the given size, through a broker to a pool of worker ' +
    'processes and back with its output (as large as the input unless the setup line says otherwise). By value, the ' +
    'payloads travel inside the task and result messages, and the broker ' +
    'refuses messages over its limit, as a serverless task service does; by proxy, the message carries only a proxy and ' +
    'the worker resolves it from the connector. speedup = by-value median / by-proxy median: above 1× passing a proxy is ' +
    'faster. Sizes over the limit cannot be sent by value at all.',
  memory:
    'Peak resident memory (RSS) of the producer and of the consumer when an object of the given size is passed by value ' +
    'and by proxy; "proxy + evict" also evicts the object from the store once it is resolved. ratio = proxy peak / ' +
    'by-value peak: below 1× the proxy saves memory. "store objects left" counts what is still in the store at the ' +
    'end: a proxy without evict leaves its object behind.',
  serialize:
    '@proxystore/serialize next to node:v8 on the same value: serialize, deserialize, the round trip, and the round trip ' +
    'through the contiguous encoding a one-blob connector stores. ratio = ProxyStore median / v8 median. Ratios far ' +
    'below 1× are zero-copy paths (typed arrays go out of band as views), where GB/s is not a bandwidth.',
  'endpoint-qps':
    'The request rate one endpoint sustains, against the number of clients and the payload size, as the reference system ' +
    'evaluates its endpoints (SC23). Each client is its own EndpointConnector (its own gRPC channel) calling one op in a ' +
    'closed loop (one call in flight per client) for a fixed wall time per cell; the clients are spread over two client ' +
    'processes. The same cells run against a raw grpc-js server process (Buffer passthrough, a Map, the same chunk size), ' +
    'interleaved. ops/s is the aggregate over all clients; rate ratio = raw ops/s / endpoint ops/s (1× = as fast as raw ' +
    'grpc-js, higher is slower); p50 and p99 are per call. Then the chunk-size sweep: put and get through one endpoint ' +
    'whose chunk size (endpoint and client) is each candidate, next to the raw grpc-js stream at the same chunk size.',
};

const GENERIC_ABOUT = 'ratio = subject median / baseline median.';

/** The cases of the ops rows in the order put, get, exists, evict, then any others in row order. */
function opOrder(rows: readonly RowJson[]): string[] {
  const present = unique(rows.map((r) => r.case));
  return [...OPS_ORDER.filter((op) => present.includes(op)), ...present.filter((op) => !OPS_ORDER.includes(op))];
}

/** The label of the baseline an ops row compares with, where its connector has several (params.baseline). */
export function baselineLabel(r: RowJson): string | undefined {
  const label = r.params?.['baseline'];
  return typeof label === 'string' ? label : undefined;
}

function opsSection(rows: readonly RowJson[]): string[] {
  const out: string[] = [];
  for (const connector of unique(rows.map((r) => r.connector ?? ''))) {
    const mine = rows.filter((r) => (r.connector ?? '') === connector);
    const ops = opOrder(mine);
    const sizes = unique(mine.map((r) => r.bytes ?? -1)).sort((a, b) => a - b);
    // One baseline (undefined label) for most connectors; endpoints have several, a row each.
    const labels = unique(mine.map(baselineLabel));
    const several = labels.length > 1 || labels[0] !== undefined;
    const find = (op: string, bytes: number, label: string | undefined): RowJson | undefined =>
      mine.find((row) => row.case === op && (row.bytes ?? -1) === bytes && baselineLabel(row) === label);
    out.push(`### ${connector === '' ? 'no connector' : connector}`, '');
    for (const op of ops) {
      const first = mine.find((row) => row.case === op);
      if (first === undefined) continue;
      const against = labels.map((label) => {
        const r = mine.find((row) => row.case === op && baselineLabel(row) === label);
        const name = r?.baseline === undefined ? 'no baseline' : code(r.baseline.name);
        return several ? `${label ?? 'raw'}: ${name}` : name;
      });
      out.push(`- ${op}: ${code(first.subject.name)} vs ${against.join('; ')}`);
    }
    out.push('');
    const header = [
      'size',
      ...ops.flatMap((op) => [`${op} median`, ...labels.map((label) => (several ? `${op} ratio (${label ?? 'raw'})` : `${op} ratio`))]),
    ];
    const body = sizes.map((bytes) => [
      bytes < 0 ? NONE : formatSize(bytes),
      ...ops.flatMap((op) => {
        const first = labels.map((label) => find(op, bytes, label)).find((r) => r !== undefined);
        return [median(first?.subject), ...labels.map((label) => formatRatio(find(op, bytes, label)?.ratio ?? null))];
      }),
    ]);
    out.push(...table(header, body), '');
    // Every figure, long form, folded: the wide table above is what most readers need.
    const full = sizes.flatMap((bytes) =>
      ops.flatMap((op) =>
        mine
          .filter((row) => row.case === op && (row.bytes ?? -1) === bytes)
          .map((r) => [
            sizeOf(r),
            op,
            ...(several ? [baselineLabel(r) ?? 'raw'] : []),
            median(r.subject),
            formatValue(r.subject.p99, r.subject.unit),
            formatRate(r.subject.gbPerSec) || NONE,
            median(r.baseline),
            formatRate(r.baseline?.gbPerSec) || NONE,
            formatRatio(r.ratio),
            formatRatio(r.ratioP99),
          ]),
      ),
    );
    out.push(
      '<details>',
      `<summary>${connector}: every figure (p99, GB/s)</summary>`,
      '',
      ...table(['size', 'op', ...(several ? ['baseline'] : []), 'median', 'p99', 'GB/s', 'raw median', 'raw GB/s', 'ratio', 'p99 ratio'], full),
      '',
      '</details>',
      '',
    );
    out.push(...bandwidthSection(connector, mine));
  }
  return out;
}

/**
 * Rows that carry params.bandwidthRatio (the UCX connectors: a subject and several baselines, one of them
 * an external tool): bandwidth side by side per size and op, and subject GB/s ÷ each baseline's GB/s.
 */
function bandwidthSection(connector: string, rows: readonly RowJson[]): string[] {
  const withRatio = rows.filter((r) => param(r, 'bandwidthRatio') !== undefined);
  if (withRatio.length === 0) return [];
  const labels = unique(withRatio.map((r) => baselineLabel(r) ?? 'raw'));
  const tls = unique(withRatio.map((r) => r.params?.['tls']).filter((t): t is string => typeof t === 'string'));
  const first = withRatio[0] as RowJson;
  const rounds = param(first, 'rounds');
  const polls = unique(withRatio.map((r) => param(r, 'pollUs')).filter((p): p is number => p !== undefined && p > 0));
  // The owner's own window (PROXYSTORE_BENCH_DAEMON_POLL_US), where it differs from the client's.
  const daemonPolls = unique(
    withRatio
      .filter((r) => param(r, 'daemonPollUs') !== undefined && param(r, 'daemonPollUs') !== (param(r, 'pollUs') ?? 0))
      .map((r) => param(r, 'daemonPollUs') as number),
  );
  const body = unique(withRatio.map((r) => r.bytes ?? -1))
    .sort((a, b) => a - b)
    .flatMap((bytes) =>
      opOrder(withRatio).flatMap((op) => {
        const at = withRatio.filter((r) => r.case === op && (r.bytes ?? -1) === bytes);
        const r0 = at[0];
        if (r0 === undefined) return [];
        const of = (label: string): RowJson | undefined => at.find((r) => (baselineLabel(r) ?? 'raw') === label);
        return [
          [
            bytes < 0 ? NONE : formatSize(bytes),
            op,
            formatRate(r0.subject.gbPerSec) || NONE,
            ...labels.map((label) => formatRate(of(label)?.baseline?.gbPerSec) || NONE),
            ...labels.map((label) => {
              const r = of(label);
              return formatRatio(r === undefined ? null : (param(r, 'bandwidthRatio') ?? null));
            }),
          ],
        ];
      }),
    );
  return [
    `**${connector}: bandwidth** (UCX_TLS=${tls.join(', ') || '?'}${polls.length === 0 ? '' : `; PROXYSTORE_UCX_POLL_US=${polls.join(', ')}: the store's processes poll that long after each message`}${daemonPolls.length === 0 ? '' : `; PROXYSTORE_BENCH_DAEMON_POLL_US=${daemonPolls.join(', ')}: the owner (the daemon) polls that long after each message${polls.length === 0 ? ', the client not at all' : ''}`}${rounds === undefined ? '' : `; ${rounds} interleaved rounds per figure, each the mean of a batch of calls`}). ` +
      'GB/s at the median round; `÷ X` = subject GB/s ÷ X GB/s (1× = as fast as X, above 1× faster).',
    '',
    ...table(['size', 'op', 'GB/s', ...labels.map((l) => `${l} GB/s`), ...labels.map((l) => `÷ ${l}`)], body),
    '',
  ];
}

/** case | subject | median | baseline | median | ratio, with connector and size columns where rows have them. */
function comparisonTable(rows: readonly RowJson[]): string[] {
  const withConnector = rows.some((r) => r.connector !== undefined);
  const withSize = rows.some((r) => r.bytes !== undefined);
  const header = [
    'case',
    ...(withConnector ? ['connector'] : []),
    ...(withSize ? ['size'] : []),
    'subject',
    'median',
    'baseline',
    'median',
    'ratio',
  ];
  const body = rows.map((r) => [
    r.case,
    ...(withConnector ? [r.connector ?? NONE] : []),
    ...(withSize ? [sizeOf(r)] : []),
    code(r.subject.name),
    median(r.subject),
    r.baseline === undefined ? (r.impossible === undefined ? NONE : 'impossible') : code(r.baseline.name),
    median(r.baseline),
    formatRatio(r.ratio),
  ]);
  return [...table(header, body), ''];
}

function brokerLimitOf(report: ReportJson, rows: readonly RowJson[]): number {
  for (const r of rows) {
    const limit = r.params?.['brokerLimit'];
    if (typeof limit === 'number' && limit > 0) return limit;
  }
  return report.config.brokerLimit;
}

function taskRttSection(report: ReportJson, rows: readonly RowJson[]): string[] {
  const limit = brokerLimitOf(report, rows);
  const connectors = unique(rows.map((r) => r.connector ?? r.subject.name));
  const sizes = unique(rows.map((r) => r.bytes ?? -1)).sort((a, b) => a - b);
  const first = rows[0]?.params;
  const setup = defined([
    rows.every((r) => r.params?.['outputBytes'] === r.params?.['inputBytes'])
      ? 'output as large as the input'
      : typeof first?.['outputBytes'] === 'number' && rows.every((r) => r.params?.['outputBytes'] === first['outputBytes'])
        ? `output ${formatSize(first['outputBytes'])}`
        : 'outputs per row in results.json',
    typeof first?.['workers'] === 'number' ? `${first['workers']} workers` : undefined,
    `broker limit ${formatSize(limit)}`,
  ]);
  const header = ['size', 'by value', ...connectors.map((c) => `by proxy (${c})`), ...connectors.map((c) => `speedup (${c})`)];
  const body = sizes.map((bytes) => {
    const atSize = rows.filter((r) => (r.bytes ?? -1) === bytes);
    const byValue = atSize.find((r) => r.baseline !== undefined)?.baseline;
    const impossible = atSize.some((r) => r.impossible !== undefined);
    const row = (c: string): RowJson | undefined => atSize.find((r) => (r.connector ?? r.subject.name) === c);
    return [
      bytes < 0 ? NONE : formatSize(bytes),
      byValue !== undefined ? median(byValue) : impossible ? `impossible (exceeds the ${formatSize(limit)} limit)` : NONE,
      ...connectors.map((c) => median(row(c)?.subject)),
      ...connectors.map((c) => {
        const r = row(c);
        if (r?.baseline === undefined || !(r.subject.median > 0)) return NONE;
        return formatRatio(r.baseline.median / r.subject.median);
      }),
    ];
  });
  return [`Setup: ${setup.join(', ')}.`, '', ...table(header, body), ''];
}

/** "1 (64 MiB)": params.storeObjectsLeft, with params.storeBytesLeft where there are bytes left; undefined without them. */
function objectsLeft(r: RowJson): string | undefined {
  const objects = r.params?.['storeObjectsLeft'];
  if (typeof objects !== 'number') return undefined;
  const bytes = r.params?.['storeBytesLeft'];
  return typeof bytes === 'number' && bytes > 0 ? `${objects} (${formatSize(bytes)})` : String(objects);
}

function memorySection(rows: readonly RowJson[]): string[] {
  const withLeft = rows.some((r) => objectsLeft(r) !== undefined);
  const withConnector = rows.some((r) => r.connector !== undefined);
  const sorted = [...rows].sort((a, b) => (a.bytes ?? 0) - (b.bytes ?? 0));
  const header = [
    'size',
    ...(withConnector ? ['connector'] : []),
    'case',
    'variant',
    'by value',
    'proxy',
    'ratio',
    ...(withLeft ? ['store objects left'] : []),
  ];
  const body = sorted.map((r) => {
    const variant = r.params?.['variant'];
    return [
      sizeOf(r),
      ...(withConnector ? [r.connector ?? NONE] : []),
      r.case,
      typeof variant === 'string' ? variant : r.subject.name,
      median(r.baseline),
      median(r.subject),
      formatRatio(r.ratio),
      ...(withLeft ? [objectsLeft(r) ?? NONE] : []),
    ];
  });
  return [...table(header, body), ''];
}

function param(r: RowJson, name: string): number | undefined {
  const v = r.params?.[name];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** 12 345 ops/s, 1.23 ops/s: whole numbers from 100 up. */
export function formatOpsRate(rate: number | undefined): string {
  if (rate === undefined) return NONE;
  return rate >= 100 ? Math.round(rate).toLocaleString('en-US') : rate.toPrecision(3);
}

function qpsSection(report: ReportJson, rows: readonly RowJson[]): string[] {
  const out: string[] = [];
  const cells = rows.filter((r) => param(r, 'clients') !== undefined);
  const first = cells[0];
  if (first !== undefined) {
    const processes = param(first, 'clientProcesses');
    const cellMs = param(first, 'cellMs');
    out.push(
      `Setup: ${processes ?? '?'} client processes, ${cellMs === undefined ? '' : `${formatValue(cellMs, 'ms')} per cell, `}` +
        `on ${report.machine.cpus} cores shared by the endpoint (or the raw server) and the client processes: ` +
        'with more clients than cores, the rate measures how the server and clients share the CPU as much as the transport.',
      '',
    );
  }
  for (const op of opOrder(cells)) {
    const mine = cells
      .filter((r) => r.case === op)
      .sort((a, b) => (a.bytes ?? 0) - (b.bytes ?? 0) || (param(a, 'clients') ?? 0) - (param(b, 'clients') ?? 0));
    const moves = mine.some((r) => param(r, 'aggregateGBps') !== undefined);
    out.push(`### ${op.toUpperCase()}`, '');
    const r0 = mine[0];
    if (r0 !== undefined) out.push(`${code(r0.subject.name)} vs ${r0.baseline === undefined ? 'no baseline' : code(r0.baseline.name)}`, '');
    const header = [
      'size',
      'clients',
      'ops/s',
      'raw ops/s',
      'rate ratio',
      ...(moves ? ['GB/s', 'raw GB/s'] : []),
      'p50',
      'p99',
      'raw p50',
      'raw p99',
    ];
    const body = mine.map((r) => [
      sizeOf(r),
      String(param(r, 'clients') ?? NONE),
      formatOpsRate(param(r, 'opsPerSec')),
      formatOpsRate(param(r, 'baselineOpsPerSec')),
      formatRatio(param(r, 'rateRatio') ?? null),
      ...(moves ? [formatRate(param(r, 'aggregateGBps')) || NONE, formatRate(param(r, 'baselineAggregateGBps')) || NONE] : []),
      median(r.subject),
      formatValue(r.subject.p99, r.subject.unit),
      median(r.baseline),
      r.baseline === undefined ? NONE : formatValue(r.baseline.p99, r.baseline.unit),
    ]);
    out.push(...table(header, body), '');
  }
  out.push(...chunkSweepSection(rows));
  return out;
}

/**
 * The chunk-size sweep: per payload, put and get bandwidth at each chunk size, the best marked; the line
 * under it names the chunk size with the most put + get bandwidth at each payload size.
 */
function chunkSweepSection(rows: readonly RowJson[]): string[] {
  const sweep = rows.filter((r) => param(r, 'chunkSize') !== undefined);
  if (sweep.length === 0) return [];
  const sizes = unique(sweep.map((r) => r.bytes ?? -1)).sort((a, b) => a - b);
  const chunks = unique(sweep.map((r) => param(r, 'chunkSize') as number)).sort((a, b) => a - b);
  const at = (op: string, bytes: number, chunk: number): RowJson | undefined =>
    sweep.find((r) => r.case === `chunk ${op}` && (r.bytes ?? -1) === bytes && param(r, 'chunkSize') === chunk);
  // Per payload, the chunk size whose put + get take the least time at the median (the most bandwidth both ways).
  const best = new Map<number, number>();
  for (const bytes of sizes) {
    let bestChunk: number | undefined;
    let bestTime = Number.POSITIVE_INFINITY;
    for (const chunk of chunks) {
      const put = at('put', bytes, chunk)?.subject.median;
      const get = at('get', bytes, chunk)?.subject.median;
      if (put === undefined || get === undefined) continue;
      if (put + get < bestTime) {
        bestTime = put + get;
        bestChunk = chunk;
      }
    }
    if (bestChunk !== undefined) best.set(bytes, bestChunk);
  }
  const bold = (text: string, yes: boolean): string => (yes ? `**${text}**` : text);
  const body = sizes.flatMap((bytes) =>
    chunks.map((chunk) => {
      const put = at('put', bytes, chunk);
      const get = at('get', bytes, chunk);
      const mark = best.get(bytes) === chunk;
      return [
        formatSize(bytes),
        bold(formatSize(chunk), mark),
        bold(formatRate(put?.subject.gbPerSec) || NONE, mark),
        bold(formatRate(get?.subject.gbPerSec) || NONE, mark),
        median(put?.subject),
        median(get?.subject),
        formatRate(put?.baseline?.gbPerSec) || NONE,
        formatRate(get?.baseline?.gbPerSec) || NONE,
        formatRatio(put?.ratio ?? null),
        formatRatio(get?.ratio ?? null),
      ];
    }),
  );
  const verdict = sizes
    .filter((bytes) => best.has(bytes))
    .map((bytes) => `${formatSize(best.get(bytes) as number)} at ${formatSize(bytes)}`);
  return [
    '### Chunk size',
    '',
    'Put and get through one endpoint (`store.put` / `store.get`, one client) with the endpoint and the client set to ' +
      'each chunk size, next to the raw grpc-js stream at the same chunk size. GB/s at the median; **bold**: the chunk ' +
      'size with the least put + get time at that payload size.',
    '',
    ...table(
      ['size', 'chunk', 'put GB/s', 'get GB/s', 'put median', 'get median', 'raw put GB/s', 'raw get GB/s', 'put ratio', 'get ratio'],
      body,
    ),
    '',
    `Fastest chunk size (put + get): ${verdict.join('; ')}.`,
    '',
  ];
}

function suiteSection(report: ReportJson, suite: string, plots: readonly Plot[], imageDir: string): string[] {
  const rows = report.rows.filter((r) => r.suite === suite);
  const out = [`## ${suite}`, '', ABOUT[suite] ?? GENERIC_ABOUT, ''];
  if (suite === 'ops') out.push(...opsSection(rows));
  else if (suite === 'task-rtt') out.push(...taskRttSection(report, rows));
  else if (suite === 'memory') out.push(...memorySection(rows));
  else if (suite === 'endpoint-qps') out.push(...qpsSection(report, rows));
  else out.push(...comparisonTable(rows));
  for (const plot of plots) out.push(imageLink(plot, imageDir), '');
  return out;
}

// ---------------------------------------------------------------------------------------------------

/** The whole report.md: header, machine, configuration, one section per suite, skipped, notes. */
export function markdownReport(report: ReportJson, options: MarkdownOptions): string {
  const present = unique(report.rows.map((r) => r.suite));
  const suites = [...SUITE_NAMES.filter((s) => present.includes(s)), ...present.filter((s) => !(SUITE_NAMES as readonly string[]).includes(s))];
  const out = headerLines(report);
  const placed = new Set<Plot>();
  for (const suite of suites) {
    const plots = options.plots.filter((p) => p.suite === suite);
    for (const p of plots) placed.add(p);
    out.push('', ...suiteSection(report, suite, plots, options.imageDir));
  }
  const rest = options.plots.filter((p) => !placed.has(p));
  if (rest.length > 0) out.push('', '## Plots', '', ...rest.flatMap((p) => [imageLink(p, options.imageDir), '']));
  if (report.skipped.length > 0) {
    out.push(
      '',
      '## Skipped',
      '',
      ...report.skipped.map((s) => `- ${s.suite}${s.connector === undefined ? '' : ` (${s.connector})`}: ${s.reason}`),
    );
  }
  // One line per distinct text, naming the connectors it came from (an impossible size repeats per connector).
  const notes = new Map<string, { head: string; text: string; connectors: string[] }>();
  for (const r of report.rows) {
    for (const text of defined([r.note, r.impossible])) {
      const head = `${r.suite} › ${r.case}`;
      const key = `${head}\u0000${text}`;
      const note = notes.get(key) ?? { head, text, connectors: [] };
      if (r.connector !== undefined && !note.connectors.includes(r.connector)) note.connectors.push(r.connector);
      notes.set(key, note);
    }
  }
  if (notes.size > 0) {
    out.push(
      '',
      '## Notes',
      '',
      ...[...notes.values()].map((n) => `- ${n.head}${n.connectors.length === 0 ? '' : ` (${list(n.connectors)})`}: ${n.text}`),
    );
  }
  return `${out.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}
