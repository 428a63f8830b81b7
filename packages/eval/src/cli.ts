#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { FASHION_MNIST_MEAN, FASHION_MNIST_STD } from '@ssl/augment';
import { defaultFashionMnistDir, FashionMNIST } from '@ssl/data';
import { createModel, type VisionTransformer } from '@ssl/models';
import { initBackend, parsePrecision } from '@ssl/tensor';
import { vitFromWeights, WEIGHTS_FLAGS, WEIGHTS_HELP, weightsFlag } from './cli-common.js';
import { retrievalCommand } from './retrieval-cli.js';
import { videoSegCommand } from './video-seg-cli.js';
import { runEvalSuite } from './suite.js';

const HELP = `ssl-eval: evaluate a ViT checkpoint on Fashion-MNIST and bundled photos

usage: ssl-eval (--weights <file.pth | file.safetensors | checkpoint dir> | --random-init) [options]
       ssl-eval retrieval ...   image retrieval (revisited Oxford/Paris, or query/database folders); --help
       ssl-eval video-seg ...   video object segmentation by label propagation on DAVIS-layout folders, J and F; --help

${WEIGHTS_HELP}  --random-init          a randomly initialised ViT instead (see --arch, --patch-size, --depth, --seed)
  --arch NAME            vit_tiny | vit_small | vit_base (random init; default vit_tiny)
  --embed-dim N          random init; default 96 (with the defaults below: ssl-train's Fashion-MNIST ViT)
  --patch-size N         random init; default 4
  --depth N              random init; default 4 (heads: --num-heads, default 3)
  --seed N               model init and copy generator seed; default 0
  --data DIR             Fashion-MNIST IDX directory; default ${defaultFashionMnistDir()}
  --train-limit N        first N train images as the k-NN memory (default 10000; 0 = all 60000)
  --test-limit N         first N test images as k-NN queries (default 10000 = the whole test split)
  --k LIST               comma-separated k values (default 10,20,100,200; 20 is the headline)
  --temperature T        k-NN vote temperature (default 0.07)
  --snn-per-class N      labelled train images per class for the PAWS soft-NN (default 10)
  --linear-epochs N      also train a linear probe on the frozen CLS features for N epochs (default 0: off)
  --linear-lr LR         its learning rate per 256 images (default 1 for small data; eval_linear's 0.001 is for ImageNet)
  --seg-images N         test images scored for segmentation (default 500)
  --threshold T          attention mass kept by the masks (default 0.6)
  --copies N             copies per photo for copy detection (default 4)
  --whitening-copies N   also report mAP after PCA whitening learnt on N copies from a disjoint seed (default 0)
  --out DIR              write attention PNGs here (default ./eval-out)
  --png-images N         test images to visualise, with one photo (default 4; 0: no PNGs)
  --batch-size N         default 128
  --precision P          fp32 (default) or bf16: features with matmuls/convolutions in bf16 where the CPU supports it
  --json                 print the result as JSON
`;

