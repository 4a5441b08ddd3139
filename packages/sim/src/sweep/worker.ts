/**
 * A sweep's worker thread: runs the scenarios the pool hands it, one at a time, and answers with each run's sweep
 * metrics or its coded error. Loaded by `pool.ts` only.
 */
import { parentPort } from 'node:worker_threads'
import { isSimError } from '../errors.js'
import { runScenario } from '../run.js'
import type { Scenario } from '../scenario/types.js'
import { sweepMetrics } from './metrics.js'

/** A run the pool hands a worker. */
export interface WorkerRequest {
  index: number
  scenario: Scenario
  seed: number
}

/** A worker's answer: the run's metrics, or why it failed; or, once, that it has loaded (see `pool.ts`). */
export type WorkerReply =
  | { index: number; metrics: ReturnType<typeof sweepMetrics> }
  | { index: number; error: { code: string; message: string } }
  | { ready: true }

const port = parentPort
if (port === null) throw new Error('the sweep worker runs in a worker thread only')

port.on('message', (request: WorkerRequest) => {
  runScenario(request.scenario, { seed: request.seed }).then(
    ({ report }) => port.postMessage({ index: request.index, metrics: sweepMetrics(report) } satisfies WorkerReply),
    (e: unknown) => {
      const error = { code: isSimError(e) ? e.code : 'SIM__RUN_FAILED', message: (e as Error).message }
      port.postMessage({ index: request.index, error } satisfies WorkerReply)
    },
  )
})

// Every module this one imports has been evaluated by now: the pool may terminate this thread from here on.
port.postMessage({ ready: true } satisfies WorkerReply)
