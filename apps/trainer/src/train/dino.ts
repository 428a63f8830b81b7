import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildTransform } from '@ssl/augment';
import { DataLoader } from '@ssl/data';
import { trainDino } from '@ssl/engine';
import type { DinoStepEvent } from '@ssl/engine';
import { imageFeatures, knnEvaluate, writeAttentionMaps } from '@ssl/eval';
import type { FeatureModel } from '@ssl/eval';
import { DINOHead, MultiCropWrapper, createModel, listModels, modelFamily } from '@ssl/models';
import type { Backbone, ModelOptions } from '@ssl/models';
import { writeResolvedConfig } from '../config/load.js';
import { writeNeighbourStrips } from './neighbours.js';
import type { DinoConfig } from '../config/dino.js';
import { dinoTransformSpec, loadEvalImages, tooManySkipped } from './run.js';
import { loadPretrainedBackbones, writeModelSpec } from './pretrained.js';
import { runTraining } from './runner.js';
import type { RunSummary, TrainMethod } from './runner.js';

export interface DinoNetworks {
  student: MultiCropWrapper;
  teacher: MultiCropWrapper;
  embedDim: number;
}

/** Student and teacher as main_dino.py: same arch, the teacher without stochastic depth (trainDino copies the student into it). */
export function buildDinoNetworks(config: DinoConfig, inChans: number): DinoNetworks {
  const m = config.model;
  if (!listModels().includes(m.arch)) {
    throw new Error(`unknown arch '${m.arch}'; known: ${listModels().join(', ')}`);
  }
  const family = modelFamily(m.arch);
  // The patch and ViT dimensions of the config apply to ViTs; every family takes channels and seed.
  const backboneOptions = (dropPathRate: number): ModelOptions =>
    family === 'vit'
      ? {
          patchSize: m.patch_size,
          imgSize: config.data.global_crops_size,
          dropPathRate,
          ...(m.embed_dim !== null ? { embedDim: m.embed_dim } : {}),
          ...(m.depth !== null ? { depth: m.depth } : {}),
          ...(m.num_heads !== null ? { numHeads: m.num_heads } : {}),
          inChans,
          seed: config.runtime.seed,
        }
      : { inChans, seed: config.runtime.seed };
  const make = (dropPathRate: number, normLastLayer: boolean): [MultiCropWrapper, number] => {
    const backbone: Backbone = createModel(m.arch, backboneOptions(dropPathRate));
    const head = new DINOHead({
      inDim: backbone.numFeatures,
      outDim: m.out_dim,
      useBn: m.use_bn_in_head,
      normLastLayer,
      nlayers: m.head_nlayers,
      hiddenDim: m.hidden_dim,
      bottleneckDim: m.bottleneck_dim,
      seed: config.runtime.seed + 1,
    });
    return [new MultiCropWrapper(backbone, head), backbone.numFeatures];
  };
  const [student, embedDim] = make(m.drop_path_rate, m.norm_last_layer);
  // Official: the teacher head keeps the default norm_last_layer (its weights come from the student anyway).
  const [teacher] = make(0, true);
  return { student, teacher, embedDim };
}

/**
 * A run directory holds one model: refuse to resume a checkpoint made with another architecture
 * (its config.json says which), naming both.
 */
export function checkResumable(outputDir: string, config: DinoConfig): void {
  const prev = join(outputDir, 'config.json');
  if (!existsSync(join(outputDir, 'checkpoint')) || !existsSync(prev)) return;
  const old = JSON.parse(readFileSync(prev, 'utf8')) as { model?: Record<string, unknown> };
  const keys = ['arch', 'patch_size', 'embed_dim', 'depth', 'num_heads', 'out_dim', 'hidden_dim', 'bottleneck_dim', 'head_nlayers', 'use_bn_in_head'] as const;
  const diff = keys.filter((k) => old.model?.[k] !== undefined && JSON.stringify(old.model[k]) !== JSON.stringify(config.model[k]));
  if (diff.length) {
    const fmt = (m: Record<string, unknown> | undefined) => diff.map((k) => `${k}=${JSON.stringify(m?.[k])}`).join(', ');
    throw new Error(
      `${outputDir}/checkpoint is from another architecture (${fmt(old.model)}) than this run (${fmt(config.model as unknown as Record<string, unknown>)}); ` +
        'use another --output-dir, or --no-resume to start over there',
    );
  }
}

/** Nearest-neighbour strips in the report of a run without labels. */
const NEIGHBOUR_STRIPS = 4;

