// Progress on stderr. On a terminal, one bar per suite redrawn in place; anywhere else (CI logs, a pipe)
// one plain line per step, so a log file stays readable. The suites only see the Progress interface.
import type { Progress } from './suite.js';

export interface ProgressSink {
  /** A stream like process.stderr: `isTTY`, `columns` and `write`. */
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Renders "ops  [########------------]  12/40  put file 1 MiB" to fit `width` columns. */
export function renderBar(suite: string, done: number, total: number, label: string, width: number): string {
  const counter = `${String(done).padStart(String(total).length)}/${total}`;
  const barWidth = Math.max(10, Math.min(30, width - suite.length - counter.length - 20));
  const filled = total > 0 ? Math.min(barWidth, Math.round((done / total) * barWidth)) : 0;
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}]`;
  const head = `${suite}  ${bar}  ${counter}  `;
  const room = Math.max(0, width - head.length - 1);
  const text = label.length > room ? `${label.slice(0, Math.max(0, room - 1))}…` : label;
  return `${head}${text}`;
}

/**
 * The progress of a whole run. `forSuite` hands a suite its Progress; `line` prints a log line without
 * tearing the bar; `finish` ends the current bar.
 */
export class ProgressReporter {
  readonly #sink: ProgressSink;
  readonly #bars: boolean;
  readonly #started = performance.now();
  #drawn = false;

  constructor(sink: ProgressSink, options: { bars: boolean }) {
    this.#sink = sink;
    this.#bars = options.bars && sink.isTTY === true;
  }

  get bars(): boolean {
    return this.#bars;
  }

  #elapsed(): string {
    return `${((performance.now() - this.#started) / 1000).toFixed(0).padStart(4)} s`;
  }

  /** A log line; on a terminal it is printed above the bar, which is then redrawn by the next step. */
  line(message: string): void {
    this.#clear();
    this.#sink.write(`[bench ${this.#elapsed()}] ${message}\n`);
  }

  #clear(): void {
    if (this.#drawn) {
      this.#sink.write('\r\x1b[2K');
      this.#drawn = false;
    }
  }

  forSuite(suite: string): Progress {
    let total = 0;
    let done = 0;
    return {
      plan: (steps) => {
        total = Math.max(0, Math.floor(steps));
        done = 0;
      },
      step: (label) => {
        done = Math.min(done + 1, Math.max(total, done + 1));
        if (this.#bars) {
          const width = this.#sink.columns ?? 100;
          this.#sink.write(`\r\x1b[2K${renderBar(suite, done, Math.max(total, done), label, width)}`);
          this.#drawn = true;
        } else {
          this.#sink.write(`[bench ${this.#elapsed()}] ${suite} ${done}/${Math.max(total, done)} ${label}\n`);
        }
      },
    };
  }

  finish(): void {
    this.#clear();
  }
}
