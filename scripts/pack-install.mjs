#!/usr/bin/env node
// Installs every publishable package as a user would: `pnpm pack` each one, then, in an empty
// directory outside the workspace, `npm install` the user's own @tensorflow/tfjs-core and the
// tarball (with the tarballs of the @ssl packages it depends on, as a registry would supply them),
// and run the package's `examples/quickstart.mjs` there (a bare import where it has none).
// Prints each package's installed size and its time to first import. Packages are discovered from
// the workspace, so a new package is covered without editing this file.
//
//   node scripts/pack-install.mjs [@ssl/losses ...]   (default: every non-private package)
//   SSL_PACK_KEEP=1 keeps the temporary directory; SSL_PACK_TFJS sets the user's tfjs-core spec.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const USER_TFJS = process.env.SSL_PACK_TFJS ?? '@tensorflow/tfjs-core@^4.22.0';
const root = join(import.meta.dirname, '..');
const started = performance.now();

/** Non-private workspace packages, by name. */
function discover() {
  const listed = JSON.parse(execFileSync('pnpm', ['ls', '-r', '--depth', '-1', '--json'], { cwd: root, encoding: 'utf8' }));
  const packages = new Map();
  for (const { path } of listed) {
    const manifest = JSON.parse(readFileSync(join(path, 'package.json'), 'utf8'));
    if (manifest.private || path === root) continue;
    packages.set(manifest.name, { dir: path, manifest });
  }
  return packages;
}

/** What a published manifest must say; a package added later fails here until it does. */
function manifestProblems(name, m) {
  const problems = [];
  for (const field of ['description', 'license', 'keywords', 'repository', 'engines', 'files']) {
    if (m[field] === undefined) problems.push(`no "${field}"`);
  }
  if (typeof m.sideEffects !== 'boolean' && !Array.isArray(m.sideEffects)) problems.push('no "sideEffects"');
  if (m.peerDependencies?.['@tensorflow/tfjs-core'] === undefined) problems.push('@tensorflow/tfjs-core is not a peer dependency');
  if (m.dependencies?.['@tensorflow/tfjs-core'] !== undefined) problems.push('@tensorflow/tfjs-core is a regular dependency (a second copy for users)');
  return problems.map((p) => `${name}: ${p}`);
}

/** The workspace packages `name` needs installed beside it: dependencies and required peers, transitively. */
function closure(name, packages, seen = new Set()) {
  if (seen.has(name)) return seen;
  seen.add(name);
  const m = packages.get(name).manifest;
  const optional = m.peerDependenciesMeta ?? {};
  const needed = [...Object.keys(m.dependencies ?? {}), ...Object.keys(m.peerDependencies ?? {}).filter((d) => !optional[d]?.optional)];
  for (const dep of needed) if (packages.has(dep)) closure(dep, packages, seen);
  return seen;
}

function duBytes(path) {
  let total = 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.isSymbolicLink()) continue;
    total += duBytes(join(path, entry.name));
  }
  return total;
}

const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const kib = (bytes) => `${(bytes / 2 ** 10).toFixed(0)} KiB`;

function run(cmd, args, options) {
  const res = spawnSync(cmd, args, { encoding: 'utf8', ...options });
  if (res.status !== 0) {
    process.stderr.write(`${res.stdout ?? ''}${res.stderr ?? ''}`);
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${res.status ?? res.signal}) in ${options.cwd}`);
  }
  return res;
}

/** `run` without blocking, so packs and installs overlap (they mostly wait on disk and network). */
function runAsync(cmd, args, options) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} failed (exit ${code ?? signal}) in ${options.cwd}:\n${out.trim().split('\n').slice(-30).join('\n')}`));
    });
  });
}

/** Runs `task` over `items`, `limit` at a time; results in order, each { value } or { error }. */
async function pool(items, limit, task) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = { value: await task(items[i]) };
      } catch (error) {
        results[i] = { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** An empty npm project in `dir` with the user's tfjs-core and `tarballs` installed; seconds taken. */
async function installProject(dir, tarballs, env = {}) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'user-project', private: true, type: 'module' }, null, 2));
  const t0 = performance.now();
  await runAsync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', '--foreground-scripts', USER_TFJS, ...tarballs], {
    cwd: dir,
    // onnxruntime-node's install script fetches CUDA binaries from NuGet; skipped where only npm is reachable.
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', ...env },
  });
  return (performance.now() - t0) / 1000;
}

/** Milliseconds from `import(name)` to its resolution, in a fresh Node process in the project. */
function firstImportMs(dir, name) {
  const code = `const t = performance.now(); await import(${JSON.stringify(name)}); console.log((performance.now() - t).toFixed(0));`;
  const out = run(process.execPath, ['--input-type=module', '-e', code], { cwd: dir }).stdout.trim().split('\n');
  return Number(out[out.length - 1]);
}

function runExample(dir, name, pkgDir, env = {}) {
  const example = join(pkgDir, 'examples', 'quickstart.mjs');
  let file = 'quickstart.mjs';
  if (existsSync(example)) copyFileSync(example, join(dir, file));
  else {
    file = 'bare-import.mjs';
    writeFileSync(
      join(dir, file),
      `const m = await import(${JSON.stringify(name)});\nif (Object.keys(m).length === 0) throw new Error('${name} exports nothing');\nconsole.log('${name}: ' + Object.keys(m).length + ' exports');\n`,
    );
  }
  return run(process.execPath, [file], { cwd: dir, env: { ...process.env, ...env } }).stdout.trim();
}

