// bf16 inference: ONNX Runtime has no bf16 path on CPU, so `--precision bf16` runs the same
// backbone (built from the weights by @ssl/models) on our native backend under `autocast('bf16')`:
// matmuls and convolutions on bf16-rounded inputs with float32 accumulation (oneDNN), the rest
// float32. It answers the same calls as the ORT extractor, so the commands and the server do not
// care which engine runs.
import type { FloatTensor } from '@ssl/onnx';
import { VisionTransformer, type Backbone } from '@ssl/models';
import { autocast, initBackend, resolvePrecision, tf, type Precision } from '@ssl/tensor';

/** What the app runs a model through: ONNX Runtime workers (`OnnxFeatureExtractor`) or `NativeExtractor`. */
export interface Extractor {
  readonly outputNames: string[];
  readonly workers: number;
  run(feeds: Record<string, FloatTensor>, outputs?: string[]): Promise<Record<string, FloatTensor>>;
  close(): Promise<void>;
}

export type EngineName = 'onnxruntime' | 'native';

/** The engine and precision that will run, and why (the fallback reason when bf16 cannot run). */
export interface EngineChoice {
  engine: EngineName;
  precision: Precision;
  reason: string;
}

/**
 * fp32: ONNX Runtime, as always. bf16: the native backend under autocast where bf16 runs here
 * (oneDNN on AVX512-BF16/AMX, not `SSL_PRECISION=fp32`), else ONNX Runtime in float32 with the
 * reason the native backend or autocast gives.
 */
export async function chooseEngine(requested: Precision, threads?: number): Promise<EngineChoice> {
  if (requested === 'fp32') return { engine: 'onnxruntime', precision: 'fp32', reason: 'float32 requested' };
  try {
    await initBackend({ backend: 'native', ...(threads !== undefined ? { threads } : {}) });
  } catch (err) {
    return { engine: 'onnxruntime', precision: 'fp32', reason: (err as Error).message };
  }
  const resolved = resolvePrecision('bf16');
  if (resolved.precision !== 'bf16') return { engine: 'onnxruntime', precision: 'fp32', reason: resolved.reason };
  return { engine: 'native', precision: 'bf16', reason: resolved.reason };
}

/** One line for stderr: what runs, or why bf16 fell back (the words of autocast's own notice). */
export function formatEngineChoice(c: EngineChoice, requested: Precision): string {
  if (requested === 'bf16' && c.precision !== 'bf16') return `bf16 autocast unavailable, running float32 on ONNX Runtime: ${c.reason}`;
  return c.engine === 'native' ? `running bf16 on the native backend (${c.reason})` : 'running float32 on ONNX Runtime';
}

/**
 * A backbone on the active tfjs backend (the native one after `chooseEngine`) behind the ORT
 * extractor's interface: input `[B, C, H, W]` float (ONNX layout), outputs `cls` and `attention`
 * (ViT: CLS after the final norm, last block's attention `[B, heads, N, N]`) or `features` (ResNet).
 * Runs on the main thread, one batch at a time, with the backend's threads.
 */
export class NativeExtractor implements Extractor {
  readonly workers = 1;
  readonly outputNames: string[];
  private closed = false;

  constructor(
    private readonly model: Backbone,
    private readonly precision: Precision,
  ) {
    model.eval();
    this.outputNames = model instanceof VisionTransformer ? ['cls', 'attention'] : ['features'];
  }

  async run(feeds: Record<string, FloatTensor>, outputs: string[] = this.outputNames): Promise<Record<string, FloatTensor>> {
    if (this.closed) throw new Error('FeatureExtractor: closed');
    const input = feeds['input'];
    if (!input) throw new Error(`FeatureExtractor: no input "input" (given ${Object.keys(feeds).join(', ')})`);
    for (const o of outputs) if (!this.outputNames.includes(o)) throw new Error(`FeatureExtractor: no output "${o}" (model has ${this.outputNames.join(', ')})`);
    const [B, C, H, W] = input.dims as [number, number, number, number];
    if (input.dims.length !== 4 || B * C * H * W !== input.data.length) {
      throw new Error(`FeatureExtractor: input has ${input.data.length} values for dims [${input.dims.join(', ')}]`);
    }
    const model = this.model;
    // autocast needs a synchronous body: the whole forward runs inside it, the reads come after.
    const tensors = tf.tidy(() =>
      autocast(this.precision, () => {
        const x = tf.transpose(tf.tensor4d(input.data, [B, C, H, W]), [0, 2, 3, 1]); // NCHW -> NHWC [B, H, W, C]
        const out: Record<string, tf.Tensor> = {};
        for (const o of outputs) {
          out[o] = o === 'attention' ? (model as VisionTransformer).getLastSelfAttention(x) : model.forward(x);
        }
        return out;
      }),
    );
    const result: Record<string, FloatTensor> = {};
    try {
      for (const [name, t] of Object.entries(tensors)) result[name] = { data: (await t.data()) as Float32Array, dims: t.shape };
    } finally {
      tf.dispose(Object.values(tensors));
    }
    return result;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.model.dispose();
  }
}
