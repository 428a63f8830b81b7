import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
type IGraphProto = onnxProto.onnx.IGraphProto;
type INodeProto = onnxProto.onnx.INodeProto;
type ITensorProto = onnxProto.onnx.ITensorProto;
type IValueInfoProto = onnxProto.onnx.IValueInfoProto;
type IAttributeProto = onnxProto.onnx.IAttributeProto;

/** ONNX IR version 8 goes with opset 17 (ONNX 1.12); onnx-proto 8 speaks IR 8. */
export const IR_VERSION = 8;
export const OPSET = 17;

export const DType = {
  float: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
} as const;
export type DTypeCode = (typeof DType)[keyof typeof DType];

/** A tensor attribute value; the builder picks the ONNX attribute type from the tag. */
export type Attr =
  | { int: number }
  | { float: number }
  | { ints: number[] }
  | { floats: number[] }
  | { string: string }
  | { graph: IGraphProto };

/** A dimension of a graph input/output: a fixed size or a symbolic name (dynamic). */
export type Dim = number | string;

function toAttribute(name: string, a: Attr): IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ('int' in a) return { name, type: T.INT, i: a.int };
  if ('float' in a) return { name, type: T.FLOAT, f: a.float };
  if ('ints' in a) return { name, type: T.INTS, ints: a.ints };
  if ('floats' in a) return { name, type: T.FLOATS, floats: a.floats };
  if ('string' in a) return { name, type: T.STRING, s: new TextEncoder().encode(a.string) };
  return { name, type: T.GRAPH, g: a.graph };
}

function valueInfo(name: string, elemType: DTypeCode, dims?: Dim[]): IValueInfoProto {
  const tensorType: onnxProto.onnx.TypeProto.ITensor = { elemType };
  if (dims) {
    tensorType.shape = {
      dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })),
    };
  }
  return { name, type: { tensorType } };
}

function bytesOf(a: Float32Array | BigInt64Array | Uint8Array): Uint8Array {
  // Copy: the source view may be a slice of a larger buffer (e.g. a safetensors file).
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

/**
 * Builds one ONNX graph: initializers, nodes with generated unique output names, inputs and
 * outputs. Subgraphs (the branches of an `If`) are further GraphBuilders that share the parent's
 * name counter, so their value names never collide with the parent's.
 */
export class GraphBuilder {
  readonly nodes: INodeProto[] = [];
  readonly initializers: ITensorProto[] = [];
  readonly inputs: IValueInfoProto[] = [];
  readonly outputs: IValueInfoProto[] = [];
  private readonly names: Set<string>;
  private readonly counter: { n: number };

  constructor(parent?: GraphBuilder) {
    this.names = parent ? parent.names : new Set();
    this.counter = parent ? parent.counter : { n: 0 };
  }

  /** A fresh value name with a readable stem. */
  fresh(stem: string): string {
    let name: string;
    do name = `${stem}_${this.counter.n++}`;
    while (this.names.has(name));
    this.names.add(name);
    return name;
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`ONNX graph: value name "${name}" is used twice`);
    this.names.add(name);
    return name;
  }

  input(name: string, elemType: DTypeCode, dims: Dim[]): string {
    this.inputs.push(valueInfo(this.claim(name), elemType, dims));
    return name;
  }

  /** Declares `value` a graph output (under its own name; use `identity` to rename first). */
  output(value: string, elemType: DTypeCode, dims?: Dim[]): void {
    this.outputs.push(valueInfo(value, elemType, dims));
  }

  /** A float initializer, stored as raw little-endian bytes. */
  floatInit(name: string, data: Float32Array, dims: number[]): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (data.length !== size) {
      throw new Error(`ONNX initializer "${name}": ${data.length} values for shape [${dims.join(', ')}]`);
    }
    this.initializers.push({ name: this.claim(name), dataType: DType.float, dims, rawData: bytesOf(data) });
    return name;
  }

  /** An int64 constant (shapes, axes, indices). Scalar when `dims` is []. */
  int64(values: number[], dims: number[] = [values.length]): string {
    const name = this.fresh('const');
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({ name, dataType: DType.int64, dims, rawData: bytesOf(data) });
    return name;
  }

  /** A float constant. Scalar when `dims` is []. */
  float(values: number[], dims: number[] = [values.length]): string {
    const name = this.fresh('const');
    this.initializers.push({ name, dataType: DType.float, dims, rawData: bytesOf(Float32Array.from(values)) });
    return name;
  }

  /** Adds a node with one output and returns the output's name. */
  op(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, outName?: string): string {
    const [out] = this.opN(opType, inputs, 1, attrs, outName ? [outName] : undefined);
    return out as string;
  }

  /** Adds a node with `n` outputs. */
  opN(opType: string, inputs: string[], n: number, attrs: Record<string, Attr> = {}, outNames?: string[]): string[] {
    const outputs = outNames
      ? outNames.map((o) => this.claim(o))
      : Array.from({ length: n }, () => this.fresh(opType.toLowerCase()));
    this.nodes.push({
      opType,
      input: inputs,
      output: outputs,
      name: `${opType}_${this.nodes.length}_${outputs[0]}`,
      attribute: Object.entries(attrs).map(([k, v]) => toAttribute(k, v)),
    });
    return outputs;
  }

  toGraph(name: string): IGraphProto {
    return {
      name,
      node: this.nodes,
      initializer: this.initializers,
      input: this.inputs,
      output: this.outputs,
    };
  }
}

export interface ModelMeta {
  producerVersion?: string;
  docString?: string;
  /** Stored as ModelProto.metadata_props (string key/value pairs). */
  metadata?: Record<string, string>;
}

/** Serialises a graph as an ONNX ModelProto (IR 8, default domain at opset 17). */
export function encodeModel(graph: IGraphProto, meta: ModelMeta = {}): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: 'ssl-vision',
    producerVersion: meta.producerVersion ?? '0.1.0',
    docString: meta.docString ?? '',
    opsetImport: [{ domain: '', version: OPSET }],
    graph,
    metadataProps: Object.entries(meta.metadata ?? {}).map(([key, value]) => ({ key, value })),
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Reads the metadata_props of an encoded model (without loading a runtime). */
export function readModelMetadata(bytes: Uint8Array): Record<string, string> {
  const model = onnx.ModelProto.decode(bytes);
  const out: Record<string, string> = {};
  for (const p of model.metadataProps) if (p.key) out[p.key] = p.value ?? '';
  return out;
}
