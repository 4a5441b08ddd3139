import { defineConfig } from 'vitest/config'

// Tests import workspace packages from source through the `tessera-src` export condition, so no build is needed
// to run them. Dawn (WebGPU) and LiteSVM load native addons: every test file runs in its own forked process.
export default defineConfig({
  resolve: { conditions: ['tessera-src', 'import', 'node', 'default'] },
  ssr: { resolve: { conditions: ['tessera-src', 'import', 'node', 'default'] } },
  test: {
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    include: ['packages/*/test/**/*.spec.ts', 'test/**/*.spec.ts'],
    reporters: process.env.CI ? ['default'] : ['default'],
  },
})
