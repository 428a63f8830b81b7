import { deflateSync, inflateSync } from 'node:zlib';
import sharp from 'sharp';

/**
 * The DAVIS / PASCAL VOC palette (256 RGB colours): label 0 black, 1 dark red, 2 dark green, ...
 * (the bits of the label spread over the high bits of R, G, B), the palette of DAVIS annotations
 * and of the official script's output.
 */
export function davisPalette(): Uint8Array {
  const p = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    let c = i;
    let r = 0;
    let g = 0;
    let b = 0;
    for (let j = 0; j < 8; j++) {
      r |= ((c >> 0) & 1) << (7 - j);
      g |= ((c >> 1) & 1) << (7 - j);
      b |= ((c >> 2) & 1) << (7 - j);
      c >>= 3;
    }
    p.set([r, g, b], i * 3);
  }
  return p;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (CRC_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** An 8-bit palette PNG of a label map (what DAVIS tools read back as label indices). */
export function encodeIndexedPng(labels: Uint8Array, height: number, width: number, palette: Uint8Array = davisPalette()): Buffer {
  if (labels.length !== height * width) throw new Error(`encodeIndexedPng: ${labels.length} labels for ${height}x${width}`);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 3, 0, 0, 0], 8); // bit depth 8, colour type 3 (palette)
  const raw = Buffer.alloc(height * (width + 1));
  for (let y = 0; y < height; y++) raw.set(labels.subarray(y * width, (y + 1) * width), y * (width + 1) + 1); // filter 0
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('PLTE', palette),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** Reverses PNG filters of 8-bit rows of `bpp` bytes per pixel. */
function unfilter(data: Buffer, height: number, rowBytes: number, bpp: number): Uint8Array {
  const out = new Uint8Array(height * rowBytes);
  for (let y = 0; y < height; y++) {
    const f = data[y * (rowBytes + 1)] as number;
    const src = y * (rowBytes + 1) + 1;
    for (let x = 0; x < rowBytes; x++) {
      const a = x >= bpp ? (out[y * rowBytes + x - bpp] as number) : 0;
      const b = y > 0 ? (out[(y - 1) * rowBytes + x] as number) : 0;
      const c = x >= bpp && y > 0 ? (out[(y - 1) * rowBytes + x - bpp] as number) : 0;
      let pred = 0;
      if (f === 1) pred = a;
      else if (f === 2) pred = b;
      else if (f === 3) pred = (a + b) >> 1;
      else if (f === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else if (f !== 0) throw new Error(`PNG: unknown filter ${f}`);
      out[y * rowBytes + x] = ((data[src + x] as number) + pred) & 0xff;
    }
  }
  return out;
}

/**
 * A mask PNG as label indices: an 8-bit palette or grey PNG gives its stored indices (DAVIS
 * annotations); any other image is read as colours, black = 0 and each other colour its index in
 * the DAVIS palette (or, if not there, the next free label in order of appearance).
 */
export async function decodeLabelPng(bytes: Uint8Array, name = 'mask'): Promise<{ labels: Uint8Array; height: number; width: number }> {
  const buf = Buffer.from(bytes);
  if (buf.length > 33 && buf.readUInt32BE(0) === 0x89504e47) {
    const width = buf.readUInt32BE(16);
    const height = buf.readUInt32BE(20);
    const depth = buf[24];
    const type = buf[25];
    const interlace = buf[28];
    if (depth === 8 && (type === 3 || type === 0) && interlace === 0) {
      const idat: Buffer[] = [];
      for (let off = 8; off < buf.length; ) {
        const len = buf.readUInt32BE(off);
        const t = buf.toString('latin1', off + 4, off + 8);
        if (t === 'IDAT') idat.push(buf.subarray(off + 8, off + 8 + len));
        off += 12 + len;
      }
      return { labels: unfilter(inflateSync(Buffer.concat(idat)), height, width, 1), height, width };
    }
  }
  const { data, info } = await sharp(buf).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`${name}: expected an RGB or palette mask, got ${info.channels} channels`);
  const palette = davisPalette();
  const byColour = new Map<number, number>();
  for (let i = 0; i < 256; i++) byColour.set(((palette[i * 3] as number) << 16) | ((palette[i * 3 + 1] as number) << 8) | (palette[i * 3 + 2] as number), i);
  const seen = new Map<number, number>();
  let next = 1;
  const labels = new Uint8Array(info.width * info.height);
  for (let p = 0; p < labels.length; p++) {
    const key = ((data[p * 3] as number) << 16) | ((data[p * 3 + 1] as number) << 8) | (data[p * 3 + 2] as number);
    let l = seen.get(key);
    if (l === undefined) {
      l = byColour.get(key) ?? next;
      if (l >= next) next = l + 1;
      if (next > 256) throw new Error(`${name}: more than 255 mask colours`);
      seen.set(key, l);
    }
    labels[p] = l;
  }
  return { labels, height: info.height, width: info.width };
}
