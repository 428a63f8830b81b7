import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { binding } from '../binding.js';
import { outputArray } from './alloc.js';
import type { NativeKernelArgs } from './fallback.js';
import { f32Input, sameShape } from './fused_util.js';

/** @ssl/tensor's attention: inputs {q, k, v} (each [BH, N, d]); attrs scale, precision; output softmax(q scale k^T) v. */
export const SSL_ATTENTION = 'SslAttention';
/** Its gradient: inputs {dy, q, k, v}; attrs scale, precision; outputs [dq, dk, dv]. */
export const SSL_ATTENTION_GRAD = 'SslAttentionGrad';
/** @ssl/tensor's selfAttention: input {qkv} [B, N, 3 H d] (q, k, v, each heads-major); attrs heads, scale, precision; output [B, N, H d]. */
export const SSL_SELF_ATTENTION = 'SslSelfAttention';
/** Its gradient: inputs {dy, qkv}; same attrs; output dqkv. */
export const SSL_SELF_ATTENTION_GRAD = 'SslSelfAttentionGrad';

type Attrs = Record<string, unknown> | undefined;

function scaleAndPrecision(kernel: string, attrs: Attrs): { scale: number; bf16: boolean } {
  const scale = attrs?.scale;
  if (typeof scale !== 'number' || !Number.isFinite(scale)) throw new Error(`${kernel}: attr 'scale' must be a finite number, got ${String(scale)}`);
  const precision = attrs?.precision ?? 'fp32';
  if (precision !== 'fp32' && precision !== 'bf16') {
    throw new Error(`${kernel}: precision must be 'fp32' or 'bf16' on the native backend, got '${String(precision)}'`);
  }
  return { scale, bf16: precision === 'bf16' };
}

function checkSameShape(kernel: string, ref: string, shape: number[], inputs: Record<string, TensorInfo | undefined>): void {
  for (const [name, t] of Object.entries(inputs)) {
    if (!t) throw new Error(`${kernel}: input '${name}' is missing`);
    if (!sameShape(t.shape, shape)) throw new Error(`${kernel}: ${name} must have the shape of ${ref} [${shape}], got [${t.shape}]`);
  }
}

/**
 * The native kernel's geometry (native/kernels/Attention.cc): batch, heads, n, d, then the q/k/v
 * layout (batch, head and row strides, q/k/v bases) and the output's (batch, head, row strides).
 */
function separateGeometry(kernel: string, inputs: Record<string, TensorInfo | undefined>): Float64Array {
  const q = inputs.q;
  if (!q || q.shape.length !== 3) throw new Error(`${kernel}: q must be [batchHeads, N, d], got [${q?.shape ?? 'missing'}]`);
  checkSameShape(kernel, 'q', q.shape, inputs);
  const [bh, n, d] = q.shape as [number, number, number];
  return Float64Array.from([bh, 1, n, d, n * d, 0, d, 0, 0, 0, n * d, 0, d]);
}

function packedGeometry(b: number, n: number, heads: number, d: number): Float64Array {
  const width = heads * d;
  return Float64Array.from([b, heads, n, d, n * 3 * width, d, 3 * width, 0, width, 2 * width, n * width, d, width]);
}

function attention(args: NativeKernelArgs): TensorInfo {
  const { inputs, backend, attrs } = args;
  const k = SSL_ATTENTION;
  const geometry = separateGeometry(k, { q: inputs.q, k: inputs.k, v: inputs.v });
  const { scale, bf16 } = scaleAndPrecision(k, attrs);
  const q = inputs.q!;
  const qv = f32Input(backend, k, 'q', q);
  const kv = f32Input(backend, k, 'k', inputs.k);
  const vv = f32Input(backend, k, 'v', inputs.v);
  const out = outputArray(qv.length);
  if (qv.length > 0) binding().attention(qv, kv, vv, out, geometry, scale, bf16);
  return backend.makeTensorInfo(q.shape, 'float32', out);
}

