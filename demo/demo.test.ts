// `npm run demo` is half of the README's promise: run it, small, and check what it reports.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);
const main = fileURLToPath(new URL('./main.mjs', import.meta.url));

it('passes data by reference to every consumer and reports both paths', async () => {
  const { stdout } = await run(process.execPath, [main, '--consumers', '2', '--elements', '200000'], {
    timeout: 60_000,
  });
  expect(stdout).toContain('ProxyStore demo: 2 consumers');
  const rows = stdout.split('\n').filter((line) => /^│ \d+ /.test(line));
  expect(rows).toHaveLength(2);
  for (const row of rows) expect(row).toContain('true');
  const control = Number(/control path \(references over IPC\): (\d+) bytes/.exec(stdout)?.[1]);
  const data = Number(/data path \(file store, read by consumers\): ([\d.]+) MiB/.exec(stdout)?.[1]);
  expect(control).toBeGreaterThan(0);
  expect(control).toBeLessThan(2 * 1024);
  // 200 000 float64 = 1.53 MiB per consumer, read from the store, not sent over IPC.
  expect(data).toBeGreaterThan(2 * 1.5);
});