async function main(): Promise<void> {
  const sub = process.argv[2];
  if (sub === 'retrieval') return retrievalCommand(process.argv.slice(3));
  if (sub === 'video-seg') return videoSegCommand(process.argv.slice(3));
  const { values } = parseArgs({
    options: {
      ...WEIGHTS_FLAGS,
      'random-init': { type: 'boolean' },
      arch: { type: 'string', default: 'vit_tiny' },
      'embed-dim': { type: 'string', default: '96' },
      'patch-size': { type: 'string', default: '4' },
      depth: { type: 'string', default: '4' },
      seed: { type: 'string', default: '0' },
      data: { type: 'string' },
      'train-limit': { type: 'string', default: '10000' },
      'test-limit': { type: 'string', default: '10000' },
      k: { type: 'string', default: '10,20,100,200' },
      temperature: { type: 'string', default: '0.07' },
      'seg-images': { type: 'string', default: '500' },
      'snn-per-class': { type: 'string', default: '10' },
      'linear-epochs': { type: 'string', default: '0' },
      'linear-lr': { type: 'string' },
      threshold: { type: 'string', default: '0.6' },
      copies: { type: 'string', default: '4' },
      'whitening-copies': { type: 'string', default: '0' },
      out: { type: 'string', default: 'eval-out' },
      'png-images': { type: 'string', default: '4' },
      'batch-size': { type: 'string', default: '128' },
      precision: { type: 'string', default: 'fp32' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const weights = weightsFlag(values);
  if (values.help || (!weights && !values['random-init'])) {
    process.stdout.write(HELP);
    if (!values.help) process.exitCode = 2;
    return;
  }
  const int = (name: keyof typeof values): number => {
    const v = Number(values[name]);
    if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} must be a non-negative integer, got '${values[name]}'`);
    return v;
  };
  const num = (name: keyof typeof values): number => {
    const v = Number(values[name]);
    if (!Number.isFinite(v)) throw new Error(`--${name} must be a number, got '${values[name]}'`);
    return v;
  };
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  await initBackend({ log });

  let model: VisionTransformer;
  let desc: string;
  if (weights) {
    ({ model, desc } = await vitFromWeights(values, log));
  } else {
    model = createModel(values.arch as string, {
      patchSize: int('patch-size'), depth: int('depth'), embedDim: int('embed-dim'),
      numHeads: values['num-heads'] ? int('num-heads') : 3, imgSize: 28, inChans: 1, seed: int('seed'),
    }) as VisionTransformer;
    desc = `random init ${values.arch}, dim ${values['embed-dim']}, depth ${values.depth}, patch ${values['patch-size']}, seed ${values.seed}`;
  }
  model.eval();
  log(`model: ${desc}`);

  const root = values.data ?? defaultFashionMnistDir();
  const channels = model.inChans === 3 ? 3 : 1;
  const [train, test] = await Promise.all([
    FashionMNIST.load({ root, split: 'train', channels }),
    FashionMNIST.load({ root, split: 'test', channels }),
  ]);
  const mean = channels === 3 ? [...FASHION_MNIST_MEAN, ...FASHION_MNIST_MEAN, ...FASHION_MNIST_MEAN] : [...FASHION_MNIST_MEAN];
  const std = channels === 3 ? [...FASHION_MNIST_STD, ...FASHION_MNIST_STD, ...FASHION_MNIST_STD] : [...FASHION_MNIST_STD];
  const trainLimit = int('train-limit');
  const ks = (values.k as string).split(',').map((s) => Number(s.trim()));
  const res = await runEvalSuite({
    model, train, test, mean, std,
    trainLimit: trainLimit === 0 ? train.length : trainLimit,
    testLimit: int('test-limit'),
    ks,
    T: num('temperature'),
    batchSize: int('batch-size'),
    precision: parsePrecision(values.precision as string, '--precision'),
    segImages: int('seg-images'),
    snnPerClass: int('snn-per-class'),
    linearEpochs: int('linear-epochs'),
    ...(values['linear-lr'] ? { linearLr: num('linear-lr') } : {}),
    threshold: num('threshold'),
    copiesPerPhoto: int('copies'),
    whiteningCopies: int('whitening-copies'),
    seed: int('seed'),
    outDir: values.out as string,
    pngImages: int('png-images'),
    log,
  });
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ model: desc, ...res, copyDetection: { ...res.copyDetection, ap: undefined } }, null, 1)}\n`);
    return;
  }
  const pct = (v: number): string => v.toFixed(2);
  const lines = [`model: ${desc}`, `k-NN (Fashion-MNIST, ${res.trainImages} train -> ${res.testImages} test, T ${values.temperature}):`];
  for (const [k, r] of Object.entries(res.knn)) lines.push(`  ${k.padStart(3)}-NN  top-1 ${pct(r.top1)}  top-5 ${pct(r.top5)}`);
  lines.push(`PAWS soft-NN (${res.snn.support} labelled train images, T 0.1): top-1 ${pct(res.snn.top1)}  top-5 ${pct(res.snn.top5)}`);
  if (res.linear) lines.push(`linear probe (${res.linear.epochs} epochs on frozen CLS features): top-1 ${pct(res.linear.top1)}  top-5 ${pct(res.linear.top5)}`);
  const s = res.segmentation;
  lines.push(
    `segmentation Jaccard (${s.images} test images, threshold ${values.threshold}, foreground = pixel > 0):`,
    `  mean over heads ${s.meanOverHeads.toFixed(4)}  best head ${s.bestHead.toFixed(4)}  head-mean map ${s.headMeanMap.toFixed(4)}  centred disc ${s.disc.toFixed(4)}`,
    `  per head: ${s.perHead.map((v) => v.toFixed(4)).join(' ')}`,
  );
  const c = res.copyDetection;
  lines.push(`copy detection (${c.queries} strong copies of ${c.database} photos): mAP ${c.mAP.toFixed(4)}  recall@1 ${c.recallAt1.toFixed(4)}`);
  if (c.whitened) lines.push(`  with PCA whitening: mAP ${c.whitened.mAP.toFixed(4)}  recall@1 ${c.whitened.recallAt1.toFixed(4)}`);
  lines.push(`attention PNGs: ${res.pngs.length} files in ${values.out}`);
  lines.push(`seconds: ${Object.entries(res.seconds).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`ssl-eval: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
