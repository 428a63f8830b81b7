import sharp from 'sharp';
import { Rng, type RngSeed } from '@ssl/tensor';

/**
 * Seeded generator of image copies with strong edits, in the spirit of Copydays "strong" and
 * its crop / JPEG blocks: crop, rescale, rotation, JPEG quality, colour change, overlaid text and
 * flip. Each copy draws its edits from `Rng(seed, index)` only, so a copy set is reproducible
 * and independent of generation order.
 */
export type CopyEdit = 'crop' | 'rescale' | 'rotate' | 'jpeg' | 'colour' | 'text' | 'flip';

export const COPY_EDITS: readonly CopyEdit[] = ['crop', 'rescale', 'rotate', 'jpeg', 'colour', 'text', 'flip'];

export interface CopyOptions {
  /** Probability of each edit (default: all 0.5; crop and jpeg 0.8 since Copydays stresses them). */
  probabilities?: Partial<Record<CopyEdit, number>>;
  /** Smallest kept area of a crop, as a fraction (default 0.3). */
  minCropArea?: number;
  /** JPEG quality range (default [5, 50]). */
  jpegQuality?: [number, number];
  /** Largest rotation in degrees (default 30). */
  maxRotation?: number;
  /** Always apply at least this many edits (default 2). */
  minEdits?: number;
}

export interface ImageCopy {
  /** The edited image, encoded (JPEG when the jpeg edit was drawn, else PNG). */
  data: Buffer;
  /** Edits applied, in order, with their drawn parameters. */
  edits: string[];
}

const WORDS = ['COPY', 'sample', 'ssl-vision', 'DINO', '2026', 'photo', 'news', 'sale', 'hello', 'meme'];

const DEFAULT_P: Record<CopyEdit, number> = { crop: 0.8, rescale: 0.5, rotate: 0.5, jpeg: 0.8, colour: 0.5, text: 0.5, flip: 0.5 };

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Make one copy of `source` (an encoded image or a path) with edits drawn from `Rng(seed, index)`. */
export async function makeCopy(source: Buffer | string, seed: RngSeed, index: number, options: CopyOptions = {}): Promise<ImageCopy> {
  const rng = new Rng(seed, 'copy', index);
  const p = { ...DEFAULT_P, ...options.probabilities };
  const minEdits = options.minEdits ?? 2;
  let chosen = COPY_EDITS.filter((e) => rng.bernoulli(p[e]));
  // top up to minEdits with edits not yet drawn, in a seeded order
  if (chosen.length < minEdits) {
    const rest = COPY_EDITS.filter((e) => !chosen.includes(e));
    const perm = rng.permutation(rest.length);
    for (let i = 0; i < perm.length && chosen.length < minEdits; i++) chosen.push(rest[perm[i] as number] as CopyEdit);
    chosen = COPY_EDITS.filter((e) => chosen.includes(e));
  }
  // the encoding step goes last so its artefacts are not smoothed away by later edits
  let buf: Buffer = await sharp(source).removeAlpha().png().toBuffer();
  const edits: string[] = [];
  let jpegQuality: number | undefined;
  for (const edit of chosen) {
    const { width: w = 1, height: h = 1 } = await sharp(buf).metadata();
    switch (edit) {
      case 'crop': {
        const area = rng.uniform(options.minCropArea ?? 0.3, 0.9);
        const aspect = Math.exp(rng.uniform(Math.log(3 / 4), Math.log(4 / 3)));
        const cw = Math.max(8, Math.min(w, Math.round(Math.sqrt(area * w * h * aspect))));
        const ch = Math.max(8, Math.min(h, Math.round(Math.sqrt((area * w * h) / aspect))));
        const left = rng.integer(0, w - cw + 1);
        const top = rng.integer(0, h - ch + 1);
        buf = await sharp(buf).extract({ left, top, width: cw, height: ch }).png().toBuffer();
        edits.push(`crop ${cw}x${ch}+${left}+${top}`);
        break;
      }
      case 'rescale': {
        const s = rng.uniform(0.4, 1.6);
        buf = await sharp(buf).resize(Math.max(8, Math.round(w * s)), Math.max(8, Math.round(h * s))).png().toBuffer();
        edits.push(`rescale ${s.toFixed(2)}`);
        break;
      }
      case 'rotate': {
        const maxR = options.maxRotation ?? 30;
        const deg = rng.uniform(-maxR, maxR);
        const bg = { r: rng.integer(0, 256), g: rng.integer(0, 256), b: rng.integer(0, 256) };
        buf = await sharp(buf).rotate(deg, { background: bg }).png().toBuffer();
        edits.push(`rotate ${deg.toFixed(1)}`);
        break;
      }
      case 'colour': {
        const brightness = rng.uniform(0.6, 1.4);
        const saturation = rng.uniform(0.3, 1.7);
        const hue = rng.integer(-60, 61);
        buf = await sharp(buf).modulate({ brightness, saturation, hue }).png().toBuffer();
        edits.push(`colour b${brightness.toFixed(2)} s${saturation.toFixed(2)} h${hue}`);
        break;
      }
      case 'text': {
        const word = `${WORDS[rng.integer(0, WORDS.length)]} ${WORDS[rng.integer(0, WORDS.length)]}`;
        const size = Math.max(8, Math.round(h * rng.uniform(0.1, 0.25)));
        const x = Math.round(w * rng.uniform(0, 0.4));
        const y = Math.round(h * rng.uniform(0.2, 0.95));
        const fill = rng.bernoulli(0.5) ? 'white' : 'black';
        const svg = `<svg width="${w}" height="${h}" xmlns="http://www.w3.org/2000/svg"><text x="${x}" y="${y}" font-family="sans-serif" font-weight="bold" font-size="${size}" fill="${fill}" stroke="${fill === 'white' ? 'black' : 'white'}" stroke-width="${Math.max(1, size / 16)}">${escapeXml(word)}</text></svg>`;
        buf = await sharp(buf).composite([{ input: Buffer.from(svg), left: 0, top: 0 }]).png().toBuffer();
        edits.push(`text "${word}" ${size}px`);
        break;
      }
      case 'flip': {
        buf = await sharp(buf).flop().png().toBuffer();
        edits.push('flip');
        break;
      }
      case 'jpeg': {
        const [lo, hi] = options.jpegQuality ?? [5, 50];
        jpegQuality = rng.integer(lo, hi + 1);
        break;
      }
    }
  }
  if (jpegQuality !== undefined) {
    buf = await sharp(buf).jpeg({ quality: jpegQuality }).toBuffer();
    edits.push(`jpeg q${jpegQuality}`);
  }
  return { data: buf, edits };
}
