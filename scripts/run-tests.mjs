// `vitest run` for `npm test`, with one bounded retry for test files whose worker process died.
//
// Every test file runs in its own forked process (Dawn and LiteSVM load native addons). Rarely, on a loaded CI
// machine, a fork exits on its own in the middle of a file, with no test failing (seen once in CI, under vitest 4,
// which did not say which file or why). A run whose only errors are such exits, and in which no test
// failed, runs the files that were in flight once more, after printing what killed them; it passes only if they
// then pass. A failing test, or a second death, fails the run as before.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import process from 'node:process'

const WORKER_EXIT = /Worker exited unexpectedly/

/** Runs vitest with `args`, returning its exit status and the reporter's account of the run (if it wrote one). */
function runVitest(args, reportPath) {
  rmSync(reportPath, { force: true })
  const result = spawnSync('vitest', ['run', ...args], {
    stdio: 'inherit',
    env: { ...process.env, TESSERA_TEST_RUN_REPORT: reportPath },
  })
  if (result.error) throw result.error
  let report
  try {
    report = JSON.parse(readFileSync(reportPath, 'utf8'))
  } catch {
    report = undefined
  }
  return { status: result.status ?? 1, report }
}

/** True when the run failed only because worker processes died, so re-running the files they held is fair. */
function onlyWorkerExits(report) {
  return (
    report !== undefined &&
    report.failedTests === 0 &&
    report.unfinished.length > 0 &&
    report.errors.length > 0 &&
    report.errors.every((e) => WORKER_EXIT.test(e))
  )
}

/** Runs the suite, and the files of workers that died once more; returns the exit status. */
function main(args) {
  const scratch = mkdtempSync(join(tmpdir(), 'tessera-test-run-'))
  try {
    const reportPath = join(scratch, 'report.json')
    const first = runVitest(args, reportPath)
    if (first.status === 0 || !onlyWorkerExits(first.report)) return first.status

    const files = first.report.unfinished.map((f) => relative(process.cwd(), f))
    process.stderr.write(
      [
        '',
        `run-tests: no test failed, but a test worker died holding ${files.join(', ')}:`,
        ...first.report.errors.map((e) => `  ${e}`),
        'run-tests: running those files once more; the run passes only if they pass',
        '',
      ].join('\n') + '\n',
    )
    return runVitest(files, reportPath).status
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
}

process.exitCode = main(process.argv.slice(2))
