import { tf } from '@ssl/tensor';

/** A row-major float matrix held outside tfjs: `rows` x `cols` values in `data`. */
export interface Matrix {
  data: Float32Array;
  rows: number;
  cols: number;
}

/** Features: a `[N, D]` tensor, a row-major `Matrix`, or an array of rows. */
export type FeatureInput = tf.Tensor2D | Matrix | ArrayLike<number>[];

/** Labels: a `[N]` int tensor or plain integers. */
export type LabelInput = tf.Tensor1D | ArrayLike<number>;

/** Rows of a feature input, handed out as tensors one block at a time (caller disposes). */
export interface RowSource {
  rows: number;
  cols: number;
  /** Rows `[start, end)` as a new `[end - start, cols]` tensor. */
  block(start: number, end: number): tf.Tensor2D;
}

function isMatrix(x: unknown): x is Matrix {
  return typeof x === 'object' && x !== null && (x as Matrix).data instanceof Float32Array && 'rows' in x && 'cols' in x;
}

/** Wrap a feature input without copying it whole; checks shape and finiteness of the dims. */
export function rowSource(x: FeatureInput, name: string): RowSource {
  if (x instanceof tf.Tensor) {
    if (x.rank !== 2) throw new Error(`${name}: expected a 2-D [N, D] tensor, got shape [${x.shape.join(', ')}]`);
    if (x.dtype !== 'float32') throw new Error(`${name}: expected float32 features, got ${x.dtype}`);
    const [rows, cols] = x.shape as [number, number];
    return { rows, cols, block: (s, e) => tf.slice(x, [s, 0], [e - s, cols]) };
  }
  if (isMatrix(x)) {
    const { data, rows, cols } = x;
    if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 1 || data.length !== rows * cols) {
      throw new Error(`${name}: Matrix data has ${data.length} values, expected rows*cols = ${rows}*${cols}`);
    }
    return { rows, cols, block: (s, e) => tf.tensor2d(data.subarray(s * cols, e * cols), [e - s, cols]) };
  }
  if (Array.isArray(x)) {
    const rows = x.length;
    const cols = rows > 0 ? (x[0] as ArrayLike<number>).length : 0;
    const data = new Float32Array(rows * cols);
    x.forEach((row, i) => {
      if (row.length !== cols) throw new Error(`${name}: row ${i} has ${row.length} values, expected ${cols}`);
      for (let j = 0; j < cols; j++) data[i * cols + j] = row[j] as number;
    });
    if (rows > 0 && cols < 1) throw new Error(`${name}: rows must have at least one value`);
    return rowSource({ data, rows, cols }, name);
  }
  throw new Error(`${name}: expected a [N, D] tensor, a Matrix {data, rows, cols} or an array of rows`);
}

/** Labels as an Int32Array, checked to be integers in [0, numClasses) when numClasses is given. */
export function labelArray(y: LabelInput, name: string, expectedLength: number, numClasses?: number): Int32Array {
  let values: ArrayLike<number>;
  if (y instanceof tf.Tensor) {
    if (y.rank !== 1) throw new Error(`${name}: expected a 1-D label tensor, got shape [${y.shape.join(', ')}]`);
    values = y.dataSync();
  } else {
    values = y;
  }
  if (values.length !== expectedLength) {
    throw new Error(`${name}: ${values.length} labels for ${expectedLength} feature rows`);
  }
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isInteger(v) || v < 0 || (numClasses !== undefined && v >= numClasses)) {
      const range = numClasses !== undefined ? `[0, ${numClasses})` : '>= 0';
      throw new Error(`${name}[${i}] = ${v}: labels must be integers in ${range}`);
    }
    out[i] = v;
  }
  return out;
}

/** A whole feature input as a row-major Matrix (copies tensors out of tfjs). */
export function toMatrix(x: FeatureInput, name: string): Matrix {
  if (isMatrix(x)) {
    rowSource(x, name);
    return x;
  }
  const src = rowSource(x, name);
  if (x instanceof tf.Tensor) return { data: Float32Array.from(x.dataSync()), rows: src.rows, cols: src.cols };
  const t = src.block(0, src.rows);
  const data = Float32Array.from(t.dataSync());
  t.dispose();
  return { data, rows: src.rows, cols: src.cols };
}

/** Rows divided by their L2 norm (as nn.functional.normalize: norm floored at 1e-12); a new Matrix. */
export function normalizeRows(m: Matrix): Matrix {
  const data = new Float32Array(m.data.length);
  for (let r = 0; r < m.rows; r++) {
    let s = 0;
    for (let j = 0; j < m.cols; j++) s += (m.data[r * m.cols + j] as number) ** 2;
    const n = Math.max(Math.sqrt(s), 1e-12);
    for (let j = 0; j < m.cols; j++) data[r * m.cols + j] = (m.data[r * m.cols + j] as number) / n;
  }
  return { data, rows: m.rows, cols: m.cols };
}
