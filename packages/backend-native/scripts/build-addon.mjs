// Builds the C++ addon with node-gyp. A failed build never fails the package build: the backend
// then reports itself unavailable (with this reason) and @ssl/tensor falls back to wasm.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const statusFile = join(root, 'build', 'build-status.json');
const require = createRequire(import.meta.url);

function finish(ok, reason) {
  mkdirSync(dirname(statusFile), { recursive: true });
  writeFileSync(statusFile, JSON.stringify({ ok, reason }, null, 2) + '\n');
  if (!ok) {
    console.warn(`[backend-native] native addon not built: ${reason}`);
    console.warn('[backend-native] install a C++ toolchain and OpenBLAS, then rebuild:');
    console.warn('[backend-native]   Debian/Ubuntu: apt-get install g++ make python3 pkg-config libopenblas-dev');
    console.warn('[backend-native]   Fedora: dnf install gcc-c++ make python3 pkgconf openblas-devel');
    console.warn('[backend-native]   macOS: brew install openblas pkg-config');
    console.warn('[backend-native] optional: libdnnl-dev (oneDNN) adds the bf16 matmuls and convolutions of autocast.');
    console.warn('[backend-native] the package reports itself unavailable; @ssl/tensor falls back to the next backend (wasm, cpu).');
  }
  process.exit(0);
}

if (process.env.SSL_NATIVE_SKIP_BUILD === '1') finish(false, 'SSL_NATIVE_SKIP_BUILD=1 was set');

const has = (cmd, args = ['--version']) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
if (!has(process.env.CXX ?? 'g++') && !has('c++') && !has('clang++')) finish(false, 'no C++ compiler (g++/clang++) found');
if (!has('make')) finish(false, 'make not found');
const blasOk =
  has('pkg-config', ['--exists', 'openblas']) ||
  ['/usr/include/cblas.h', '/usr/include/x86_64-linux-gnu/cblas.h', '/usr/include/openblas/cblas.h'].some(existsSync);
if (!blasOk) finish(false, 'OpenBLAS development files (cblas.h, libopenblas) not found');

// Node's own headers: use the installed ones when present, so no download is needed.
const prefix = dirname(dirname(process.execPath));
const nodedir = existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
// node-gyp: our devDependency in the workspace; in a user's install, the one npm/pnpm run scripts with.
let nodeGyp;
try {
  nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
} catch {
  nodeGyp = process.env.npm_config_node_gyp;
}
if (!nodeGyp || !existsSync(nodeGyp)) finish(false, 'node-gyp not found (neither installed nor provided by the package manager)');
rmSync(join(root, 'build', 'Release', 'ssl_native.node'), { force: true });
const res = spawnSync(process.execPath, [nodeGyp, 'rebuild', ...nodedir, '--jobs=2', '--loglevel=warn'], {
  cwd: root,
  stdio: ['ignore', 'inherit', 'inherit'],
});
if (res.status !== 0) finish(false, `node-gyp rebuild failed (exit ${res.status}); see the compiler output above`);
if (!existsSync(join(root, 'build', 'Release', 'ssl_native.node'))) finish(false, 'node-gyp finished without build/Release/ssl_native.node');
finish(true, 'built');
