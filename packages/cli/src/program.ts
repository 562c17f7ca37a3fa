// The `proxystore` command line: commander definitions only. Each command hands its parsed arguments to
// an action (CliActions), so parsing is tested in-process and main.ts wires the real actions.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Argument, Command, InvalidArgumentError, Option } from 'commander';
import type { ConfigureOptions } from './config.js';
import { checkName } from './home.js';
import { parseInteger } from './values.js';

export type Operation = 'put' | 'get' | 'exists' | 'evict';

export interface CliActions {
  configure(name: string, options: ConfigureOptions): Promise<number>;
  start(name: string, options: { detach: boolean; timeoutMs: number }): Promise<number>;
  stop(name: string, options: { timeoutMs: number }): Promise<number>;
  list(options: { json: boolean }): Promise<number>;
  remove(name: string, options: { force: boolean; timeoutMs: number }): Promise<number>;
  test(name: string, op: Operation, arg: string | undefined): Promise<number>;
}

export function version(): string {
  const pkg = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** Turns our parsers' CliError into commander's, so a bad flag is reported with the usage hint. */
function wrap<T>(parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text);
    } catch (error) {
      throw new InvalidArgumentError(error instanceof Error ? error.message : String(error));
    }
  };
}

const endpointName = new Argument('<name>', 'the endpoint\'s name: 1 to 64 of A-Z a-z 0-9 _ . -').argParser(wrap(checkName));

function seconds(what: string) {
  return wrap((text: string) => parseInteger(text, what, 1, 86_400) * 1000);
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function createProgram(actions: CliActions): Command {
  const program = new Command('proxystore')
    .description('ProxyStore: pass large data between distributed tasks by reference. Manages endpoint daemons.')
    .version(version(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError(true);

  const endpoint = program
    .command('endpoint')
    .description('configure, run and check ProxyStore endpoints (peer-to-peer object servers)')
    .showHelpAfterError('(run with --help for usage)');

  endpoint
    .command('configure')
    .description(
      'create or update an endpoint\'s config (<home>/endpoints/NAME/endpoint.json). Its id is kept across ' +
        're-configures. Without --token-file a random token is generated into <home>/endpoints/NAME/token',
    )
    .addArgument(endpointName)
    .option('--host <host>', 'address to listen on (default: 127.0.0.1)')
    .option('--port <port>', 'port to listen on; 0 picks a free one (default: 0)')
    .option('--advertise-address <host:port>', 'address peers and clients should use, when not the listening one')
    .option('--peer <host:port>', 'a peer endpoint to connect to (repeatable)', collect)
    .option('--directory <host:port>', 'a directory endpoint that introduces peers')
    .option('--storage-dir <dir>', 'spill objects to files in this directory')
    .option('--memory-limit <size>', 'bytes held in memory, e.g. 512MiB, 1GB')
    .option('--max-object-size <size>', 'largest object accepted, e.g. 64MiB')
    .option('--chunk-size <size>', 'stream chunk size, e.g. 1MiB')
    .option('--max-concurrent-streams <n>', 'limit on concurrent transfers')
    .option('--token-file <path>', 'file holding the bearer token clients must present (must exist)')
    .option('--tls-cert <path>', 'TLS certificate (PEM); with --tls-key')
    .option('--tls-key <path>', 'TLS private key (PEM)')
    .option('--tls-ca <path>', 'CA certificate (PEM) for verifying peers and client certificates')
    .option('--require-client-cert', 'refuse clients without a certificate signed by --tls-ca')
    .action(async (name: string, options: ConfigureOptions) => {
      process.exitCode = await actions.configure(name, options);
    });

  endpoint
    .command('start')
    .description('run an endpoint: in the foreground until SIGTERM/SIGINT, or with --detach as a background daemon')
    .addArgument(endpointName)
    .option('-d, --detach', 'run in the background (log in <home>/endpoints/NAME/endpoint.log); print its address once ready', false)
    .addOption(
      new Option('--timeout <seconds>', 'with --detach: how long to wait for it to be ready').argParser(seconds('--timeout')).default(60_000, '60'),
    )
    .action(async (name: string, options: { detach: boolean; timeout: number }) => {
      process.exitCode = await actions.start(name, { detach: options.detach, timeoutMs: options.timeout });
    });

  endpoint
    .command('stop')
    .description('stop a running endpoint: SIGTERM, then SIGKILL if it has not exited within --timeout')
    .addArgument(endpointName)
    .addOption(new Option('--timeout <seconds>', 'grace period before SIGKILL').argParser(seconds('--timeout')).default(10_000, '10'))
    .action(async (name: string, options: { timeout: number }) => {
      process.exitCode = await actions.stop(name, { timeoutMs: options.timeout });
    });

  endpoint
    .command('list')
    .description('list configured endpoints: name, id, address, status (running, stopped, stale) and pid')
    .option('--json', 'print a JSON array instead of a table', false)
    .action(async (options: { json: boolean }) => {
      process.exitCode = await actions.list({ json: options.json });
    });

  endpoint
    .command('remove')
    .description('delete an endpoint\'s directory (config, generated token, log); refuses while it runs unless --force')
    .addArgument(endpointName)
    .option('-f, --force', 'stop it first if it is running', false)
    .addOption(new Option('--timeout <seconds>', 'with --force: grace period before SIGKILL').argParser(seconds('--timeout')).default(10_000, '10'))
    .action(async (name: string, options: { force: boolean; timeout: number }) => {
      process.exitCode = await actions.remove(name, { force: options.force, timeoutMs: options.timeout });
    });

  endpoint
    .command('test')
    .description('one operation against a running endpoint, with its token')
    .addArgument(endpointName)
    .addArgument(new Argument('<operation>', 'what to do').choices(['put', 'get', 'exists', 'evict']))
    .addArgument(new Argument('[arg]', 'put: text, @file, @- (stdin) or @@text (literal @text); get, exists, evict: the key JSON printed by put'))
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  $ KEY=$(proxystore endpoint test ep1 put "hello")\n' +
        '  $ proxystore endpoint test ep1 get "$KEY"        # hello\n' +
        '  $ proxystore endpoint test ep1 exists "$KEY"     # true\n' +
        '  $ proxystore endpoint test ep1 evict "$KEY"',
    )
    .action(async (name: string, op: Operation, arg: string | undefined) => {
      process.exitCode = await actions.test(name, op, arg);
    });

  return program;
}
