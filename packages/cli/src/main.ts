#!/usr/bin/env node
// The `proxystore` executable: the commander program of program.ts wired to the real commands. Every
// failure is one message on stderr (`proxystore: …`) and exit code 1.
import { createProgram } from './program.js';
import { configure } from './commands/configure.js';
import type { Context } from './commands/context.js';
import { list } from './commands/list.js';
import { objectOperation } from './commands/object.js';
import { remove } from './commands/remove.js';
import { startDetached, startForeground } from './commands/start.js';
import { stop } from './commands/stop.js';
import { CliError } from './errors.js';
import { proxystoreHome } from './home.js';

const ctx: Context = {
  home: proxystoreHome(),
  cwd: process.cwd(),
  io: {
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
  },
};

const program = createProgram({
  configure: async (name, options) => configure(ctx, name, options),
  async start(name, options) {
    if (options.detach) return startDetached(ctx, name, { timeoutMs: options.timeoutMs });
    // The daemon's last step either way: leave now rather than wait on a handle a library left open.
    try {
      process.exit(await startForeground(ctx, name));
    } catch (error) {
      report(error);
      process.exit(1);
    }
  },
  stop: (name, options) => stop(ctx, name, options),
  list: async (options) => list(ctx, options),
  remove: (name, options) => remove(ctx, name, options),
  test: (name, op, arg) => objectOperation(ctx, name, op, arg),
});

/**
 * One clear message (with its cause chain) for anything the user can act on; a CliError is ours, other
 * errors (a refused connection, a bad token) come from the libraries. PROXYSTORE_DEBUG=1 adds the stack.
 */
function report(error: unknown): void {
  let message = error instanceof Error ? error.message : String(error);
  // Our own messages already say what their cause said.
  if (error instanceof CliError) {
    process.stderr.write(`proxystore: ${message}\n`);
    return;
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') message = `${code}: ${message}`;
  for (let cause = error instanceof Error ? error.cause : undefined, depth = 0; cause !== undefined && depth < 5; depth++) {
    message += `\n  caused by: ${cause instanceof Error ? cause.message : String(cause)}`;
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  process.stderr.write(`proxystore: ${message}\n`);
  if (process.env['PROXYSTORE_DEBUG'] === '1' && error instanceof Error) process.stderr.write(`${error.stack}\n`);
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  report(error);
  process.exitCode = 1;
}
