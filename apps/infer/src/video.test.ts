import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeImage } from '@ssl/augment';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testImage, tinyVitOnnx } from './fixtures.test-helpers.js';
import { loadModel, type LoadedModel } from './model.js';
import { resolvePreprocess } from './preprocess.js';
import { attentionFrame, attentionVideo, probeVideo, readVideoFrames, videoFrameInput } from './video.js';

const dir = mkdtempSync(join(tmpdir(), 'ssl-video-'));
const pre = resolvePreprocess({ crop: 32, resize: 36 });
let model: LoadedModel;
beforeAll(async () => {
  model = await loadModel(tinyVitOnnx(), pre, { intraOpThreads: 1 });
});
afterAll(async () => {
  await model.extractor.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('attention videos (video_generation.py, streamed through ffmpeg)', () => {
  it('decodes frames one by one and writes a video at the source frame rate', async () => {
    const src = join(dir, 'in.mp4');
    // 6 frames of 50x42 at 7 fps: the odd size checks the crop to patch multiples (48x40) and the encoder's padding
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=50x42:rate=7', '-frames:v', '6', '-pix_fmt', 'yuv444p', '-c:v', 'libx264', '-qp', '0', src]);
    const info = probeVideo(src);
    expect(info).toMatchObject({ width: 50, height: 42, fps: 7, frames: 6 });
    let n = 0;
    for await (const f of readVideoFrames(src, info)) {
      expect([f.width, f.height, f.data.length]).toEqual([50, 42, 50 * 42 * 3]);
      n++;
    }
    expect(n).toBe(6);

    const seen: [number, number | null][] = [];
    const out = join(dir, 'attn.mp4');
    const r = await attentionVideo(model, pre, { input: src, out, threshold: 0.6, progress: (d, t) => seen.push([d, t]) });
    expect(r).toEqual({ frames: 6, fps: 7, width: 96, height: 40 }); // heat map | mask overlay, each 48x40
    expect(seen.at(-1)).toEqual([6, 6]);
    expect(probeVideo(out)).toMatchObject({ width: 96, height: 40, fps: 7, frames: 6 });
  });

  it('renders a folder of frames to numbered PNGs equal to a direct run, every head with --all-heads', async () => {
    const frames = join(dir, 'frames');
    mkdirSync(frames);
    for (let i = 0; i < 3; i++) writeFileSync(join(frames, `f${i}.png`), await testImage(i + 1, 48, 40));
    const out = join(dir, 'out');
    const r = await attentionVideo(model, pre, { input: frames, out, threshold: 0.6, allHeads: true });
    expect(r).toMatchObject({ frames: 3, width: 5 * 48, height: 2 * 40 }); // 4 heads + mean, heat over masks
    expect(readdirSync(out).sort()).toEqual(['attn-00000.png', 'attn-00001.png', 'attn-00002.png']);

    const img = await decodeImage(join(frames, 'f1.png'), { channels: 3 });
    const { image, input } = videoFrameInput(img, pre, 8);
    const att = (await model.extractor.run({ input }, ['attention']))['attention']!;
    const want = attentionFrame(image, att, 8, 0.6, true);
    const got = await decodeImage(join(out, 'attn-00001.png'), { channels: 3 });
    expect(Buffer.from(got.data).equals(Buffer.from(want.rgb))).toBe(true);
    // the mask row shows the frame itself outside the mask and red inside it
    const maskTile = (y: number, x: number): number[] => Array.from(got.data.subarray(((40 + y) * 240 + x) * 3, ((40 + y) * 240 + x) * 3 + 3));
    let same = 0;
    let red = 0;
    for (let y = 0; y < 40; y++) {
      for (let x = 0; x < 48; x++) {
        const f = Array.from(image.data.subarray((y * 48 + x) * 3, (y * 48 + x) * 3 + 3));
        const m = maskTile(y, x);
        if (m.every((v, c) => v === f[c])) same++;
        else if ((m[0] as number) >= (f[0] as number)) red++;
      }
    }
    expect(same).toBeGreaterThan(0);
    expect(red).toBeGreaterThan(0);
    expect(same + red).toBe(48 * 40);
  });

  it('names what is wrong: an unreadable video, an empty folder', async () => {
    writeFileSync(join(dir, 'bad.mp4'), 'not a video');
    expect(() => probeVideo(join(dir, 'bad.mp4'))).toThrow(/bad\.mp4: not a readable video/);
    mkdirSync(join(dir, 'empty'));
    await expect(attentionVideo(model, pre, { input: join(dir, 'empty'), out: join(dir, 'o'), threshold: 0.6 })).rejects.toThrow(/no frames/);
  });
});
