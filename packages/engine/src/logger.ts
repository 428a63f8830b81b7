import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { tf } from '@ssl/tensor';

/** Appends one JSON object per line (the official `log.txt` is JSON lines). */
export class JsonlLogger {
  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }

  log(record: Record<string, unknown>): void {
    appendFileSync(this.path, `${JSON.stringify(record)}\n`);
  }
}

/** tf.memory() and process RSS, for log lines. */
export function memoryStats(): { tf_num_tensors: number; tf_num_bytes: number; rss_mb: number } {
  const m = tf.memory();
  return { tf_num_tensors: m.numTensors, tf_num_bytes: m.numBytes, rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20) };
}

/** Running mean, as the official MetricLogger's `global_avg`. */
export class Mean {
  private total = 0;
  private count = 0;
  add(v: number, n = 1): void {
    this.total += v * n;
    this.count += n;
  }
  get value(): number {
    return this.count ? this.total / this.count : Number.NaN;
  }
  /** `[total, count]`, so a run resumed mid-epoch averages exactly as an uninterrupted one. */
  getState(): [number, number] {
    return [this.total, this.count];
  }
  setState([total, count]: [number, number]): void {
    this.total = total;
    this.count = count;
  }
}
