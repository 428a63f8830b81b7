// Prints 1 when oneDNN's headers and library are installed (Debian/Ubuntu: libdnnl-dev), else 0:
// binding.gyp builds the bf16 GEMMs only then. SSL_NATIVE_ONEDNN=0 forces a float32-only build.
import { existsSync } from 'node:fs';

const header = ['/usr/include/oneapi/dnnl/dnnl.hpp', '/usr/local/include/oneapi/dnnl/dnnl.hpp'].some(existsSync);
const library = [
  '/usr/lib/x86_64-linux-gnu/libdnnl.so',
  '/usr/lib/aarch64-linux-gnu/libdnnl.so',
  '/usr/lib/libdnnl.so',
  '/usr/local/lib/libdnnl.so',
].some(existsSync);
process.stdout.write(process.env.SSL_NATIVE_ONEDNN !== '0' && header && library ? '1' : '0');
