// A vitest reporter for scripts/run-tests.mjs: when TESSERA_TEST_RUN_REPORT names a file, it writes there what the
// run ended with, so the wrapper can tell a test worker that died (a native crash in Dawn, lavapipe or LiteSVM, or
// vitest's pool losing a fork) from tests that failed. Without the variable it does nothing.
import { writeFileSync } from 'node:fs'
import process from 'node:process'

/** Where a report goes, or undefined when no wrapper asked for one. */
const target = process.env.TESSERA_TEST_RUN_REPORT

/** Flattens an error and its causes into one line each, for the report. */
function describe(error) {
  const lines = []
  for (let e = error, depth = 0; e != null && depth < 4; e = e.cause, depth++) {
    lines.push(String(e.message ?? e))
  }
  return lines.join(' | caused by: ')
}

export default class WorkerExitReporter {
  onTestRunEnd(testModules, unhandledErrors, reason) {
    if (target === undefined) return
    let failedTests = 0
    const unfinished = []
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        if (test.result().state === 'failed') failedTests++
      }
      // A module still pending or queued at the end of the run was in flight in a worker that exited.
      const state = module.state()
      if (state === 'pending' || state === 'queued') unfinished.push(module.moduleId)
      else if (state === 'failed' && module.errors().length > 0) failedTests++
    }
    const report = { reason, failedTests, unfinished, errors: unhandledErrors.map(describe) }
    writeFileSync(target, `${JSON.stringify(report, null, 2)}\n`)
  }
}