/** DINO for the runner: multi-crop loader, student and teacher, the teacher backbone evaluated. */
export const DINO: TrainMethod<DinoConfig, DinoStepEvent> = {
  imagesName: 'images',
  async evalImages(config, sets, options = {}) {
    const size = config.data.global_crops_size;
    // the k-NN memory: the images the model trains on (or their first knn_train_images)
    const n = options.memoryImages || config.logging.knn_train_images || sets.train.length;
    return {
      memory: await loadEvalImages(sets.train, size, sets, n, options.skips),
      test: sets.test ? await loadEvalImages(sets.test, size, sets, options.testImages ?? 0, options.skips) : null,
    };
  },
  minEpochs: ({ optimization: o, loss }) => Math.max(o.warmup_epochs, o.freeze_last_layer, loss.warmup_teacher_temp_epochs) + 1,
  baselineWhat: (run) => `(${run.memory.count} train, ${run.test?.count ?? 0} test)`,
  async prepare(ctx, config, sets) {
    const o = config.optimization;
    const loader = new DataLoader({
      dataset: sets.train,
      transform: buildTransform(dinoTransformSpec(config.data, sets)),
      batchSize: o.batch_size_per_gpu,
      seed: config.runtime.seed,
      maxSkipRatio: config.data.max_skip_ratio,
      onSkip: (f) => ctx.skips.note(f, 'training batches'),
    });
    const ipe = loader.length(0);
    if (ipe === 0) throw new Error(`${sets.train.length} training images give no full batch of ${o.batch_size_per_gpu}; lower --batch-size-per-gpu`);
    if (config.runtime.resume) checkResumable(ctx.outputDir, config);
    writeResolvedConfig(ctx.outputDir, config);
    const nets = buildDinoNetworks(config, sets.channels);
    if (config.model.pretrained_weights !== null) {
      // Both backbones: the teacher starts as the student's copy, as main_dino.py's does.
      const line = await loadPretrainedBackbones([nets.student.backbone, nets.teacher.backbone], config.model.pretrained_weights, config.model.checkpoint_key);
      ctx.facts.set('pretrained weights', line);
    }
    writeModelSpec(ctx.outputDir, nets.teacher.backbone);
    ctx.facts.set('model', `${config.model.arch} (${nets.embedDim}-d features), head out_dim ${config.model.out_dim}`);
    ctx.facts.set('training images', `${sets.train.length}, ${ipe} steps of ${o.batch_size_per_gpu} per epoch, ${o.epochs} epochs`);
    const { memory, test } = await DINO.evalImages(config, sets, { skips: ctx.skips });
    const { knn_k: k, knn_temperature: T } = config.logging;
    const teacherBackbone = nets.teacher.backbone as unknown as FeatureModel;
    return {
      loader,
      imagesPerStep: o.batch_size_per_gpu,
      resume: config.runtime.resume,
      memory,
      test,
      stepRecord: (e) => ({ wd: e.wd, teacher_temp: e.teacherTemp, momentum: e.momentum, step_seconds: e.seconds }),
      evaluate: async () => {
        if (!test) throw new Error('DINO.evaluate: this run has no labelled images');
        return { knn: await knnEvaluate(teacherBackbone, memory, test, k, T) };
      },
      async train(options) {
        const r = await trainDino({ ...options, student: nets.student, teacher: nets.teacher, loader, config, outputDir: ctx.outputDir }).catch(
          (err: Error) => {
            throw tooManySkipped(err) ? new Error(`${err.message}. Fix or remove those files, or accept more with --max-skip-ratio`) : err;
          },
        );
        r.dinoLoss.dispose();
        return r;
      },
      mapFeatures: (images) => imageFeatures(teacherBackbone, images),
      async finish() {
        if (modelFamily(config.model.arch) === 'vit' && config.logging.attention_images > 0) {
          // Without labels, the first training images show what the model attends to.
          await writeAttentionMaps(nets.teacher.backbone as never, test ?? memory, config.model.patch_size, join(ctx.outputDir, 'attention'), config.logging.attention_images);
        }
        // Without labels there is no k-NN: show which training images the features put together.
        if (!test) await writeNeighbourStrips(teacherBackbone, memory, join(ctx.outputDir, 'neighbours'), NEIGHBOUR_STRIPS);
      },
    };
  },
};

/** `ssl-train dino`: train, evaluate, report. */
export const runDino = (config: DinoConfig): Promise<RunSummary> => runTraining(config, DINO);
