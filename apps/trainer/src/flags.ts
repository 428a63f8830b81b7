import { Command, Option } from 'commander';
import { kebab } from './config/fields.js';
import { methodFields } from './config/load.js';
import type { Method } from './config/load.js';

/**
 * Official command lines use snake_case (`--patch_size 8`); ours are kebab-case. Rewrite the
 * former into the latter before commander sees them, so both work and `--help` lists one form.
 */
export function normalizeArgv(argv: readonly string[]): string[] {
  return argv.map((a) => {
    const m = /^--([A-Za-z0-9_]+)(=.*)?$/.exec(a);
    return m && m[1]?.includes('_') ? `--${(m[1] as string).replace(/_/g, '-')}${m[2] ?? ''}` : a;
  });
}

function defaultText(v: unknown): string {
  if (v === undefined) return '';
  if (Array.isArray(v)) return ` (default: ${v.join(' ')})`;
  return ` (default: ${v === null ? 'auto' : String(v)})`;
}

/** Add one flag per config leaf of `method`; returns attribute name -> leaf key. */
export function addConfigOptions(cmd: Command, method: Method): Map<string, string> {
  const attrs = new Map<string, string>();
  for (const info of methodFields(method).values()) {
    if (info.key === 'method') continue;
    const flag = `--${kebab(info.key)}`;
    const group = info.group ? `[${info.group}] ` : '';
    const desc = `${group}${info.description}${defaultText(info.defaultValue)}`;
    let opt: Option;
    if (info.kind === 'boolean') {
      opt = new Option(`${flag} [bool]`, desc);
      const neg = new Option(`--no-${kebab(info.key)}`, `same as ${flag} false`).hideHelp();
      cmd.addOption(neg);
    } else if (info.kind === 'pair') {
      opt = new Option(`${flag} <lo_hi...>`, desc);
    } else if (info.kind === 'enum' && info.choices) {
      opt = new Option(`${flag} <${info.key}>`, desc).choices([...info.choices, ...(info.nullable ? ['null'] : [])]);
    } else {
      opt = new Option(`${flag} <${info.kind === 'integer' || info.kind === 'number' ? 'n' : 'value'}>`, desc);
    }
    cmd.addOption(opt);
    attrs.set(opt.attributeName(), info.key);
  }
  return attrs;
}

/** The config flags the user actually typed (never commander defaults), as leaf key -> raw value. */
export function typedFlags(cmd: Command, attrs: Map<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const values = cmd.opts();
  for (const [attr, key] of attrs) {
    if (cmd.getOptionValueSource(attr) !== 'cli') continue;
    out[key] = values[attr];
  }
  return out;
}
