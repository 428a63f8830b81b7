// tf.variableGrads with the memory behaviour of PyTorch's autograd: tfjs's backward pass keeps
// every tape node's saved tensors and every intermediate gradient alive until the pass ends, so a
// train step holds all of its gradients at once and each new one lands in memory that has long
// left the caches. Here each node's saved tensors and its outputs' gradients are disposed as soon
// as that node's gradient is computed: the step's peak memory drops and freed buffers are reused
// while still warm. Same nodes, same order, same ops: the gradients are the same bits.
import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensorMap, Scalar, Tensor, Variable } from '@tensorflow/tfjs-core';

/** The parts of tfjs's Engine and its tape this relies on (tfjs-core 4.x). */
interface TapeNode {
  id: number;
  kernelName: string;
  inputs: NamedTensorMap;
  outputs: Tensor[];
  saved?: Tensor[];
  gradient?: (dys: Array<Tensor | null>) => Record<string, () => Tensor>;
}

interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  registeredVariables: Record<string, Variable>;
  startTape(): void;
  endTape(): void;
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  tidy<T>(name: string, f: () => T): T;
}

function engineInternals(): EngineInternals | undefined {
  const e = tf.engine() as unknown as Partial<EngineInternals>;
  const ok = typeof e.startTape === 'function' && typeof e.endTape === 'function' && typeof e.scopedRun === 'function' && e.state !== undefined;
  return ok ? (e as EngineInternals) : undefined;
}

/** The nodes on a path from some x to y, each with only its inputs that depend on an x (tfjs's rule). */
function nodesFromXToY(tape: TapeNode[], xs: Tensor[], y: Tensor): TapeNode[] {
  const fromX = new Set(xs.map((x) => x.id));
  const nodeFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => fromX.has(t.id))) {
      nodeFromX.add(node.id);
      for (const o of node.outputs) fromX.add(o.id);
    }
  }
  const toY = new Set([y.id]);
  const nodeToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    const inputs = Object.values(node.inputs);
    if (inputs.length > 0 && node.outputs.some((o) => toY.has(o.id))) {
      nodeToY.add(node.id);
      for (const t of inputs) toY.add(t.id);
    }
  }
  return tape
    .filter((node) => nodeFromX.has(node.id) && nodeToY.has(node.id))
    .map((node) => ({ ...node, inputs: Object.fromEntries(Object.entries(node.inputs).filter(([, t]) => fromX.has(t.id))) }));
}

/**
 * `tf.variableGrads(f, varList)`: the value of the scalar `f()` and its gradient for each trainable
 * variable (by variable name), with each intermediate freed once the backward pass has used it.
 * Falls back to tfjs's own where this is not the outermost gradient computation.
 */
export function variableGrads(f: () => Scalar, varList?: Variable[]): { value: Scalar; grads: NamedTensorMap } {
  const engine = engineInternals();
  if (!engine || engine.state.gradientDepth !== 0) return tf.variableGrads(f, varList);
  const all = varList ?? Object.values(engine.registeredVariables);
  const xs = all.filter((v) => v.trainable);
  if (xs.length === 0) throw new Error(`variableGrads: none of the ${all.length} variables is trainable`);

  const y = engine.scopedRun(
    () => engine.startTape(),
    () => engine.endTape(),
    () => engine.tidy('forward', f),
  );
  if (!(y instanceof tf.Tensor) || y.rank !== 0) throw new Error(`variableGrads: f must return a scalar, got ${y instanceof tf.Tensor ? `a rank-${y.rank} tensor` : String(y)}`);
  const tape = engine.state.activeTape ?? [];
  const grads = engine.tidy('backward', () => {
    const filtered = nodesFromXToY(tape, xs, y);
    const keepIds = new Set(xs.map((x) => x.id));
    // The node that produces each tensor first: a node may return a tensor an earlier one produced
    // (tf.customGrad returning its input), whose gradient must then live on until that one.
    const firstProducer = new Map<number, number>();
    filtered.forEach((node, i) => node.outputs.forEach((o) => firstProducer.has(o.id) || firstProducer.set(o.id, i)));
    const dyOfY = tf.onesLike(y);
    // Tensors from before this pass (a gradient function may return one it kept) are not ours to free.
    const ours = (t: Tensor) => t.id >= dyOfY.id;
    const gradOf = new Map<number, Tensor>([[y.id, dyOfY]]);
    // How many entries of gradOf hold each tensor: one gradient tensor may stand for several.
    const holders = new Map<Tensor, number>([[dyOfY, 1]]);
    const hold = (id: number, g: Tensor) => {
      gradOf.set(id, g);
      holders.set(g, (holders.get(g) ?? 0) + 1);
    };
    const release = (id: number) => {
      const g = gradOf.get(id);
      if (g === undefined) return;
      gradOf.delete(id);
      const n = (holders.get(g) ?? 1) - 1;
      if (n > 0) holders.set(g, n);
      else {
        holders.delete(g);
        if (ours(g)) g.dispose();
      }
    };
    for (let i = filtered.length - 1; i >= 0; i--) {
      const node = filtered[i]!;
      if (!node.gradient) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
      const inputGrads = node.gradient(node.outputs.map((o) => gradOf.get(o.id) ?? null));
      for (const [name, x] of Object.entries(node.inputs)) {
        const make = inputGrads[name];
        if (!make) throw new Error(`Cannot backprop through input ${name} of ${node.kernelName}.`);
        const dx = engine.tidy(name, make);
        if (dx.dtype !== 'float32') throw new Error(`The gradient of input ${name} of ${node.kernelName} must be float32, got ${dx.dtype}`);
        if (!tf.util.arraysEqual(dx.shape, x.shape)) {
          throw new Error(`The gradient of input '${name}' of ${node.kernelName} has shape [${dx.shape}], not the input's [${x.shape}]`);
        }
        const previous = gradOf.get(x.id);
        if (previous === undefined) hold(x.id, dx);
        else {
          const sum = tf.add(previous, dx);
          release(x.id);
          hold(x.id, sum);
          if (!holders.has(dx) && ours(dx)) dx.dispose();
        }
      }
      // This node was the last consumer of the gradients of the outputs it produced first (not of
      // one that is also its input or a variable asked for), and of its saved tensors.
      const inputIds = new Set(Object.values(node.inputs).map((t) => t.id));
      for (const o of node.outputs) {
        if (firstProducer.get(o.id) === i && !inputIds.has(o.id) && !keepIds.has(o.id)) release(o.id);
      }
      for (const t of node.saved ?? []) t.dispose();
    }
    return xs.map((x) => gradOf.get(x.id) ?? null);
  });
  for (const node of tape) for (const t of node.saved ?? []) t.dispose();
  engine.state.activeTape = null;
  if (!grads.some((g) => g !== null)) throw new Error('variableGrads: no variable is connected to the result of f');
  const named: NamedTensorMap = {};
  xs.forEach((v, i) => {
    if (grads[i]) named[v.name] = grads[i]!;
  });
  // As tfjs: frozen variables get null only when the caller listed them.
  if (varList) for (const v of all) if (!v.trainable) (named as Record<string, Tensor | null>)[v.name] = null;
  return { value: y as Scalar, grads: named };
}