function attentionGrad(args: NativeKernelArgs): TensorInfo[] {
  const { inputs, backend, attrs } = args;
  const k = SSL_ATTENTION_GRAD;
  const geometry = separateGeometry(k, { q: inputs.q, k: inputs.k, v: inputs.v, dy: inputs.dy });
  const { scale, bf16 } = scaleAndPrecision(k, attrs);
  const q = inputs.q!;
  const dyv = f32Input(backend, k, 'dy', inputs.dy);
  const qv = f32Input(backend, k, 'q', q);
  const kv = f32Input(backend, k, 'k', inputs.k);
  const vv = f32Input(backend, k, 'v', inputs.v);
  const [dq, dk, dv] = [outputArray(qv.length), outputArray(qv.length), outputArray(qv.length)];
  if (qv.length > 0) binding().attentionGrad(dyv, qv, kv, vv, dq, dk, dv, geometry, scale, bf16);
  return [dq, dk, dv].map((values) => backend.makeTensorInfo(q.shape, 'float32', values));
}

/** [B, N, 3 H d] of a packed qkv and its heads: the batch, tokens, heads and head dim. */
function packedShape(kernel: string, qkv: TensorInfo | undefined, attrs: Attrs): [number, number, number, number] {
  if (!qkv || qkv.shape.length !== 3) throw new Error(`${kernel}: qkv must be [B, N, 3 * heads * headDim], got [${qkv?.shape ?? 'missing'}]`);
  const heads = attrs?.heads;
  const [b, n, c] = qkv.shape as [number, number, number];
  if (typeof heads !== 'number' || !Number.isInteger(heads) || heads < 1 || c % (3 * heads) !== 0) {
    throw new Error(`${kernel}: attr 'heads' must be a positive integer dividing qkv's last dim ${c} / 3, got ${String(heads)}`);
  }
  return [b, n, heads, c / (3 * heads)];
}

function selfAttention(args: NativeKernelArgs): TensorInfo {
  const { inputs, backend, attrs } = args;
  const k = SSL_SELF_ATTENTION;
  const [b, n, heads, d] = packedShape(k, inputs.qkv, attrs);
  const { scale, bf16 } = scaleAndPrecision(k, attrs);
  const qkv = f32Input(backend, k, 'qkv', inputs.qkv);
  const out = outputArray(b * n * heads * d);
  if (out.length > 0) binding().attention(qkv, qkv, qkv, out, packedGeometry(b, n, heads, d), scale, bf16);
  return backend.makeTensorInfo([b, n, heads * d], 'float32', out);
}

function selfAttentionGrad(args: NativeKernelArgs): TensorInfo {
  const { inputs, backend, attrs } = args;
  const k = SSL_SELF_ATTENTION_GRAD;
  const [b, n, heads, d] = packedShape(k, inputs.qkv, attrs);
  checkSameShape(k, 'the output', [b, n, heads * d], { dy: inputs.dy });
  const { scale, bf16 } = scaleAndPrecision(k, attrs);
  const dyv = f32Input(backend, k, 'dy', inputs.dy);
  const qkv = f32Input(backend, k, 'qkv', inputs.qkv);
  const dqkv = outputArray(qkv.length);
  if (dqkv.length > 0) binding().attentionGrad(dyv, qkv, qkv, qkv, dqkv, dqkv, dqkv, packedGeometry(b, n, heads, d), scale, bf16);
  return backend.makeTensorInfo(inputs.qkv!.shape, 'float32', dqkv);
}

export const attentionConfigs: KernelConfig[] = [
  { kernelName: SSL_ATTENTION, backendName: 'native', kernelFunc: attention as unknown as KernelFunc },
  { kernelName: SSL_ATTENTION_GRAD, backendName: 'native', kernelFunc: attentionGrad as unknown as KernelFunc },
  { kernelName: SSL_SELF_ATTENTION, backendName: 'native', kernelFunc: selfAttention as unknown as KernelFunc },
  { kernelName: SSL_SELF_ATTENTION_GRAD, backendName: 'native', kernelFunc: selfAttentionGrad as unknown as KernelFunc },
];
