/** Training progress: a redrawn bar on a TTY, plain lines otherwise (CI logs, pipes). */

export interface ProgressUpdate {
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  imagesPerSec: number;
}

export interface ProgressOptions {
  /** Total steps planned (for the bar and the ETA). */
  total: number;
  /** Steps already done when this run started (resume): the ETA ignores them. */
  start?: number;
  mode: 'auto' | 'bar' | 'lines' | 'none';
  /** Plain-line mode prints every `every` steps. */
  every?: number;
  stream?: NodeJS.WriteStream | { isTTY?: boolean; columns?: number; write(s: string): boolean };
  now?: () => number;
  /** Seconds until a time budget runs out: the ETA never goes past it. */
  secondsLeft?: () => number;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

export class Progress {
  private total: number;
  private readonly start: number;
  private readonly mode: 'bar' | 'lines' | 'none';
  private readonly every: number;
  private readonly stream: NonNullable<ProgressOptions['stream']>;
  private readonly now: () => number;
  private readonly t0: number;
  private drawn = false;
  private readonly secondsLeft: () => number;

  constructor(options: ProgressOptions) {
    this.total = options.total;
    this.start = options.start ?? 0;
    this.stream = options.stream ?? process.stderr;
    this.mode = options.mode === 'auto' ? (this.stream.isTTY ? 'bar' : 'lines') : options.mode;
    this.every = options.every ?? 10;
    this.now = options.now ?? (() => performance.now());
    this.t0 = this.now();
    this.secondsLeft = options.secondsLeft ?? (() => Infinity);
  }

  /** A new plan (a time budget fixed the number of epochs). */
  setTotal(total: number): void {
    this.total = total;
  }

  /** Seconds left at the pace of this run so far, at most the time left in the budget. */
  eta(step: number): number {
    const done = step - this.start;
    if (done <= 0) return NaN;
    const elapsed = (this.now() - this.t0) / 1000;
    return Math.min((elapsed / done) * (this.total - step), Math.max(0, this.secondsLeft()));
  }

  line(u: ProgressUpdate): string {
    const width = String(this.total).length;
    return (
      `epoch ${u.epoch} step ${String(u.step).padStart(width)}/${this.total} ` +
      `loss ${u.loss.toFixed(4)} lr ${u.lr.toExponential(2)} ${u.imagesPerSec.toFixed(1)} img/s ETA ${formatDuration(this.eta(u.step))}`
    );
  }

  update(u: ProgressUpdate): void {
    if (this.mode === 'none') return;
    if (this.mode === 'lines') {
      if (u.step % this.every === 0 || u.step === this.total) this.stream.write(`${this.line(u)}\n`);
      return;
    }
    const cols = ('columns' in this.stream && this.stream.columns) || 100;
    const text = this.line(u);
    const barWidth = Math.max(10, Math.min(30, cols - text.length - 4));
    const filled = Math.round((Math.min(u.step, this.total) / Math.max(1, this.total)) * barWidth);
    this.stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}] ${text}\x1b[K`);
    this.drawn = true;
  }

  /** Print a message without tearing the bar. */
  log(message: string): void {
    if (this.drawn) {
      this.stream.write('\r\x1b[K');
      this.drawn = false;
    }
    this.stream.write(`${message}\n`);
  }

  done(): void {
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}
