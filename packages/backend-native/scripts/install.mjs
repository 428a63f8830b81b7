// The package's `install` script (without one, npm would run `node-gyp rebuild` itself and a failed
// compile would fail the user's whole install). It compiles the addon and always exits 0: on any
// failure the loader reports "not built" with the reason and @ssl/tensor picks another backend.
// In a source checkout (src/ present) the build step compiles the addon instead.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (existsSync(join(root, 'src'))) process.exit(0);

console.log('[backend-native] compiling the C++ addon (OpenBLAS); set SSL_NATIVE_SKIP_BUILD=1 to skip');
const res = spawnSync(process.execPath, [join(root, 'scripts', 'build-addon.mjs')], { stdio: 'inherit' });
if (res.status !== 0) {
  console.warn(`[backend-native] addon build stopped (${res.error?.message ?? `exit ${res.status ?? res.signal}`}); the backend reports itself unavailable`);
}
// The object files are only needed to relink; users keep the .node alone.
rmSync(join(root, 'build', 'Release', 'obj.target'), { recursive: true, force: true });
process.exit(0);