const packages = discover();
const wanted = process.argv.slice(2);
for (const w of wanted) if (!packages.has(w)) throw new Error(`${w} is not a publishable workspace package (have: ${[...packages.keys()].join(', ')})`);
const names = wanted.length > 0 ? wanted : [...packages.keys()].sort();
const problems = names.flatMap((n) => manifestProblems(n, packages.get(n).manifest));
if (problems.length > 0) {
  console.error(`package.json fields missing for publishing:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
const INSTALLS_AT_ONCE = 3;

const work = mkdtempSync(join(tmpdir(), 'ssl-pack-'));
const tarDir = join(work, 'tarballs');
mkdirSync(tarDir);
const tarballs = new Map();
await Promise.all(
  [...packages].map(async ([name, { dir }]) => {
    const out = (await runAsync('pnpm', ['pack', '--pack-destination', tarDir], { cwd: dir })).trim().split('\n');
    tarballs.set(name, out[out.length - 1]);
  }),
);
console.log(`packed ${packages.size} packages (${((performance.now() - started) / 1000).toFixed(0)} s); user's tfjs-core: ${USER_TFJS}`);

// The native addon compiles at install where a toolchain and OpenBLAS are present (the workspace
// build proves that here); then the installed package must load it.
const nativeBuilt = existsSync(join(root, 'packages', 'backend-native', 'build', 'Release', 'ssl_native.node'));
const NO_COMPILER = '@ssl/backend-native (no compiler)';
const projects = names.map((name) => ({
  name,
  dir: join(work, name.replace(/^@/, '').replace('/', '-')),
  tarballs: [...closure(name, packages)].map((n) => tarballs.get(n)),
  env: {},
}));
// A machine that cannot compile the addon (CXX=false makes the compile fail): the install still
// succeeds, the loader says why, and @ssl/tensor picks another backend.
if (names.includes('@ssl/backend-native')) {
  projects.push({
    name: NO_COMPILER,
    dir: join(work, 'backend-native-no-compiler'),
    tarballs: [...closure('@ssl/tensor', packages), '@ssl/backend-native'].map((n) => tarballs.get(n)),
    env: { CXX: 'false' },
  });
}
const installs = await pool(projects, INSTALLS_AT_ONCE, (p) => installProject(p.dir, p.tarballs, p.env));
console.log(`installed ${projects.length} projects (${((performance.now() - started) / 1000).toFixed(0)} s)`);

const NO_COMPILER_CHECK = `import assert from 'node:assert/strict';
import { nativeBackendStatus } from '@ssl/backend-native';
import { initBackend } from '@ssl/tensor';
const status = nativeBackendStatus();
assert.equal(status.available, false, 'the addon cannot have compiled with CXX=false');
assert.match(status.reason, /node-gyp rebuild failed/);
const info = await initBackend();
assert.notEqual(info.name, 'native');
console.log(\`install ok, addon not built, falls back to \${info.name}: \${status.reason.slice(0, 80)}...\`);
`;

// Imports and examples one at a time, after the installs, so the timings do not share the CPU.
const rows = [];
let failed = 0;
try {
  for (const [i, p] of projects.entries()) {
    try {
      if (installs[i].error) throw installs[i].error;
      const installS = installs[i].value;
      const all = duBytes(join(p.dir, 'node_modules'));
      if (p.name === NO_COMPILER) {
        writeFileSync(join(p.dir, 'check.mjs'), NO_COMPILER_CHECK);
        const said = run(process.execPath, ['check.mjs'], { cwd: p.dir }).stdout.trim();
        rows.push([p.name, '', '', mib(all), `${installS.toFixed(1)} s`, '', 'ok']);
        console.log(`  ${p.name}: ${said}`);
        continue;
      }
      const own = duBytes(join(p.dir, 'node_modules', ...p.name.split('/')));
      const importMs = firstImportMs(p.dir, p.name);
      const said = runExample(p.dir, p.name, packages.get(p.name).dir, { SSL_EXPECT_NATIVE: nativeBuilt ? '1' : '0' });
      rows.push([p.name, kib(statSync(tarballs.get(p.name)).size), kib(own), mib(all), `${installS.toFixed(1)} s`, `${importMs} ms`, 'ok']);
      for (const line of said.split('\n')) console.log(`  ${p.name}: ${line}`);
    } catch (err) {
      failed++;
      rows.push([p.name, '', '', '', '', '', 'FAILED']);
      console.error(`${p.name}: ${err instanceof Error ? err.message : err}`);
    }
  }
} finally {
  if (process.env.SSL_PACK_KEEP === '1') console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

const header = ['package', 'tarball', 'installed', 'with its dependencies', 'npm install', 'first import', 'example'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
console.log(`\n${line(header)}\n${line(widths.map((w) => '-'.repeat(w)))}`);
for (const r of rows) console.log(line(r));
console.log(`\npack-install: ${rows.length - failed} passed, ${failed} failed in ${((performance.now() - started) / 1000).toFixed(0)} s`);
process.exit(failed === 0 ? 0 : 1);
