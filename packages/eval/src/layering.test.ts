import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../', import.meta.url);

describe('@ssl/eval layering', () => {
  it('does not depend on @ssl/engine (the training loops): its SGD comes from @ssl/optim', () => {
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as Record<string, Record<string, string> | undefined>;
    const deps = { ...pkg.dependencies, ...pkg.peerDependencies, ...pkg.optionalDependencies };
    expect(Object.keys(deps)).not.toContain('@ssl/engine');
    expect(Object.keys(deps)).toContain('@ssl/optim');
    const sources = (readdirSync(new URL('src/', root), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
    expect(sources.length).toBeGreaterThan(10);
    const importers = sources.filter((f) => /from '@ssl\/engine'/.test(readFileSync(new URL(`src/${f}`, root), 'utf8')));
    expect(importers).toEqual([]);
    expect(readFileSync(new URL('src/linear-probe.ts', root), 'utf8')).toMatch(/import \{ SGD \} from '@ssl\/optim'/);
  });
});
