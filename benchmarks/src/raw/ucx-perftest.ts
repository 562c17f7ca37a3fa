// The raw baseline of the UCX rows: UCX's own benchmark tool, `ucx_perftest` (Debian/Ubuntu package
// ucx-utils), run as a server and a client process on loopback with the transport pinned by UCX_TLS.
// Its loop is C with busy polling on both sides by default: the best one transfer at a time can do on
// this transport. `wait: 'sleep'` (-E sleep) makes it wait on its worker's event fd between events instead,
// as the addon does: the same transfer paced by wakeups.
//
// Command lines (one pair per measurement; the server serves one client and exits):
//   server: UCX_TLS=<tls> ucx_perftest -p <port>
//   client: UCX_TLS=<tls> ucx_perftest 127.0.0.1 -p <port> -t <test> -s <bytes> -n <iters> -w <warmup> -O 1 -m host [-E sleep] -f -v
// -O 1 keeps one operation in flight, as a connector's get or put does; -f -v prints one CSV line of
// final numbers. ucx_perftest's "MB/s" are MiB/s (2^20 bytes per second): 4 MiB in 2759.657 µs is printed
// as 1449.46. Its latency column is the time per operation (for the bandwidth tests, "overhead": the
// inverse of the message rate); overall_* are over the whole measured phase, warm-up excluded.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';

/** The tests this benchmark runs: RMA get latency/bandwidth, and active-message bandwidth. */
export type PerftestTest = 'ucp_get' | 'ucp_am_bw';

/** How ucx_perftest waits for completions: busy polling (its default), or on the event fd (`-E sleep`). */
export type PerftestWait = 'poll' | 'sleep';

export interface PerftestResult {
  iterations: number;
  /** Microseconds per operation: the median of the measured phase (50.0%ile) and the overall mean. */
  p50Us: number;
  overallUs: number;
  /** Bytes per second over the measured phase (ucx_perftest's overall MB/s × 2^20). */
  bytesPerSec: number;
  /** Operations per second over the measured phase. */
  opsPerSec: number;
}

export const PERFTEST_BIN = 'ucx_perftest';

/** The install hint used where ucx_perftest is missing. */
export const PERFTEST_INSTALL =
  'ucx_perftest not found on PATH: install UCX\'s tools (Debian/Ubuntu: `apt-get install ucx-utils`; `npm run bench` does it through the bootstrap when run as root)';

/** The absolute path of an executable on PATH, or null. */
export function which(name: string, path = process.env['PATH'] ?? ''): string | null {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** null when ucx_perftest can run here, else what to install. */
export function perftestUnavailable(): string | null {
  const bin = which(PERFTEST_BIN);
  if (bin === null) return PERFTEST_INSTALL;
  const probe = spawnSync(bin, ['-h'], { encoding: 'utf8', timeout: 10_000 });
  const text = `${probe.stdout ?? ''}${probe.stderr ?? ''}`;
  if (!text.includes('ucp_get') || !text.includes('ucp_am_bw')) {
    return `${bin} does not offer the ucp_get and ucp_am_bw tests (UCX 1.13 or later has them): install ucx-utils of that UCX`;
  }
  return null;
}

function numberOf(text: string | undefined, what: string): number {
  const value = Number((text ?? '').trim().replace(/,/g, ''));
  if (text === undefined || !Number.isFinite(value)) throw new Error(`ucx_perftest output: ${what} is not a number (${JSON.stringify(text)})`);
  return value;
}

/** The UCX error lines of an output, for a failure's message. */
function errorLines(text: string): string {
  const lines = text.split('\n').filter((l) => /ERROR|error|failed/.test(l));
  return (lines.length > 0 ? lines : text.split('\n').filter((l) => l.trim() !== '').slice(-3))
    .map((l) => l.replace(/^\[[\d.]+\]\s*\[[^\]]*\]\s*/, '').trim())
    .join('; ');
}

/**
 * The final numbers of a client's output: the CSV of `-v` (header `iterations,50.0_percentile_lat,…`
 * then the numbers), or the table without `-v` (the last line of eight numbers, with or without the
 * `Final:` label). Throws with UCX's error lines when there are none.
 */
