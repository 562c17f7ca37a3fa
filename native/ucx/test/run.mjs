// Test driver: for each transport, runs a server and a client process over UCX on loopback, relays the
// server's address to the client, kills the server when the client asks, and prints the results.
// Per transport also the poll window (poll.mjs); then the same-host read cases (shm.mjs), scheduling
// policies (sched.mjs) and worker threads. Usage: node test/run.mjs [tcp|sm ...]
import { fork, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = (f) => fileURLToPath(new URL(f, import.meta.url));
const transports = {
  tcp: { UCX_TLS: 'tcp' },
  sm: { UCX_TLS: 'sm,self', UCX_TEST_SHM: '1' },
};
const chosen = process.argv.length > 2 ? process.argv.slice(2) : Object.keys(transports);
let passed = 0;
let failed = 0;
const record = (name, ok, detail) => {
  ok ? passed++ : failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` — ${detail}` : ''}`);
};

async function runTransport(tls) {
  const env = { ...process.env, ...transports[tls], UCX_WARN_UNUSED_ENV_VARS: 'n' };
  const server = fork(here('./server.mjs'), { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const serverExit = new Promise((resolve) => server.once('exit', (code, signal) => resolve({ code, signal })));
  const ready = await new Promise((resolve, reject) => {
    server.once('message', resolve);
    server.once('exit', () => reject(new Error('server exited before it was ready')));
  });
  // A second server, stopped and killed on the client's request by the getSync cases.
  const victim = fork(here('./server.mjs'), { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const victimReady = await new Promise((resolve, reject) => {
    victim.once('message', resolve);
    victim.once('exit', () => reject(new Error('victim exited before it was ready')));
  });
  const client = fork(here('./client.mjs'), {
    env: {
      ...env,
      UCX_TEST_PEER: JSON.stringify({
        port: ready.port,
        address: ready.address,
        victim: { port: victimReady.port, address: victimReady.address },
      }),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const clientExit = new Promise((resolve) => client.once('exit', (code, signal) => resolve({ code, signal })));
  server.on('message', (m) => { if (m.type === 'stalled') client.send(m); });
  let done = false;
  client.on('message', (m) => {
    if (m.type === 'result') record(`[${tls}] ${m.name}`, m.ok, m.detail);
    if (m.type === 'kill-server') server.kill('SIGKILL');
    if (m.type === 'done') done = true;
    if (m.type === 'victim') {
      const signal = { stop: 'SIGSTOP', cont: 'SIGCONT', kill: 'SIGKILL' }[m.action];
      setTimeout(() => {
        victim.kill(signal);
        client.send({ type: 'victim-ok', action: m.action });
      }, m.delayMs ?? 0);
    }
  });
  const guard = setTimeout(() => { client.kill('SIGKILL'); server.kill('SIGKILL'); }, 240000);
  const c = await clientExit;
  clearTimeout(guard);
  record(`[${tls}] client finished and exited cleanly`, done && c.code === 0, JSON.stringify(c));
  if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
  const s = await serverExit;
  record(`[${tls}] server was killed by the test (not crashed)`, s.signal === 'SIGKILL', JSON.stringify(s));
  if (victim.exitCode === null && victim.signalCode === null) victim.kill('SIGKILL');
}

/**
 * Runs a script that prints one JSON line per case ({ name, ok, detail }) and records each under
 * `label`, then whether the script's process exited cleanly (`what`).
 */
function runReporting(label, what, args, env) {
  const r = spawnSync(process.execPath, args, { env, encoding: 'utf8', timeout: 120000 });
  let n = 0;
  for (const line of r.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const m = JSON.parse(line);
    record(`${label} ${m.name}`, m.ok, m.detail);
    n++;
  }
  record(`${label} ${what} process exited cleanly`, r.status === 0 && n > 0,
    `status ${r.status} signal ${r.signal} ${r.stderr.trim().slice(0, 300)}`);
}

function runPool(tls) {
  // Single-process cases; --expose-gc for the case where a dropped buffer returns its block.
  const env = { ...process.env, ...transports[tls], UCX_WARN_UNUSED_ENV_VARS: 'n' };
  runReporting(`[${tls}]`, 'pool/loopback', ['--expose-gc', here('./pool.mjs')], env);
}

async function runExitWithOpenResources(tls) {
  // A server told to exit while its listener and an accepted endpoint are open must exit 0.
  const env = { ...process.env, ...transports[tls], UCX_WARN_UNUSED_ENV_VARS: 'n' };
  const server = fork(here('./server.mjs'), { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exit = new Promise((resolve) => server.once('exit', (code, signal) => resolve({ code, signal })));
  const ready = await new Promise((resolve) => server.once('message', resolve));
  const connect = env.UCX_TEST_SHM
    ? `ucx.connectAddress(Buffer.from('${ready.address}', 'base64'), { timeoutMs: 10000, errorMode: 'none' })`
    : `ucx.connect({ host: '127.0.0.1', port: ${ready.port}, timeoutMs: 10000 })`;
  const probe = spawnSync(process.execPath, ['--input-type=module', '-e', `
    import { ucx } from ${JSON.stringify(here('./common.mjs'))};
    const ep = await ${connect};
    await ep.flush();
    process.exit(0);`], { env, encoding: 'utf8', timeout: 60000 });
  server.send({ type: 'exit' });
  const s = await exit;
  record(`[${tls}] process exit with open listener/endpoints is clean`, probe.status === 0 && s.code === 0,
    `client ${probe.status} ${probe.stderr.trim().slice(0, 300)} server ${JSON.stringify(s)}`);
}

function runShm() {
  // Same-host reads (peerRead) against an owner child: no UCX transport involved, so run once.
  runReporting('[shm]', 'same-host', [here('./shm.mjs')], { ...process.env, UCX_TLS: 'tcp', UCX_WARN_UNUSED_ENV_VARS: 'n' });
}

function runPoll(tls) {
  // The poll window: this process with PROXYSTORE_UCX_POLL_US (50 ms), its echo peer without.
  const env = { ...process.env, ...transports[tls], UCX_WARN_UNUSED_ENV_VARS: 'n', PROXYSTORE_UCX_POLL_US: '50000' };
  runReporting(`[${tls}]`, 'poll-window', [here('./poll.mjs')], env);
}

function runSched() {
  // The calling thread's scheduling policy: no transport involved, so run once.
  runReporting('[sched]', 'scheduling-policy', [here('./sched.mjs')], { ...process.env, UCX_TLS: 'tcp', UCX_WARN_UNUSED_ENV_VARS: 'n' });
}

function runThreads() {
  const r = spawnSync(process.execPath, [here('./thread.mjs')], {
    env: { ...process.env, UCX_TLS: 'tcp', UCX_WARN_UNUSED_ENV_VARS: 'n' }, encoding: 'utf8', timeout: 60000,
  });
  let out;
  try { out = JSON.parse(r.stdout.trim().split('\n').pop()); } catch { out = null; }
  record('worker thread: own UCX worker, AM round trip with the main thread, clean exit of both',
    r.status === 0 && out?.reply?.hello === 'from worker' && out.workerExit === 0,
    `status ${r.status} ${r.stderr.trim().slice(0, 300)}`);
}

function runThreadFirst() {
  // The addon loaded first in worker threads that end on their own: the process exits 0 (Node unloads a
  // thread's addons before its loop closes their handles), and UCX's memory hooks stay out of libc
  // unless the user asks for them (a JS env assignment never reaches a worker's C environment).
  const run = (extra) => {
    const env = { ...process.env, UCX_TLS: 'tcp', UCX_WARN_UNUSED_ENV_VARS: 'n' };
    for (const name of ['UCX_MEM_EVENTS', 'UCX_MEM_MALLOC_HOOKS', 'UCX_MEM_MALLOC_RELOC']) delete env[name];
    const r = spawnSync(process.execPath, [here('./thread-first.mjs')], { env: { ...env, ...extra }, encoding: 'utf8', timeout: 60000 });
    let out;
    try { out = JSON.parse(r.stdout.trim().split('\n').pop()); } catch { out = null; }
    const clean = r.status === 0 && r.signal === null && out?.results?.length === 2 &&
      out.results.every((w) => w.exit === 0 && w.sum === 3 << 20);
    const detail = `status ${r.status} signal ${r.signal} ${r.stdout.trim().slice(0, 200)} ${r.stderr.trim().slice(0, 300)}`;
    return { out, clean, detail };
  };
  const off = run({});
  record('addon first loaded in worker threads that end on their own: clean exit, no UCX memory hooks in libc',
    off.clean && off.out.results.every((w) => w.hooks === false) && off.out.env === 'no', off.detail);
  const on = run({ UCX_MEM_EVENTS: 'yes' });
  record('UCX_MEM_EVENTS=yes set by the user is kept: the hooks are in libc, and the exit is still clean',
    on.clean && on.out.results.every((w) => w.hooks === true), on.detail);
}

for (const tls of chosen) {
  await runTransport(tls);
  await runExitWithOpenResources(tls);
  runPool(tls);
  runPoll(tls);
}
runShm();
runSched();
runThreads();
runThreadFirst();
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
