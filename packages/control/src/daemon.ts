// How a ProxyStore daemon binary runs in the foreground (proxystore-endpoint, proxystore-ucx-daemon): read
// its options from the command line (exit code 2 and a hint when they are wrong, the usage for --help),
// start the service (exit code 1 when it cannot), print exactly one line `ready <json>` on stdout (what
// scripts and tests wait for), and close it on SIGTERM or SIGINT (a second signal exits at once). Logs go
// to stderr, prefixed with the binary's name.

export interface DaemonSpec<O, S extends { close(): Promise<void> }> {
  /** The binary's name, the prefix of every log line. */
  name: string;
  usage: string;
  /** The options from the arguments, or null for --help; throws on a bad argument. */
  parse(argv: readonly string[]): O | null;
  start(options: O): Promise<S>;
  /** What to log once it listens, and the fields of the `ready` line. */
  ready(service: S): { log: string; fields: Record<string, unknown> };
}

export async function runDaemon<O, S extends { close(): Promise<void> }>(
  spec: DaemonSpec<O, S>,
  argv: readonly string[] = process.argv.slice(2),
): Promise<void> {
  const log = (message: string): void => {
    process.stderr.write(`${spec.name}: ${message}\n`);
  };
  let options: O | null;
  try {
    options = spec.parse(argv);
  } catch (err) {
    log(`${(err as Error).message} (--help for usage)`);
    process.exitCode = 2;
    return;
  }
  if (options === null) {
    process.stdout.write(spec.usage);
    return;
  }
  let service: S;
  try {
    service = await spec.start(options);
  } catch (err) {
    log(`cannot start: ${(err as Error).message}`);
    process.exitCode = 1;
    return;
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      log(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    log(`${signal}: closing`);
    service.close().then(
      () => {
        log('closed');
        process.exit(0);
      },
      (err: unknown) => {
        log(`close failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  const { log: line, fields } = spec.ready(service);
  log(line);
  process.stdout.write(`ready ${JSON.stringify({ ...fields, pid: process.pid })}\n`);
}
