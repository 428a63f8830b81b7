/**
 * Eigen-decomposition of a symmetric matrix (the `np.linalg.eigh` the official PCA uses), by
 * cyclic Jacobi rotations in float64. Slower than LAPACK's tridiagonal QR but simple, exact to
 * rounding, and fast enough for the few-hundred-dimensional covariances of copy detection.
 * Returns eigenvalues ascending (as eigh) and eigenvectors as the columns of a row-major `n x n`.
 */
export function symmetricEigen(a: ArrayLike<number>, n: number): { values: Float64Array; vectors: Float64Array } {
  if (a.length !== n * n) throw new Error(`symmetricEigen: matrix has ${a.length} values, expected ${n}x${n}`);
  const A = Float64Array.from(a);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const x = A[i * n + j] as number;
      const y = A[j * n + i] as number;
      if (Math.abs(x - y) > 1e-6 * (Math.abs(x) + Math.abs(y) + 1e-30)) {
        throw new Error(`symmetricEigen: matrix is not symmetric at (${i}, ${j}): ${x} vs ${y}`);
      }
      A[i * n + j] = A[j * n + i] = (x + y) / 2;
    }
  }
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  let total = 0;
  for (let i = 0; i < n * n; i++) total += (A[i] as number) ** 2;
  const tiny = 1e-30 * Math.max(total, 1e-300);

  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += (A[i * n + j] as number) ** 2;
    if (off <= tiny || off <= 1e-26 * total) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q] as number;
        if (apq === 0) continue;
        const app = A[p * n + p] as number;
        const aqq = A[q * n + q] as number;
        // rotation angle that zeroes A[p][q]: tan(2 theta) = 2 apq / (aqq - app), small root
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k * n + p] as number;
          const akq = A[k * n + q] as number;
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p * n + k] as number;
          const aqk = A[q * n + k] as number;
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p] as number;
          const vkq = V[k * n + q] as number;
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => (A[i * n + i] as number) - (A[j * n + j] as number));
  const values = Float64Array.from(order, (i) => A[i * n + i] as number);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    for (let k = 0; k < n; k++) vectors[k * n + dst] = V[k * n + src] as number;
  });
  return { values, vectors };
}
