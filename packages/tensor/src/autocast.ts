// Mixed precision on CPU, the counterpart of `torch.autocast('cpu', dtype=torch.bfloat16)`: inside
// `autocast('bf16', fn)` the backend runs matmuls and convolutions (and their gradients, which are
// the same kernels) on bf16-rounded inputs with float32 accumulation; every other op, and every
// tensor, stays float32. The scope is state of the active backend, so models, losses and the
// optimizer do not change: only the caller enters the scope. `autocast('fp16', fn)` is the same
// with binary16-rounded inputs (the GPU counterpart, as torch.cuda.amp): the webgpu backend runs
// it; elsewhere it runs float32 with the reason printed once.
import * as tf from '@tensorflow/tfjs-core';

export type Precision = 'bf16' | 'fp16' | 'fp32';
export const PRECISIONS: readonly Precision[] = ['bf16', 'fp16', 'fp32'];

/**
 * What a backend implements to run autocast (native: bf16; webgpu: fp16; others run float32).
 * `setAutocast` is only called with a precision the backend reports as supported.
 */
interface AutocastBackend {
  autocastSupport(): { bf16: boolean; reason: string };
  /** Whether fp16 runs; a backend without this method has none. */
  fp16Support?(): { fp16: boolean; reason: string };
  setAutocast(precision: Precision): Precision;
  currentAutocast(): Precision;
}

function autocastBackend(): AutocastBackend | undefined {
  const b = tf.backend() as unknown as Partial<AutocastBackend>;
  return typeof b.autocastSupport === 'function' && typeof b.setAutocast === 'function' && typeof b.currentAutocast === 'function'
    ? (b as AutocastBackend)
    : undefined;
}

/** Parses a precision flag or setting; the error names `source` and the accepted values. */
export function parsePrecision(value: string, source = 'precision'): Precision {
  const v = value.trim().toLowerCase();
  if ((PRECISIONS as readonly string[]).includes(v)) return v as Precision;
  throw new Error(`${source}='${value}' is not a precision; expected one of: ${PRECISIONS.join(', ')}`);
}

/**
 * Whether bf16 runs here: on the active backend, unless `SSL_PRECISION=fp32` forces float32.
 * `reason` says what runs bf16 (oneDNN and its ISA) or why float32 is used.
 */
export function bf16Support(env: NodeJS.ProcessEnv = process.env): { bf16: boolean; reason: string } {
  const forced = env.SSL_PRECISION;
  if (forced !== undefined && forced !== '' && parsePrecision(forced, 'SSL_PRECISION') === 'fp32') {
    return { bf16: false, reason: 'SSL_PRECISION=fp32 forces float32' };
  }
  const b = autocastBackend();
  if (!b) return { bf16: false, reason: `the '${tf.getBackend()}' backend has no bf16 kernels` };
  return b.autocastSupport();
}

/** Whether fp16 runs here: on the active backend (webgpu), unless `SSL_PRECISION=fp32` forces float32. */
export function fp16Support(env: NodeJS.ProcessEnv = process.env): { fp16: boolean; reason: string } {
  const forced = env.SSL_PRECISION;
  if (forced !== undefined && forced !== '' && parsePrecision(forced, 'SSL_PRECISION') === 'fp32') {
    return { fp16: false, reason: 'SSL_PRECISION=fp32 forces float32' };
  }
  const b = autocastBackend();
  if (!b?.fp16Support) return { fp16: false, reason: `the '${tf.getBackend()}' backend has no fp16 kernels` };
  return b.fp16Support();
}

function support(precision: 'bf16' | 'fp16', env: NodeJS.ProcessEnv): { ok: boolean; reason: string } {
  if (precision === 'fp16') {
    const s = fp16Support(env);
    return { ok: s.fp16, reason: s.reason };
  }
  const s = bf16Support(env);
  return { ok: s.bf16, reason: s.reason };
}

/**
 * The precision that will run for a request: `requested` when possible, float32 otherwise
 * (with the reason). `undefined` asks for the default: bf16 where supported (training, as the
 * official `--use_fp16` default), pass 'fp32' for inference defaults. fp16 runs only when asked.
 */
export function resolvePrecision(
  requested: Precision | undefined,
  env: NodeJS.ProcessEnv = process.env,
): { precision: Precision; reason: string } {
  if (requested === 'fp32') return { precision: 'fp32', reason: 'float32 requested' };
  if (requested === 'fp16') {
    const s = support('fp16', env);
    return s.ok ? { precision: 'fp16', reason: `fp16 requested: ${s.reason}` } : { precision: 'fp32', reason: s.reason };
  }
  const bf16 = bf16Support(env);
  if (!bf16.bf16) return { precision: 'fp32', reason: bf16.reason };
  return { precision: 'bf16', reason: `${requested === 'bf16' ? 'bf16 requested' : 'bf16 by default'}: ${bf16.reason}` };
}

const warned = new Set<string>();
let warn: (line: string) => void = (line) => console.warn(line);

/** Where the one-time "running float32 instead of bf16/fp16" notice goes (default console.warn). */
export function setAutocastLogger(log: (line: string) => void): void {
  warn = log;
}

/**
 * Runs `fn` with the matmul-shaped ops in `precision`; returns what `fn` returns. 'fp32' inside a
 * bf16 scope turns it off (as `torch.autocast(enabled=False)`). Where bf16 cannot run (no
 * oneDNN/AVX512-BF16, another backend, `SSL_PRECISION=fp32`) `fn` runs in float32 and the reason is
 * printed once. `fn` must be synchronous: the scope is global state, so work that awaits in between
 * would leak it to unrelated code. Put the forward pass and `tf.variableGrads` inside it (the
 * gradients are matmuls too).
 */
export function autocast<T>(precision: Precision, fn: () => T): T {
  const target = parsePrecision(precision);
  const b = autocastBackend();
  let effective: Precision = target;
  if (target !== 'fp32') {
    const s = support(target, process.env);
    if (!s.ok) {
      effective = 'fp32';
      const line = `[ssl] ${target} autocast unavailable, running float32: ${s.reason}`;
      if (!warned.has(line)) {
        warned.add(line);
        warn(line);
      }
    }
  }
  if (!b) return checkSync(fn());
  const previous = b.setAutocast(effective);
  try {
    return checkSync(fn());
  } finally {
    b.setAutocast(previous);
  }
}

function checkSync<T>(result: T): T {
  if (result instanceof Promise) {
    throw new Error('autocast(precision, fn): fn returned a Promise; pass a synchronous function (e.g. the forward pass and tf.variableGrads)');
  }
  return result;
}

/** The precision the active backend's GEMMs run in now (inside or outside an autocast scope). */
export function currentPrecision(): Precision {
  return autocastBackend()?.currentAutocast() ?? 'fp32';
}
