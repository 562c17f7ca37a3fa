#!/usr/bin/env node
// proxystore-ucx-daemon: a node-local UcxServer in the foreground. Daemon-mode UcxConnectors put into it
// (it pulls their staged blocks by RMA) and consumers read from it by RMA get, so objects outlive the
// processes that made them. Prints exactly one line `ready <json>` on stdout once listening (what scripts
// and tests wait for), logs to stderr, and closes cleanly on SIGTERM or SIGINT.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runDaemon } from '@proxystore/control';
import { ucxStats } from './connector.js';
import { DAEMON_NODE_FLAGS, DAEMON_SCHED_POLICY, SEMI_SPACE_MIB, youngGenerationMiB } from './heap.js';
import { ucx } from './native-loader.js';
import { UcxServer, type UcxServerOptions } from './server.js';

const ENV_POLL_US = 'PROXYSTORE_UCX_POLL_US';
const MAX_POLL_US = 1_000_000;

const USAGE = `Usage: proxystore-ucx-daemon [options]

Runs a node-local ProxyStore UCX daemon until SIGTERM or SIGINT.
  --host <host>               interface of the control plane (default 127.0.0.1)
  --port <port>               its port (default 0: any free port)
  --advertise-address <h:p>   the control address clients dial, when not the bound one
  --token <token>             bearer token required on the control plane and in puts
  --token-file <file>         ... read from a file (preferred: not visible in ps)
  --max-bytes <bytes>         bytes of objects held at once (default: no limit)
  --max-object-size <bytes>   largest object accepted (default: no limit)
  --timeout-ms <ms>           limit of each UCX operation of a put (default 30000)
  --lend-idle-ms <ms>         ask back a block lent to a same-host producer and unused this long
                              (default: env PROXYSTORE_UCX_LEND_IDLE_MS, else 10000)
  --error-mode <peer|none>    how its endpoints notice a dead producer (default from UCX_TLS: none for
                              shared memory or tcp alone, else peer)
  --poll-us <us>              after each message keep polling this long before sleeping, 0 to 1000000
                              (default: env PROXYSTORE_UCX_POLL_US, else 0): a core busy while traffic
                              flows, and no wakeup to pay per message
  --sched <batch|normal>      scheduling policy of its main thread (default batch when started
                              under the normal policy, else the one it was started under: woken by a
                              producer's message, it does not preempt that producer; on nodes whose
                              CPUs are all busy, normal answers remote fetches sooner; docs/ucx.md)
  --id <id>                   server id (default random)

UCX reads its transports from the environment (UCX_TLS, UCX_NET_DEVICES, ...).
`;

class UsageError extends Error {}

function integer(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isSafeInteger(n) || n < 0) throw new UsageError(`${flag} must be a non-negative integer, got '${value}'`);
  return n;
}

/** `sched`: the policy --sched asked for; undefined: the default (DAEMON_SCHED_POLICY over SCHED_OTHER only). */
type DaemonOptions = UcxServerOptions & { sched: 'batch' | 'normal' | undefined };

