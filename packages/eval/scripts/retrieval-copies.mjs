// Writes a retrieval benchmark from the bundled photos: database/<photo>/<photo>.jpg (the
// originals) and queries/<photo>/copyN.jpg (seeded strong-edit copies: crop, rescale, rotation,
// JPEG, colour, text, flip), so `ssl-eval retrieval --queries ... --database ...` scores it with
// the sub-folder names as labels.
// usage (after pnpm build): node scripts/retrieval-copies.mjs OUT_DIR [copies per photo, default 4] [seed, default 0]
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundledPhotosDir, makeCopy } from '../dist/index.js';

const [out, perArg = '4', seedArg = '0'] = process.argv.slice(2);
if (!out) {
  console.error('usage: node scripts/retrieval-copies.mjs OUT_DIR [copies per photo] [seed]');
  process.exit(2);
}
const per = Number(perArg);
const photos = readdirSync(bundledPhotosDir()).filter((f) => f.endsWith('.jpg')).sort();
let n = 0;
for (const [p, file] of photos.entries()) {
  const name = file.replace(/\.jpg$/, '');
  const bytes = readFileSync(join(bundledPhotosDir(), file));
  mkdirSync(join(out, 'database', name), { recursive: true });
  mkdirSync(join(out, 'queries', name), { recursive: true });
  writeFileSync(join(out, 'database', name, file), bytes);
  for (let c = 0; c < per; c++) {
    const copy = await makeCopy(bytes, Number(seedArg), p * per + c);
    const jpeg = copy.data[0] === 0xff && copy.data[1] === 0xd8;
    writeFileSync(join(out, 'queries', name, `copy${c}.${jpeg ? 'jpg' : 'png'}`), copy.data);
    n++;
  }
}
console.log(`${photos.length} database photos, ${n} query copies in ${out}`);
