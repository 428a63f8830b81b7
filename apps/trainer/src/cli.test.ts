import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from './program.js';
import { normalizeArgv } from './flags.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
  vi.spyOn(console, 'log').mockImplementation((...a) => void out.push(`${a.join(' ')}\n`));
  vi.spyOn(console, 'error').mockImplementation((...a) => void err.push(`${a.join(' ')}\n`));
  return { out: () => out.join(''), err: () => err.join('') };
}

afterEach(() => vi.restoreAllMocks());

describe('ssl-train CLI', () => {
  it('accepts an official main_dino.py command line (snake_case, nargs, bool words)', async () => {
    const io = capture();
    const code = await main([
      'dino', '--print-config', '--arch', 'vit_small', '--patch_size', '8', '--global_crops_scale', '0.14', '1',
      '--norm_last_layer', 'false', '--use_fp16', 'false', '--local-crops-number', '6', '--epochs=3', '--no-resume',
    ]);
    expect(io.err()).toBe('');
    expect(code).toBe(0);
    const c = parseYaml(io.out()) as Record<string, Record<string, unknown>>;
    expect(c.model).toMatchObject({ arch: 'vit_small', patch_size: 8, norm_last_layer: false });
    expect(c.data).toMatchObject({ global_crops_scale: [0.14, 1], local_crops_number: 6 });
    expect(c.optimization?.epochs).toBe(3);
    expect(c.runtime?.resume).toBe(false);
  });

  it('flags beat the file, which beats the preset', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ssl-cli-'));
    writeFileSync(join(dir, 'c.yaml'), 'model:\n  out_dim: 512\noptimization:\n  epochs: 4\n');
    const io = capture();
    expect(await main(['dino', '--print-config', '--preset', 'fmnist_small', '--config', join(dir, 'c.yaml'), '--epochs', '2'])).toBe(0);
    const c = parseYaml(io.out()) as Record<string, Record<string, unknown>>;
    expect([c.model?.out_dim, c.optimization?.epochs, c.model?.patch_size]).toEqual([512, 2, 4]);
  });

  it('a typo in a flag suggests the right one', async () => {
    const io = capture();
    expect(await main(['dino', '--momentum-teacer', '0.99'])).toBe(1);
    expect(io.err()).toMatch(/unknown option '--momentum-teacer'[\s\S]*--momentum-teacher/);
  });

  it('a typo in a config file names the key and the nearest valid one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ssl-cli-'));
    writeFileSync(join(dir, 'c.yaml'), 'loss:\n  teacher_tmp: 0.07\n');
    const io = capture();
    expect(await main(['dino', '--print-config', '--config', join(dir, 'c.yaml')])).toBe(1);
    expect(io.err()).toMatch(/unknown dino config key 'loss\.teacher_tmp' \(did you mean 'loss\.teacher_temp'\?\)/);
  });

  it('paws reads official YAML keys and --labels', async () => {
    const io = capture();
    expect(await main(['paws', '--print-config', '--preset', 'fmnist_paws', '--labels', '10', '--me_max', 'false'])).toBe(0);
    const c = parseYaml(io.out()) as Record<string, Record<string, unknown>>;
    expect(c.data?.labels).toBe(10);
    expect(c.criterion?.me_max).toBe(false);
  });

  it('lists presets', async () => {
    const io = capture();
    expect(await main(['dino', '--list-presets'])).toBe(0);
    expect(io.out()).toMatch(/dino_vits16_boost[\s\S]*fmnist_small/);
  });

  it('rewrites only option names from snake_case', () => {
    expect(normalizeArgv(['--patch_size', 'a_b', '--data_path=/x_y', '--lr'])).toEqual(['--patch-size', 'a_b', '--data-path=/x_y', '--lr']);
  });
});
