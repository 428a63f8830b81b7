import { Command, CommanderError } from 'commander';
import { stringify as stringifyYaml } from 'yaml';
import { listPresets } from './config/presets.js';
import { resolveConfig } from './config/load.js';
import type { Method } from './config/load.js';
import { addConfigOptions, normalizeArgv, typedFlags } from './flags.js';
import { runKnnCommand } from './commands/knn.js';
import { runShowCrops } from './commands/show-crops.js';
import { runTraining } from './commands/train.js';
import { writeReport } from './report/html.js';

/** Exit status of the training command main() ran (130 / 143 after Ctrl-C / SIGTERM). */
let trainingExitCode = 0;

function methodCommand(program: Command, method: Method, summary: string): void {
  const cmd = program.command(method).description(summary);
  cmd.option('--config <file>', 'YAML or JSON config file (grouped as the resolved config.yaml, or flat official keys)');
  cmd.option('--print-config', 'print the resolved config (defaults < preset < file < flags) and exit');
  cmd.option('--list-presets', 'list the presets and exit');
  const attrs = addConfigOptions(cmd, method);
  cmd.action(async (opts: { config?: string; printConfig?: boolean; listPresets?: boolean }) => {
    if (opts.listPresets) {
      for (const [name, p] of Object.entries(listPresets(method))) console.log(`${name}\n    ${p.description}`);
      return;
    }
    const config = resolveConfig(method, { file: opts.config ?? null, flags: typedFlags(cmd, attrs) });
    if (opts.printConfig) {
      process.stdout.write(stringifyYaml(config));
      return;
    }
    trainingExitCode = await runTraining(config);
  });
}

export function buildProgram(): Command {
  const program = new Command('ssl-train')
    .description('DINO and PAWS pretraining on CPU, with k-NN evaluation and an HTML report')
    .showSuggestionAfterError(true);
  methodCommand(
    program,
    'dino',
    'self-supervised DINO pretraining (flags and defaults of the official main_dino.py; try --preset fmnist_small)',
  );
  methodCommand(program, 'paws', 'semi-supervised PAWS pretraining (keys of the official configs/paws/*.yaml; try --preset fmnist_paws)');
  const crops = program
    .command('show-crops')
    .description('write a PNG grid of the DINO multi-crop views of a few training images (same flags as dino)')
    .option('--out <file>', 'PNG to write', 'crops.png')
    .option('--images <n>', 'images (rows)', '6')
    .option('--scale <n>', 'integer enlargement of every pixel', '4')
    .option('--config <file>', 'YAML or JSON config file');
  const cropAttrs = addConfigOptions(crops, 'dino');
  crops.action(async (opts: { out: string; images: string; scale: string; config?: string }) => {
    const config = resolveConfig('dino', { file: opts.config ?? null, flags: typedFlags(crops, cropAttrs) });
    const images = Number(opts.images);
    const scale = Number(opts.scale);
    if (!Number.isInteger(images) || images < 1) throw new Error(`--images: expected a positive integer, got '${opts.images}'`);
    if (!Number.isInteger(scale) || scale < 1) throw new Error(`--scale: expected a positive integer, got '${opts.scale}'`);
    console.log(await runShowCrops(config, opts.out, images, scale));
  });
  program
    .command('knn')
    .description('weighted k-NN (official protocol) of a backbone\'s features and of raw pixels, on the test split')
    .option('--checkpoint <dir>', 'run directory or checkpoint directory of ssl-train dino/paws (its data and model as recorded)')
    .option('--weights <file>', 'any backbone weights: official .pth (dino_*_pretrain.pth, main_dino.py or PAWS checkpoints), safetensors (Hugging Face facebook/dino-* too) or a checkpoint directory; the architecture is read off the file, the data comes from --dataset/--data-path')
    .option('--pretrained-weights <file>', 'the same as --weights (the official eval_knn.py spelling)')
    .option('--checkpoint-key <key>', 'section of a checkpoint holding several networks, as the official --checkpoint_key (default teacher; PAWS: encoder)')
    .option('--num-heads <n>', 'ViT attention heads where the file does not record them and the width is no official preset (192: 3, 384: 6, 768: 12)')
    .option('--image-size <px>', 'eval crop for --weights (RGB: resize to size*256/224, centre crop); default a ViT\'s training size, else 28 (Fashion-MNIST) / 224')
    .option('--pixels', 'only the raw-pixel baseline')
    .option('--dataset <name>', 'fashion-mnist | folder', 'fashion-mnist')
    .option('--data-path <dir>', 'training images (default: Fashion-MNIST)')
    .option('--val-data-path <dir>', 'labelled test images (folder datasets)')
    .option('--train-images <n>', 'first n training images as the k-NN memory (0 = all)', '0')
    .option('--test-images <n>', 'first n test images (0 = all)', '0')
    .option('--k <n>', 'neighbours', '20')
    .option('--temperature <t>', 'vote temperature', '0.07')
    .option('--threads <n>', 'threads for the tensor kernels')
    .action(runKnnCommand);
  program
    .command('report')
    .description('rebuild report.html from a run directory (config.json, log.jsonl, attention/)')
    .argument('<dir>', 'output_dir of a run')
    .action((dir: string) => console.log(writeReport(dir)));
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram().exitOverride();
  trainingExitCode = 0;
  try {
    await program.parseAsync(normalizeArgv(argv), { from: 'user' });
    return trainingExitCode;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode; // commander printed it already
    console.error(`ssl-train: ${(err as Error).message}`);
    if (process.env.SSL_DEBUG) console.error((err as Error).stack);
    return 1;
  }
}

