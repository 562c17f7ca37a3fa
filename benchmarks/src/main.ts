#!/usr/bin/env node
// The `proxystore-bench` executable: the commander program of cli.ts wired to the real actions.
import { RESULTS_ROOT, createProgram } from './cli.js';
import { BENCH_CONNECTORS } from './connectors.js';
import { defaultOutDir, rerender, runBench, runName, SUITES } from './run.js';

const program = createProgram({
  async run(config) {
    const outDir = config.outDir !== '' ? config.outDir : defaultOutDir(RESULTS_ROOT, new Date(), runName(config, SUITES.map((s) => s.name)));
    const result = await runBench({ ...config, outDir }, { stdout: process.stdout, stderr: process.stderr });
    for (const failure of result.failures) process.stderr.write(`suite ${failure.suite} failed (see above)\n`);
    return result.failures.length === 0 ? 0 : 1;
  },
  async report(resultsPath, outDir, imageDir) {
    const files = await rerender(resultsPath, outDir, imageDir);
    process.stdout.write(`${files.join('\n')}\n`);
    return 0;
  },
  async list() {
    const lines = ['suites:', ...SUITES.map((s) => `  ${s.name.padEnd(10)} ${s.description}`), 'connectors:'];
    for (const c of BENCH_CONNECTORS) {
      const reason = await c.unavailable();
      lines.push(`  ${c.name.padEnd(10)} ${reason === null ? 'available' : `unavailable: ${reason}`} — ${c.description}`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
});

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // Errors a user can act on (a missing results file, a connector that failed to start): one clear line,
  // with the cause chain, rather than a bare stack.
  let message = error instanceof Error ? error.message : String(error);
  for (let cause = error instanceof Error ? error.cause : undefined; cause !== undefined; ) {
    message += `\n  caused by: ${cause instanceof Error ? cause.message : String(cause)}`;
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  process.stderr.write(`proxystore-bench: ${message}\n`);
  process.exitCode = 1;
}