export function parsePerftestOutput(text: string): PerftestResult {
  const lines = text.split(/\r?\n/);
  const header = lines.findIndex((l) => /^\s*iterations,/.test(l));
  let fields: string[] | undefined;
  if (header >= 0) {
    const names = (lines[header] as string).trim().split(',');
    const data = lines.slice(header + 1).find((l) => /^\s*\d+(\.\d+)?\s*(,\s*-?[\d.]+\s*){4,}$/.test(l));
    if (data !== undefined) {
      const values = data.trim().split(',');
      const at = (test: (name: string) => boolean): string => values[names.findIndex(test)] ?? '';
      fields = [
        at((n) => n === 'iterations'),
        at((n) => n.endsWith('percentile_lat')),
        at((n) => n === 'overall_lat'),
        at((n) => n === 'overall_bw'),
        at((n) => n === 'overall_mr'),
      ];
    }
  } else {
    // Table: "Final:   200   355.496   366.191   366.191   10923.27   10923.27   2731   2731" (-f drops the label).
    const rows = lines.map((l) => l.replace(/^\s*Final:/, '').trim().split(/\s+/)).filter((cells) => cells.length === 8 && cells.every((c) => /^-?[\d.]+$/.test(c)));
    const last = rows[rows.length - 1];
    if (last !== undefined) fields = [last[0], last[1], last[3], last[5], last[7]] as string[];
  }
  if (fields === undefined) throw new Error(`ucx_perftest printed no results: ${errorLines(text) || '(no output)'}`);
  const [iterations, p50, overall, bw, mr] = fields;
  return {
    iterations: numberOf(iterations, 'iterations'),
    p50Us: numberOf(p50, 'the 50.0%ile latency'),
    overallUs: numberOf(overall, 'the overall latency'),
    bytesPerSec: numberOf(bw, 'the overall bandwidth') * 1024 * 1024,
    opsPerSec: numberOf(mr, 'the overall message rate'),
  };
}

/** A TCP port nobody listens on right now (bound to 0 and closed; another process may take it, hence the retries). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

interface Exited {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

function run(bin: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): { done: Promise<Exited>; kill(): void } {
  const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<Exited>((resolve) => {
    child.on('error', (err) => {
      output += `\n${err.message}`;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
  return {
    done,
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

export interface PerftestOptions {
  test: PerftestTest;
  bytes: number;
  iterations: number;
  warmup: number;
  /** UCX_TLS of both processes: 'tcp', 'sm,self'. */
  tls: string;
  /** Default 'poll'. The server takes it from the client, with the test's other parameters. */
  wait?: PerftestWait;
  /** Other environment variables for both processes. */
  env?: NodeJS.ProcessEnv;
  /** Kills both processes after this long; default 120 s. */
  timeoutMs?: number;
  bin?: string;
}

/** The client's arguments for one measurement (exported for the tests and the report's description). */
export function clientArgs(options: Pick<PerftestOptions, 'test' | 'bytes' | 'iterations' | 'warmup' | 'wait'>, port: number): string[] {
  return [
    '127.0.0.1',
    '-p',
    String(port),
    '-t',
    options.test,
    '-s',
    String(options.bytes),
    '-n',
    String(options.iterations),
    '-w',
    String(options.warmup),
    '-O',
    '1',
    '-m',
    'host',
    ...(options.wait === 'sleep' ? ['-E', 'sleep'] : []),
    '-f',
    '-v',
  ];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * One measurement: a server on a free loopback port, then the client, both with UCX_TLS=`tls`. The
 * server's readiness is not visible (its stdout is block-buffered into the pipe), so a client refused
 * because the server is not listening yet is started again, for up to 10 s.
 */
export async function runPerftest(options: PerftestOptions): Promise<PerftestResult> {
  const bin = options.bin ?? which(PERFTEST_BIN) ?? PERFTEST_BIN;
  const env = { ...process.env, ...options.env, UCX_TLS: options.tls };
  const timeoutMs = options.timeoutMs ?? 120_000;
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const server = run(bin, ['-p', String(port)], env, timeoutMs);
    let serverExited: Exited | undefined;
    void server.done.then((exited) => (serverExited = exited));
    let exitedEarly = false;
    try {
      const started = performance.now();
      for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
        const client = await run(bin, clientArgs(options, port), env, timeoutMs).done;
        if (client.code === 0) return parsePerftestOutput(client.output);
        const refused = /Connection refused/.test(client.output);
        if (!refused || serverExited !== undefined || performance.now() - started > 10_000) {
          exitedEarly = serverExited !== undefined;
          const why = serverExited === undefined ? errorLines(client.output) : `the server exited: ${errorLines(serverExited.output)}`;
          lastError = new Error(
            `ucx_perftest ${options.test}${options.wait === 'sleep' ? ' -E sleep' : ''} ${options.bytes} B (UCX_TLS=${options.tls}) failed (${client.signal ?? `exit ${client.code}`}): ${why || '(no output)'}`,
          );
          break;
        }
        await sleep(wait);
      }
    } finally {
      server.kill();
      await server.done;
    }
    // A port taken between freePort and the server's bind: the server exits at once; try another port.
    if (!exitedEarly) throw lastError;
  }
  throw lastError ?? new Error('ucx_perftest failed');
}
