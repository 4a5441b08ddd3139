import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { AbortError, type AbortOptions } from '@tessera/core'
import { SimError } from '../errors.js'
import { runScenario } from '../run.js'
import type { Scenario } from '../scenario/types.js'
import { sweepMetrics, type SweepMetric } from './metrics.js'
import type { WorkerReply, WorkerRequest } from './worker.js'

/** A run to carry out: its scenario, seed and a label for errors. */
export interface PoolTask {
  scenario: Scenario
  seed: number
  /** How an error names the run, e.g. `run 7 (seed 3, jobs.count=10)`. */
  label: string
}

/** Options of {@link runPool}. */
export interface PoolOptions extends AbortOptions {
  /** Runs at once, each in its own worker thread; 1 runs them one after another on this thread. */
  concurrency: number
  /** Called as each run finishes (in completion order, which varies; results do not). */
  onDone?: (index: number, done: number) => void
}

type Metrics = Record<SweepMetric, number>

/**
 * The worker script next to this module, and how to start it: from source (`.ts`, in tests and `npm run sim`) a
 * worker needs tsx's loader and the `tessera-src` condition, as the parent had; from the build it needs nothing.
 */
function workerEntry(): { url: URL; execArgv: string[] | undefined } {
  const here = new URL(import.meta.url)
  if (!here.pathname.endsWith('.ts')) return { url: new URL('./worker.js', here), execArgv: undefined }
  const tsx = pathToFileURL(createRequire(here).resolve('tsx')).href
  return { url: new URL('./worker.ts', here), execArgv: ['--conditions=tessera-src', '--import', tsx] }
}

function failure(task: PoolTask, code: string, message: string, cause?: unknown): SimError {
  return new SimError(
    'SIM__RUN_FAILED',
    `sweep ${task.label} failed: ${code}: ${message}`,
    { seed: task.seed },
    cause === undefined ? undefined : { cause },
  )
}

/** Runs tasks one after another on this thread. */
async function runInline(tasks: readonly PoolTask[], options: PoolOptions): Promise<Metrics[]> {
  const out: Metrics[] = []
  for (const [index, task] of tasks.entries()) {
    if (options.signal?.aborted === true) throw new AbortError('the sweep was aborted')
    try {
      const { report } = await runScenario(task.scenario, {
        seed: task.seed,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      })
      out.push(sweepMetrics(report))
    } catch (e) {
      if (e instanceof AbortError) throw e
      throw failure(task, (e as SimError).code ?? 'SIM__RUN_FAILED', (e as Error).message, e)
    }
    options.onDone?.(index, out.length)
  }
  return out
}

/**
 * Runs every task and returns their metrics in task order, whatever order they finish in: a sweep's output does not
 * depend on its concurrency. The first failure stops the pool (its workers are terminated) and rejects with
 * `SIM__RUN_FAILED` naming the run and its seed; an abort rejects with `AbortError` (once each worker has finished
 * loading, which it must before it can be terminated safely).
 */
export async function runPool(tasks: readonly PoolTask[], options: PoolOptions): Promise<Metrics[]> {
  const concurrency = Math.min(options.concurrency, tasks.length)
  if (concurrency <= 1) return runInline(tasks, options)
  const { url, execArgv } = workerEntry()
  const results: (Metrics | undefined)[] = new Array(tasks.length)
  const workers: Worker[] = []
  /** Per worker: settles once it has loaded its modules, or has gone. */
  const loaded: Promise<void>[] = []
  let next = 0
  let done = 0
  try {
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(new AbortError('the sweep was aborted'))
      if (options.signal?.aborted === true) return onAbort()
      options.signal?.addEventListener('abort', onAbort, { once: true })
      const finish = (error?: Error): void => {
        options.signal?.removeEventListener('abort', onAbort)
        if (error === undefined) resolve()
        else reject(error)
      }
      for (let i = 0; i < concurrency; i++) {
        const worker = new Worker(url, execArgv === undefined ? {} : { execArgv })
        workers.push(worker)
        loaded.push(
          new Promise<void>((settle) => {
            worker.on('message', (reply: WorkerReply) => 'ready' in reply && settle())
            worker.once('exit', () => settle())
          }),
        )
        /** The run this worker holds, or -1 between runs. */
        let current = -1
        const feed = (): void => {
          current = next < tasks.length ? next++ : -1
          if (current < 0) return
          const task = tasks[current] as PoolTask
          worker.postMessage({ index: current, scenario: task.scenario, seed: task.seed } satisfies WorkerRequest)
        }
        const crashed = (message: string, cause?: unknown): void => {
          const task = tasks[Math.max(0, current)] as PoolTask
          finish(failure(task, 'worker thread', message, cause))
        }
        worker.on('message', (reply: WorkerReply) => {
          if ('ready' in reply) return
          if ('error' in reply)
            return finish(failure(tasks[reply.index] as PoolTask, reply.error.code, reply.error.message))
          results[reply.index] = reply.metrics
          done++
          options.onDone?.(reply.index, done)
          if (done === tasks.length) return finish()
          feed()
        })
        worker.on('error', (e) => crashed(e.message, e))
        worker.on('exit', (code) => {
          if (done < tasks.length) crashed(`exited with code ${code}`)
        })
        feed()
      }
    })
  } finally {
    // A thread terminated while it still evaluates its modules can take the whole process down (V8's fatal "Check
    // failed: (location_) != nullptr" in AsyncModuleExecutionFulfilled, nodejs/node#53238): when the pool stops
    // early, on a failure or an abort, it waits for each worker to finish loading (a second or two) first.
    await Promise.all(
      workers.map(async (worker, i) => {
        await loaded[i]
        await worker.terminate()
      }),
    )
  }
  return results as Metrics[]
}
