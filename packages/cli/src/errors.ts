// The one failure the command reports as such: a message the user can act on, printed as one line
// (`proxystore: …`) with exit code 1. Anything else that escapes is a bug and keeps its stack.

export type CliErrorCode =
  | 'CLI_BAD_NAME'
  | 'CLI_BAD_VALUE'
  | 'CLI_NOT_CONFIGURED'
  | 'CLI_ALREADY_RUNNING'
  | 'CLI_NOT_RUNNING'
  | 'CLI_START_FAILED'
  | 'CLI_STOP_FAILED'
  | 'CLI_MISSING_OBJECT';

export class CliError extends Error {
  override name = 'CliError';
  readonly code: CliErrorCode;

  constructor(code: CliErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Where the command writes; the real process streams in main.ts, strings in unit tests. */
export interface Io {
  out(text: string | Uint8Array): void;
  err(text: string): void;
}
