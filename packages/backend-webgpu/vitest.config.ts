import { defineConfig } from 'vitest/config';

// CPU Vulkan (lavapipe) compiles each new shader on the CPU: the first use of a kernel can take
// seconds on a busy 2-core machine.
export default defineConfig({ test: { testTimeout: 60_000, hookTimeout: 60_000 } });
