/**
 * An output array for a kernel that writes every element: uninitialised memory, so large outputs
 * skip the zero fill `new Float32Array(n)` does (a measurable share of memory-bound kernels).
 * Small sizes take the ordinary path, which is cheaper there.
 */
export function outputArray(n: number): Float32Array {
  if (n < 4096) return new Float32Array(n);
  return new Float32Array(Buffer.allocUnsafeSlow(n * 4).buffer, 0, n);
}
