// `proxystore endpoint configure NAME [options]`.
import { type ConfigureOptions, configureEndpoint } from '../config.js';
import { readState } from '../daemon.js';
import { endpointPaths } from '../home.js';
import type { Context } from './context.js';

export function configure(ctx: Context, name: string, options: ConfigureOptions): number {
  const paths = endpointPaths(ctx.home, name);
  const result = configureEndpoint(paths, options, ctx.cwd);
  const { config } = result;
  ctx.io.out(`${result.reconfigured ? 'updated' : 'configured'} endpoint ${name} (id ${config.id}): ${paths.config}\n`);
  if (result.generatedToken !== undefined) {
    ctx.io.out(`generated a token for it: ${result.generatedToken} (clients need it to connect)\n`);
  } else {
    ctx.io.out(`token: ${config.tokenFile}\n`);
  }
  if (readState(paths).state === 'running') {
    ctx.io.err(`endpoint ${name} is running: restart it to apply the new config\n`);
  }
  return 0;
}
