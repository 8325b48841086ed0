/**
 * Progress: a bar with rate and ETA on a terminal (cli-progress), plain lines otherwise (CI logs),
 * nothing with `--json` so machine output stays clean... except on stderr, which is where all of it goes.
 */
import { SingleBar } from 'cli-progress';
import { writeLine } from './io';

export interface Progress {
  start(total: number, label: string): void;
  /** The total grew (a phase whose items are found while it runs). */
  setTotal(total: number): void;
  tick(n?: number): void;
  stop(): void;
}

const fmt = (s: number) =>
  s >= 3600
    ? `${(s / 3600).toFixed(1)}h`
    : s >= 60
      ? `${Math.floor(s / 60)}m${Math.round(s % 60)}s`
      : `${Math.round(s)}s`;

/** Plain lines at most every `intervalMs`, and at the end. */
export class LineProgress implements Progress {
  private total = 0;
  private value = 0;
  private label = '';
  private started = 0;
  private lastLine = 0;

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly intervalMs = 5000,
  ) {}

  start(total: number, label: string): void {
    this.total = total;
    this.value = 0;
    this.label = label;
    this.started = Date.now();
    this.lastLine = this.started;
    writeLine(this.stream, `${label}: 0/${total}`);
  }

  setTotal(total: number): void {
    this.total = total;
  }

  tick(n = 1): void {
    this.value += n;
    if (Date.now() - this.lastLine >= this.intervalMs) this.line();
  }

  stop(): void {
    this.line();
  }

  private line(): void {
    this.lastLine = Date.now();
    const elapsed = (this.lastLine - this.started) / 1000;
    const rate = elapsed > 0 ? this.value / elapsed : 0;
    const eta = rate > 0 ? fmt((this.total - this.value) / rate) : '?';
    const pct = this.total ? Math.floor((100 * this.value) / this.total) : 100;
    writeLine(this.stream, `${this.label}: ${this.value}/${this.total} (${pct}%), ${rate.toFixed(1)}/s, ETA ${eta}`);
  }
}

/** A terminal bar with rate and ETA. */
export class BarProgress implements Progress {
  private readonly bar: SingleBar;
  private started = 0;
  private value = 0;

  constructor(stream: NodeJS.WritableStream) {
    this.bar = new SingleBar({
      stream: stream as NodeJS.WritableStream,
      format: '{label} [{bar}] {percentage}% | {value}/{total} | {rate}/s | ETA {eta_formatted}',
      hideCursor: true,
      etaBuffer: 50,
      fps: 5,
    });
  }

  start(total: number, label: string): void {
    this.started = Date.now();
    this.value = 0;
    this.bar.start(total, 0, { label, rate: '0.0' });
  }

  setTotal(total: number): void {
    this.bar.setTotal(total);
  }

  tick(n = 1): void {
    this.value += n;
    const elapsed = (Date.now() - this.started) / 1000;
    this.bar.update(this.value, { rate: elapsed > 0 ? (this.value / elapsed).toFixed(1) : '0.0' });
  }

  stop(): void {
    this.bar.stop();
  }
}

/** No output at all (`--quiet`). */
export class SilentProgress implements Progress {
  start(): void {}
  setTotal(): void {}
  tick(): void {}
  stop(): void {}
}

/** A bar on a terminal, lines otherwise. */
export function progressFor(stream: NodeJS.WritableStream & { isTTY?: boolean }, quiet: boolean): Progress {
  if (quiet) return new SilentProgress();
  return stream.isTTY ? new BarProgress(stream) : new LineProgress(stream);
}
