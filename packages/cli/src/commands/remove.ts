// `proxystore endpoint remove NAME [--force]`: deletes the endpoint's directory (config, generated token,
// log). A --token-file given at configure time lives elsewhere and is left alone.
import { rmSync } from 'node:fs';
import { requireConfig } from '../config.js';
import { cleanStale, readState } from '../daemon.js';
import { CliError } from '../errors.js';
import { endpointPaths } from '../home.js';
import type { Context } from './context.js';
import { stopEndpoint } from './stop.js';

export async function remove(ctx: Context, name: string, options: { force: boolean; timeoutMs: number }): Promise<number> {
  const paths = endpointPaths(ctx.home, name);
  requireConfig(paths);
  const state = readState(paths);
  if (state.state === 'running') {
    if (!options.force) {
      throw new CliError(
        'CLI_ALREADY_RUNNING',
        `endpoint ${name} is running (pid ${state.pid}); stop it first or use \`proxystore endpoint remove ${name} --force\``,
      );
    }
    const pid = await stopEndpoint(ctx, paths, options.timeoutMs);
    ctx.io.out(`stopped endpoint ${name} (pid ${pid})\n`);
  } else if (state.state === 'stale') {
    cleanStale(paths);
  }
  rmSync(paths.dir, { recursive: true, force: true });
  ctx.io.out(`removed endpoint ${name} (${paths.dir})\n`);
  return 0;
}