function optionsFromArgs(argv: string[]): DaemonOptions | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'advertise-address': { type: 'string' },
      token: { type: 'string' },
      'token-file': { type: 'string' },
      'max-bytes': { type: 'string' },
      'max-object-size': { type: 'string' },
      'timeout-ms': { type: 'string' },
      'lend-idle-ms': { type: 'string' },
      'error-mode': { type: 'string' },
      'poll-us': { type: 'string' },
      sched: { type: 'string' },
      id: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) return null;
  const sched = values.sched;
  if (sched !== undefined && sched !== 'batch' && sched !== 'normal') throw new UsageError(`--sched must be 'batch' or 'normal', got '${sched}'`);
  const out: DaemonOptions = { name: `ucx-daemon-${process.pid}`, sched };
  if (values.host !== undefined) out.host = values.host;
  const port = integer(values.port, '--port');
  if (port !== undefined) {
    if (port > 65535) throw new UsageError('--port must be at most 65535');
    out.port = port;
  }
  if (values['advertise-address'] !== undefined) out.advertiseAddress = values['advertise-address'];
  if (values.token !== undefined && values['token-file'] !== undefined) throw new UsageError('give --token or --token-file, not both');
  let token = values.token;
  if (values['token-file'] !== undefined) {
    try {
      token = readFileSync(values['token-file'], 'utf8').trim();
    } catch (err) {
      throw new UsageError(`cannot read --token-file: ${(err as Error).message}`);
    }
  }
  if (token !== undefined) {
    if (!/^[\x21-\x7e]{1,4096}$/.test(token)) throw new UsageError('a token is 1 to 4096 printable ASCII characters');
    out.tokens = [token];
  }
  const maxBytes = integer(values['max-bytes'], '--max-bytes');
  if (maxBytes !== undefined) out.maxBytes = maxBytes;
  const maxObjectSize = integer(values['max-object-size'], '--max-object-size');
  if (maxObjectSize !== undefined) out.maxObjectSize = maxObjectSize;
  const timeoutMs = integer(values['timeout-ms'], '--timeout-ms');
  if (timeoutMs !== undefined) out.timeoutMs = Math.max(1, timeoutMs);
  const lendIdleMs = integer(values['lend-idle-ms'], '--lend-idle-ms');
  if (lendIdleMs !== undefined) {
    if (lendIdleMs === 0) throw new UsageError('--lend-idle-ms must be at least 1');
    out.lendIdleMs = lendIdleMs;
  }
  const mode = values['error-mode'];
  if (mode !== undefined) {
    if (mode !== 'peer' && mode !== 'none') throw new UsageError(`--error-mode must be 'peer' or 'none'`);
    out.errorMode = mode;
  }
  const pollUs = integer(values['poll-us'], '--poll-us');
  if (pollUs !== undefined) {
    if (pollUs > MAX_POLL_US) throw new UsageError(`--poll-us must be at most ${MAX_POLL_US}`);
    // The addon reads it when this thread's UCX worker is made, in UcxServer.start below.
    process.env[ENV_POLL_US] = String(pollUs);
  }
  if (values.id !== undefined) out.id = values.id;
  return out;
}

// Started as `node dist/main.js` rather than through bin/proxystore-ucx-daemon: V8's defaults can make it
// run a full collection per put (heap.ts). It works; it says how to avoid that.
const youngMiB = youngGenerationMiB();
if (youngMiB < SEMI_SPACE_MIB) {
  process.stderr.write(
    `proxystore-ucx-daemon: V8's young generation is ${youngMiB} MiB; start it as proxystore-ucx-daemon ` +
      `(or node ${DAEMON_NODE_FLAGS.join(' ')}) so that large puts do not each end in a full garbage collection\n`,
  );
}

await runDaemon({
  name: 'proxystore-ucx-daemon',
  usage: USAGE,
  parse: optionsFromArgs,
  start: async ({ sched, ...options }: DaemonOptions) => {
    // This thread runs the event loop and the UCX worker: the one a producer's message wakes. By default
    // only SCHED_OTHER becomes SCHED_BATCH: a daemon started under another policy (chrt) keeps it. A
    // kernel that refuses (a seccomp filter) costs speed, not service: say so and run under the policy it has.
    const native = ucx();
    const want = sched ?? (native.threadSchedPolicy() === 'normal' ? DAEMON_SCHED_POLICY : undefined);
    if (want !== undefined) {
      try {
        native.setThreadSchedPolicy(want);
      } catch (err) {
        process.stderr.write(`proxystore-ucx-daemon: cannot set scheduling policy '${want}' (${(err as Error).message}); running under '${native.threadSchedPolicy()}'\n`);
      }
    }
    return UcxServer.start(options);
  },
  ready: (server) => ({
    log: `server ${server.id} listening on ${server.address} (errorMode ${server.errorMode}, UCX_TLS=${process.env.UCX_TLS ?? '(unset)'}, sched ${ucx().threadSchedPolicy()})`,
    fields: {
      id: server.id,
      address: server.address,
      workerAddress: Buffer.from(server.workerAddress).toString('base64'),
      errorMode: server.errorMode,
      pollUs: ucxStats().pollUs,
      schedPolicy: ucx().threadSchedPolicy(),
      youngGenerationMiB: youngMiB,
    },
  }),
});
