import { crc32 } from 'node:zlib';
import { exportViT, type StateDict } from '@ssl/onnx';
import sharp from 'sharp';

/** Deterministic pseudo-random floats (mulberry32) for test weights. */
function rand(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A small DINO-structured ViT state dict: 32x32 images, patch 8, width 32, 2 blocks, 4 heads. */
export function tinyVitStateDict(seed = 1, inChans = 3, imgSize = 32, patch = 8): StateDict {
  const r = rand(seed);
  const D = 32;
  const n = (imgSize / patch) ** 2;
  const t = (shape: number[], scale = 0.1, offset = 0): { data: Float32Array; shape: number[] } => ({
    data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => offset + (r() * 2 - 1) * scale),
    shape,
  });
  const sd: StateDict = {
    'patch_embed.proj.weight': t([D, inChans, patch, patch], 0.05),
    'patch_embed.proj.bias': t([D]),
    cls_token: t([1, 1, D]),
    pos_embed: t([1, n + 1, D], 0.5),
    'norm.weight': t([D], 0.1, 1),
    'norm.bias': t([D]),
  };
  for (let i = 0; i < 2; i++) {
    const b = `blocks.${i}`;
    Object.assign(sd, {
      [`${b}.norm1.weight`]: t([D], 0.1, 1),
      [`${b}.norm1.bias`]: t([D]),
      [`${b}.attn.qkv.weight`]: t([3 * D, D], 0.3),
      [`${b}.attn.qkv.bias`]: t([3 * D]),
      [`${b}.attn.proj.weight`]: t([D, D], 0.2),
      [`${b}.attn.proj.bias`]: t([D]),
      [`${b}.norm2.weight`]: t([D], 0.1, 1),
      [`${b}.norm2.bias`]: t([D]),
      [`${b}.mlp.fc1.weight`]: t([4 * D, D], 0.2),
      [`${b}.mlp.fc1.bias`]: t([4 * D]),
      [`${b}.mlp.fc2.weight`]: t([D, 4 * D], 0.1),
      [`${b}.mlp.fc2.bias`]: t([D]),
    });
  }
  return sd;
}

export function tinyVitOnnx(seed = 1): Uint8Array {
  return exportViT(tinyVitStateDict(seed), { numHeads: 4 });
}

/** A smooth random-ish RGB test picture encoded as PNG (or JPEG). */
export async function testImage(seed: number, width = 48, height = 40, format: 'png' | 'jpeg' = 'png'): Promise<Buffer> {
  const r = rand(seed);
  const a = [r(), r(), r(), r(), r(), r()];
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const v = 128 + 100 * Math.sin(x * (a[c] as number) * 0.5 + y * (a[c + 3] as number) * 0.4 + c);
        raw[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  const img = sharp(raw, { raw: { width, height, channels: 3 } });
  return format === 'png' ? img.png().toBuffer() : img.jpeg({ quality: 90 }).toBuffer();
}

/** A PNG whose header claims `width` x `height` (CRC fixed up), with the small real payload. */
export async function pngWithClaimedSize(width: number, height: number): Promise<Buffer> {
  const png = Buffer.from(await testImage(3, 8, 8));
  // IHDR data starts at byte 16 (8 signature + 4 length + 4 type); CRC covers type + data.
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)) >>> 0, 29);
  return png;
}

/**
 * A "progressive JPEG bomb": a tiny progressive JPEG whose frame header (SOF2) claims 65000 x 65000
 * pixels, so a decoder that trusted it would allocate gigabytes.
 */
export async function progressiveJpegBomb(): Promise<Buffer> {
  const raw = Buffer.alloc(16 * 16 * 3, 90);
  const jpg = Buffer.from(await sharp(raw, { raw: { width: 16, height: 16, channels: 3 } }).jpeg({ progressive: true }).toBuffer());
  for (let i = 2; i < jpg.length - 9; i++) {
    if (jpg[i] === 0xff && jpg[i + 1] === 0xc2) {
      jpg.writeUInt16BE(65000, i + 5); // height
      jpg.writeUInt16BE(65000, i + 7); // width
      return jpg;
    }
  }
  throw new Error('no SOF2 marker in the progressive JPEG');
}
