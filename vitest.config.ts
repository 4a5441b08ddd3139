import { defineConfig } from 'vitest/config'

/**
 * Tests that compare real nodes' wall-clock times with a model: they run after the rest of the suite, alone, so the
 * real side's times are those of ten libp2p nodes and not of lavapipe rendering in the next process.
 */
const TIMED = ['packages/sim/test/validation.spec.ts']

// Tests import workspace packages from source through the `tessera-src` export condition, so no build is needed
// to run them. Dawn (WebGPU) and LiteSVM load native addons: every test file runs in its own forked process.
export default defineConfig({
  resolve: { conditions: ['tessera-src', 'import', 'node', 'default'] },
  ssr: { resolve: { conditions: ['tessera-src', 'import', 'node', 'default'] } },
  test: {
    pool: 'forks',
    maxWorkers: 2,
    // The second reporter tells scripts/run-tests.mjs which files a dead worker held; it is silent otherwise.
    reporters: ['default', './scripts/worker-exit-reporter.mjs'],
    // A hang guard, not a speed check: on lavapipe a kernel variant's first compile takes 2 to 60 s (Mesa's shader
    // cache is cold on a fresh machine), and two test files compile at once.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'suite',
          include: ['packages/*/test/**/*.spec.ts', 'test/**/*.spec.ts'],
          exclude: TIMED,
          sequence: { groupOrder: 0 },
        },
      },
      { extends: true, test: { name: 'timed', include: TIMED, sequence: { groupOrder: 1 } } },
    ],
  },
})
