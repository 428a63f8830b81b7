/** Conversions of stored element types to the ones tensors hold here (float32, int32). */

/** A Float32 copy of IEEE half-precision values. */
export function f16ToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const h = src[i] as number;
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) out[i] = sign * frac * 5.960464477539063e-8; // subnormal: frac * 2^-24
    else if (exp === 31) out[i] = frac ? NaN : sign * Infinity;
    else out[i] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return out;
}

/** A Float32 copy of bfloat16 values (the upper half of a float32). */
export function bf16ToF32(src: Uint16Array): Float32Array {
  const bits = new Uint32Array(src.length);
  for (let i = 0; i < src.length; i++) bits[i] = (src[i] as number) << 16;
  return new Float32Array(bits.buffer);
}

/** int64 values as int32 (tfjs has no int64), refusing values outside the int32 range. `what` names the tensor. */
export function int64ToInt32(src: BigInt64Array, what: string): Int32Array {
  const out = new Int32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i] as bigint;
    if (v > 2147483647n || v < -2147483648n) throw new Error(`${what} holds ${v}, outside the int32 range tensors here can hold`);
    out[i] = Number(v);
  }
  return out;
}
