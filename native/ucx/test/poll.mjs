// The poll window (PROXYSTORE_UCX_POLL_US): after activity the worker keeps polling instead of arming its
// event fd, for that long, then sleeps again. Run by the driver with the variable set for this process;
// an echo peer (a child without it) answers active messages. Prints one JSON line per result.
import { fork, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { assert, caseRunner, printReport, ucx } from './common.mjs';

const ECHO = 21;
const ECHO_REPLY = 22;
const WINDOW_US = Number(process.env.PROXYSTORE_UCX_POLL_US);
const test = caseRunner(printReport);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

if (process.argv[2] === 'peer') {
  ucx.setAmHandler(ECHO, (header, _data, info) => {
    info.endpoint.amSend(ECHO_REPLY, new Uint8Array(header), new Uint8Array(0)).catch(() => {});
  });
  process.send({ address: Buffer.from(ucx.workerAddress()).toString('base64'), stats: ucx.stats() });
  process.on('message', () => process.send({ stats: ucx.stats() }));
} else {
  const { PROXYSTORE_UCX_POLL_US: _, ...peerEnv } = process.env;
  const peer = fork(fileURLToPath(import.meta.url), ['peer'], { env: peerEnv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const hello = await new Promise((resolve) => peer.once('message', resolve));
  const ep = await ucx.connectAddress(Buffer.from(hello.address, 'base64'), { errorMode: 'none', timeoutMs: 10000 });
  let answered;
  ucx.setAmHandler(ECHO_REPLY, () => answered?.());
  const roundTrips = async (n) => {
    for (let i = 0; i < n; i++) {
      const reply = new Promise((resolve) => (answered = resolve));
      await ep.amSend(ECHO, new Uint8Array([i & 255]), new Uint8Array(0), { timeoutMs: 10000 });
      await reply;
    }
  };

  await test('the poll window is read from PROXYSTORE_UCX_POLL_US (a peer without it has none)', () => {
    assert(WINDOW_US > 0, 'the driver sets PROXYSTORE_UCX_POLL_US');
    assert(ucx.stats().pollUs === WINDOW_US, `pollUs ${ucx.stats().pollUs}`);
    assert(hello.stats.pollUs === 0, `the peer's pollUs ${hello.stats.pollUs}`);
    return `${WINDOW_US} us`;
  });

  await test('after messages the worker polls through the window, and the peer (no window) never does', async () => {
    const before = ucx.stats();
    await roundTrips(20);
    await sleep(WINDOW_US / 2000);
    const after = ucx.stats();
    const peerStats = await new Promise((resolve) => { peer.once('message', (m) => resolve(m.stats)); peer.send('stats'); });
    assert(after.polls > before.polls, `polls ${before.polls} -> ${after.polls}`);
    assert(peerStats.polls === 0, `the peer polled ${peerStats.polls} times`);
    return `${after.polls - before.polls} polling turns for 20 round trips`;
  });

  await test('past the window the worker sleeps: no polling turns and almost no CPU while idle', async () => {
    await roundTrips(5);
    await sleep(WINDOW_US / 1000 + 100);
    const polls = ucx.stats().polls;
    const cpu = process.cpuUsage();
    await sleep(300);
    const used = process.cpuUsage(cpu);
    const ms = (used.user + used.system) / 1000;
    assert(ucx.stats().polls === polls, `${ucx.stats().polls - polls} polling turns while idle`);
    // Polling would take the whole 300 ms of a core; sleeping takes next to nothing.
    assert(ms < 100, `${ms.toFixed(1)} ms of CPU in 300 ms idle`);
    return `${ms.toFixed(1)} ms of CPU in 300 ms idle`;
  });

  await test('inside the window the event loop keeps running timers and answers', async () => {
    await roundTrips(1);
    const t0 = Date.now();
    await sleep(5);
    await roundTrips(3);
    return `timer after ${Date.now() - t0} ms`;
  });

  await test('a bad PROXYSTORE_UCX_POLL_US fails the first UCX call with UCX_ERROR naming it', () => {
    const out = [];
    for (const value of ['abc', '-5', '2000000', '10us']) {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', `
        import { ucx } from ${JSON.stringify(fileURLToPath(new URL('./common.mjs', import.meta.url)))};
        try { ucx.workerAddress(); console.log('no error'); } catch (e) { console.log(e.code + ' ' + e.message); }`], {
        env: { ...process.env, PROXYSTORE_UCX_POLL_US: value }, encoding: 'utf8', timeout: 30000,
      });
      const line = r.stdout.trim();
      assert(line.startsWith('UCX_ERROR ') && line.includes('PROXYSTORE_UCX_POLL_US') && line.includes(`'${value}'`), `${value}: ${line} ${r.stderr}`);
      out.push(value);
    }
    return `refused: ${out.join(', ')}`;
  });

  await ep.close({ force: true });
  peer.kill('SIGKILL');
}
