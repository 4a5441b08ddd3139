import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

/**
 * `npm test`'s wrapper (scripts/run-tests.mjs) runs real vitest on a scratch project whose test files kill their
 * own worker: a file whose worker died with no test failing runs once more, and only a pass there passes the run.
 */
const root = resolve(import.meta.dirname, '..')
const RETRY = 'run-tests: no test failed, but a test worker died'

/** A test file that SIGKILLs its worker: once (while `marker` does not exist yet) or every time. */
const crashing = (mode: 'once' | 'always') => `
import { existsSync, writeFileSync } from 'node:fs'
test('a', () => expect(1).toBe(1))
test('b', () => {
  const marker = process.env.CRASH_MARKER
  if (${mode === 'always'} || !existsSync(marker)) {
    writeFileSync(marker, '')
    process.kill(process.pid, 'SIGKILL')
  }
})
test('c', () => expect(2).toBe(2))
`

describe('scripts/run-tests.mjs', () => {
  let dir: string

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-run-tests-'))
    // Globals, so the scratch files need no import of vitest (which they could not resolve from here).
    writeFileSync(
      join(dir, 'vitest.config.mjs'),
      `export default { test: { globals: true, pool: 'forks', include: ['*.spec.mjs'], reporters: ['default', ${JSON.stringify(join(root, 'scripts', 'worker-exit-reporter.mjs'))}] } }\n`,
    )
  })

  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  /** Runs the wrapper in the scratch project; its exit status and output. */
  function run(): { status: number | null; output: string } {
    // The outer vitest's own variables would tell the inner one it runs inside a worker.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST')))
    const result = spawnSync(join(root, 'node_modules', '.bin', 'node'), [join(root, 'scripts', 'run-tests.mjs')], {
      cwd: dir,
      encoding: 'utf8',
      env: {
        ...env,
        PATH: `${join(root, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`,
        CRASH_MARKER: join(dir, 'crashed'),
        NO_COLOR: '1',
      },
    })
    return { status: result.status, output: `${result.stdout}${result.stderr}` }
  }

  it('should pass a run whose only error was a worker that died, once the files it held pass alone', () => {
    writeFileSync(join(dir, 'crash.spec.mjs'), crashing('once'))
    writeFileSync(join(dir, 'ok.spec.mjs'), "test('ok', () => expect(1).toBe(1))\n")
    const { status, output } = run()
    expect(output).toContain(RETRY)
    expect(output).toContain('SIGKILL')
    expect(status).toBe(0)
  })

  it('should fail when the files of the dead worker die again', () => {
    writeFileSync(join(dir, 'crash.spec.mjs'), crashing('always'))
    const { status, output } = run()
    expect(output).toContain(RETRY)
    expect(status).toBe(1)
  })

  it('should fail without a second run when a test failed, whatever else happened', () => {
    writeFileSync(join(dir, 'crash.spec.mjs'), crashing('once'))
    writeFileSync(join(dir, 'fail.spec.mjs'), "test('fails', () => expect(1).toBe(2))\n")
    const { status, output } = run()
    expect(output).not.toContain(RETRY)
    expect(status).toBe(1)
  })
})
