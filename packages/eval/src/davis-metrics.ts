/**
 * DAVIS region and boundary scores of one binary mask against its ground truth, as the
 * davis2017-evaluation code (`metrics.py`): J = intersection over union (1 when both are empty),
 * F = boundary F-measure with boundaries matched within a disc of ceil(0.008 * image diagonal)
 * pixels.
 */
export function regionJ(mask: Uint8Array, gt: Uint8Array): number {
  if (mask.length !== gt.length) throw new Error(`regionJ: mask has ${mask.length} pixels, ground truth ${gt.length}`);
  let inter = 0;
  let union = 0;
  for (let i = 0; i < mask.length; i++) {
    const a = mask[i] !== 0;
    const b = gt[i] !== 0;
    if (a && b) inter++;
    if (a || b) union++;
  }
  return union === 0 ? 1 : inter / union;
}

/** One-pixel boundary of a binary mask, as DAVIS `seg2bmap` at the mask's own size. */
export function boundaryMap(mask: Uint8Array, h: number, w: number): Uint8Array {
  const at = (y: number, x: number): number => (y < h && x < w && mask[y * w + x] !== 0 ? 1 : 0);
  const b = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = at(y, x);
      // east, south and south-east neighbours (zero beyond the border), as seg2bmap
      const e = x + 1 < w ? at(y, x + 1) : 0;
      const so = y + 1 < h ? at(y + 1, x) : 0;
      const se = x + 1 < w && y + 1 < h ? at(y + 1, x + 1) : 0;
      let v = s ^ e || s ^ so || s ^ se ? 1 : 0;
      if (y === h - 1) v = s ^ e;
      if (x === w - 1) v = s ^ so;
      if (y === h - 1 && x === w - 1) v = 0;
      b[y * w + x] = v;
    }
  }
  return b;
}

/** Binary dilation with a disc of radius r (x^2 + y^2 <= r^2, as skimage `disk`). */
function dilate(m: Uint8Array, h: number, w: number, r: number): Uint8Array {
  const out = new Uint8Array(h * w);
  const offsets: [number, number][] = [];
  for (let dy = -r; dy <= r; dy++) for (let dx = -r; dx <= r; dx++) if (dx * dx + dy * dy <= r * r) offsets.push([dy, dx]);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!m[y * w + x]) continue;
      for (const [dy, dx] of offsets) {
        const yy = y + dy;
        const xx = x + dx;
        if (yy >= 0 && yy < h && xx >= 0 && xx < w) out[yy * w + xx] = 1;
      }
    }
  }
  return out;
}

/** DAVIS boundary F-measure (`f_measure`, bound_th 0.008). */
export function boundaryF(mask: Uint8Array, gt: Uint8Array, h: number, w: number, boundTh = 0.008): number {
  if (mask.length !== h * w || gt.length !== h * w) throw new Error(`boundaryF: masks must have ${h}x${w} pixels`);
  const r = boundTh >= 1 ? boundTh : Math.ceil(boundTh * Math.hypot(h, w));
  const fb = boundaryMap(mask, h, w);
  const gb = boundaryMap(gt, h, w);
  const fd = dilate(fb, h, w, r);
  const gd = dilate(gb, h, w, r);
  let nF = 0;
  let nG = 0;
  let fMatch = 0;
  let gMatch = 0;
  for (let i = 0; i < h * w; i++) {
    nF += fb[i] as number;
    nG += gb[i] as number;
    if (fb[i] && gd[i]) fMatch++;
    if (gb[i] && fd[i]) gMatch++;
  }
  let precision: number;
  let recall: number;
  if (nF === 0 && nG > 0) [precision, recall] = [1, 0];
  else if (nF > 0 && nG === 0) [precision, recall] = [0, 1];
  else if (nF === 0 && nG === 0) [precision, recall] = [1, 1];
  else [precision, recall] = [fMatch / nF, gMatch / nG];
  return precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
}

export interface DavisScore {
  /** Mean J and F over objects (each object's mean over the scored frames), and their mean. */
  J: number;
  F: number;
  JF: number;
  /** Per object id: mean J and F. */
  objects: { id: number; J: number; F: number }[];
  frames: number;
}

/**
 * DAVIS semi-supervised scores of a video: for every object id of the first ground-truth frame,
 * J and F on each frame except the first and the last (as davis2017-evaluation), averaged per
 * object, then over objects. `results[i]` / `truths[i]` are label maps of frame i (truth may be
 * null where a frame has no annotation: it is skipped).
 */
export function davisScore(results: readonly Uint8Array[], truths: readonly (Uint8Array | null)[], h: number, w: number): DavisScore {
  if (results.length !== truths.length) throw new Error(`davisScore: ${results.length} results for ${truths.length} ground-truth frames`);
  const first = truths[0];
  if (!first) throw new Error('davisScore: the first frame needs a ground truth');
  const ids = [...new Set(first)].filter((v) => v !== 0).sort((a, b) => a - b);
  const scored = results.map((_, i) => i).filter((i) => i > 0 && i < results.length - 1 && truths[i]);
  const objects = ids.map((id) => {
    let j = 0;
    let f = 0;
    for (const i of scored) {
      const r = (results[i] as Uint8Array).map((v) => (v === id ? 1 : 0));
      const g = (truths[i] as Uint8Array).map((v) => (v === id ? 1 : 0));
      j += regionJ(r, g);
      f += boundaryF(r, g, h, w);
    }
    const n = Math.max(1, scored.length);
    return { id, J: j / n, F: f / n };
  });
  const mean = (xs: number[]): number => (xs.length ? xs.reduce((s, v) => s + v, 0) / xs.length : NaN);
  const J = mean(objects.map((o) => o.J));
  const F = mean(objects.map((o) => o.F));
  return { J, F, JF: (J + F) / 2, objects, frames: scored.length };
}
