// `npm run demo` is half of the README's promise: run it, small, and check what it reports.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ucxAvailability } from '@proxystore/ucx';
import { expect, it } from 'vitest';

const run = promisify(execFile);
const main = fileURLToPath(new URL('./main.mjs', import.meta.url));

const ucx = ucxAvailability();

it('passes data by reference to every consumer: file store, two endpoints, and UCX where present', async () => {
  const { stdout } = await run(process.execPath, [main, '--consumers', '2', '--elements', '200000'], {
    timeout: 120_000,
  });
  const acts = stdout.split(/(?=ProxyStore demo: )/).filter((a) => a.startsWith('ProxyStore demo: '));
  expect(acts).toHaveLength(ucx.available ? 3 : 2);
  expect(acts[0]).toContain('ProxyStore demo: 2 consumers, file store at');
  expect(acts[1]).toMatch(/ProxyStore demo: 2 consumers, producer at endpoint site-a \(127\.0\.0\.1:\d+\), consumers at site-b/);
  const paths = ['file store, read by consumers', 'site-a -> site-b -> consumers, gRPC streams'];
  if (ucx.available) {
    expect(acts[2]).toMatch(/ProxyStore demo: 2 consumers, UCX \d+\.\d+/);
    paths.push('UCX RMA get from the producer');
  } else {
    expect(stdout).toContain(`UCX act skipped: ${ucx.reason}`);
  }
  acts.forEach((act, i) => {
    const rows = act.split('\n').filter((line) => /^│ \d+ /.test(line));
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row).toContain('true');
    const control = Number(/control path \(references over IPC\): (\d+) bytes/.exec(act)?.[1]);
    const data = Number(new RegExp(`data path \\(${paths[i]}\\): ([\\d.]+) MiB`).exec(act)?.[1]);
    expect(control).toBeGreaterThan(0);
    // A UCX reference also carries the owner's UCX worker address and the object's rkey: ~1 KiB each.
    expect(control).toBeLessThan((i === 2 ? 6 : 2) * 1024);
    // 200 000 float64 = 1.53 MiB per consumer, read from the store, not sent over IPC.
    expect(data).toBeGreaterThan(2 * 1.5);
  });
}, 120_000);

it('refuses an unknown transport', async () => {
  const failed = await run(process.execPath, [main, '--transport', 'carrier-pigeon']).catch((e: unknown) => e);
  expect(failed).toMatchObject({ code: 1 });
  expect(String((failed as { stderr: string }).stderr)).toMatch(/--transport must be all, file, endpoints or ucx/);
});
