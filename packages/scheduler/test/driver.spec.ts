import type { ComponentLogger } from '@libp2p/interface'
import { afterEach, describe, expect, it } from 'vitest'
import { blobCid, seededRng, type Result } from '@tessera/core'
import { merkleRoot } from '@tessera/proof'
import { concat } from 'uint8arrays/concat'
import {
  fixedPrice,
  SchedulerError,
  splitTasks,
  type JobSpec,
  type SchedulerEvent,
  type WorkerProfile,
} from '../src/index.js'
import {
  assembleOutputs,
  cpuWorkload,
  createScheduler,
  INFERENCE_OUTPUTS_PER_ITEM,
  type OutputStore,
  type SchedulerDriver,
  type SchedulerInit,
  type TaskExecutor,
  type WorkerOptions,
} from '../src/driver/index.js'
import { MemoryNetwork, waitFor } from './memory-bus.js'

const PROFILE: WorkerProfile = { memoryMb: 4_096, features: [], score: 50, slots: 2, tiers: [3] }

const RENDER: JobSpec = {
  kind: 'render',
  inputs: ['bafkreiscene'],
  split: { kind: 'render', firstFrame: 0, frames: 1, width: 64, height: 64, tileWidth: 16, tileHeight: 16, samples: 2 },
  tier: 3,
  maxPrice: 100n,
  benchHoursPerTask: 0.001,
  bidWindowMs: 2_000,
  minBids: 3,
  timeoutMs: 60_000,
}

describe('SchedulerDriver', () => {
  const drivers: SchedulerDriver[] = []
  afterEach(() => drivers.splice(0).forEach((d) => d.stop()))

  function market(workers: number, init: { creator?: SchedulerInit; worker?: Partial<WorkerOptions> } = {}) {
    const network = new MemoryNetwork()
    const creator = createScheduler(
      { bus: network.bus('creator'), blobs: network.blobs('creator'), rng: seededRng(1) },
      { ...init.creator, creator: { leaseMs: 600, heartbeatMs: 200 } },
    )
    drivers.push(creator)
    const events: SchedulerEvent[] = []
    for (const type of ['lease:granted', 'lease:lost', 'task:reassigned', 'task:rejected', 'job:completed'] as const) {
      creator.on(type, (e) => events.push(e))
    }
    const peers = Array.from({ length: workers }, (_, i) => `worker-${i}`)
    const workerDrivers = peers.map((peer) => {
      const driver = createScheduler(
        { bus: network.bus(peer), blobs: network.blobs(peer) },
        {
          creator: false,
          worker: {
            profile: PROFILE,
            pricing: fixedPrice(10n),
            executor: cpuWorkload({ minTaskMs: 20 }),
            ...init.worker,
          },
        },
      )
      drivers.push(driver)
      return driver
    })
    return { network, creator, workers: workerDrivers, events }
  }

  it('should run a render job across workers and assemble the frame the workload renders', async () => {
    const { creator, events } = market(3)
    const jobId = creator.submit(RENDER)
    const results = await creator.waitForJob(jobId)
    expect(results).toHaveLength(16)
    expect(
      new Set(events.filter((e) => e.type === 'lease:granted').map((e) => e.type === 'lease:granted' && e.worker)).size,
    ).toBe(3)
    const order = creator.job(jobId)?.order
    if (order === undefined) throw new Error('job vanished')
    const assembled = await creator.assemble(order, results)
    if (assembled.kind !== 'render') throw new Error('expected frames')
    const frame = assembled.frames[0]?.pixels
    // The reference: every tile rendered here, in one process, by the same workload.
    const reference = new Map<string, Uint8Array>()
    const executor = cpuWorkload()
    for (const task of splitTasks(order)) {
      const output = await executor.execute(
        { order, task, minPrice: 0n, paidMs: 0 },
        { signal: new AbortController().signal },
      )
      reference.set(task.taskId, Buffer.concat(output.chunks))
    }
    const expected = assembleOutputs(order, (taskId) => reference.get(taskId) as Uint8Array)
    expect(
      expected.kind === 'render' && Buffer.from(expected.frames[0]?.pixels ?? []).equals(Buffer.from(frame ?? [])),
    ).toBe(true)
    expect(new Set(frame).size).toBeGreaterThan(10)
  })

  it('should assemble an inference job in item order', async () => {
    const { creator } = market(2)
    const spec: JobSpec = {
      ...RENDER,
      kind: 'inference',
      split: { kind: 'inference', items: 50, itemsPerTask: 8 },
      minBids: 2,
    }
    const jobId = creator.submit(spec)
    const results = await creator.waitForJob(jobId)
    expect(results.map((r) => r.taskId)).toEqual(splitTasks({ jobId, split: spec.split }).map((t) => t.taskId))
    const assembled = await creator.assemble(
      creator.job(jobId)?.order as NonNullable<ReturnType<SchedulerDriver['job']>>['order'],
      results,
    )
    expect(assembled.kind === 'inference' && assembled.bytes.byteLength).toBe(50 * INFERENCE_OUTPUTS_PER_ITEM * 4)
  })

  it('should reassign the tasks of a worker that falls silent', async () => {
    const { network, creator, events } = market(3, { worker: { executor: cpuWorkload({ minTaskMs: 150 }) } })
    const jobId = creator.submit(RENDER)
    await waitFor(
      () => events.some((e) => e.type === 'lease:granted' && e.worker === 'worker-1'),
      'worker-1 to hold tasks',
    )
    network.cut.add('worker-1')
    const results = await creator.waitForJob(jobId)
    expect(events).toContainEqual(expect.objectContaining({ type: 'lease:lost', worker: 'worker-1' }))
    expect(events.some((e) => e.type === 'task:reassigned' && e.from === 'worker-1')).toBe(true)
    const moved = new Set(
      events.flatMap((e) => (e.type === 'task:reassigned' && e.from === 'worker-1' ? [e.taskId] : [])),
    )
    expect(results.filter((r: Result) => moved.has(r.taskId)).every((r) => r.worker !== 'worker-1')).toBe(true)
    expect(new Set(results.map((r) => r.taskId)).size).toBe(16)
  })

  it("should send a worker's Result again when a send fails, so its task is neither lost nor awarded again", async () => {
    const { network, creator, events } = market(1)
    network.failSends.set('result', 2)
    const results = await creator.waitForJob(creator.submit({ ...RENDER, minBids: 1 }))
    expect(network.failSends.get('result')).toBe(0)
    expect(new Set(results.map((r) => r.taskId)).size).toBe(16)
    expect(results.every((r) => r.worker === 'worker-0')).toBe(true)
    expect(events.filter((e) => e.type === 'lease:lost' || e.type === 'task:reassigned')).toEqual([])
  })

  it('should have a worker leave a job whose task failed with a code condemning its order, and run it no more', async () => {
    const { network, creator } = market(1)
    let runs = 0
    // What a node's workload throws for a model costing more than its order declared: every task would fail alike.
    const refusing: TaskExecutor = {
      execute: async () => {
        runs++
        throw new SchedulerError('SCHEDULER__DECLARED_WORK_MISMATCH', 'the model costs more than declared', {})
      },
    }
    const refuser = createScheduler(
      { bus: network.bus('refuser'), blobs: network.blobs('refuser') },
      { creator: false, worker: { profile: PROFILE, pricing: fixedPrice(1n), executor: refusing } },
    )
    drivers.push(refuser)
    const withdrawn: SchedulerEvent[] = []
    refuser.on('job:withdrawn', (e) => withdrawn.push(e))
    const results = await creator.waitForJob(creator.submit({ ...RENDER, minBids: 2 }))
    expect(new Set(results.map((r) => r.taskId)).size).toBe(16)
    expect(results.every((r) => r.worker === 'worker-0')).toBe(true)
    expect(withdrawn).toEqual([expect.objectContaining({ code: 'SCHEDULER__DECLARED_WORK_MISMATCH' })])
    // Only the tasks it had started at once (its slots) ran before it left.
    expect(runs).toBeLessThanOrEqual(PROFILE.slots)
  })

  it('should verify results through the hook and rerun a task that fails elsewhere', async () => {
    let failed: string | undefined
    const { creator, events } = market(3, {
      creator: {
        verify: async (request) => {
          if (failed === undefined) {
            failed = request.taskId
            return 'fail'
          }
          return 'pass'
        },
      },
    })
    const accepted: string[] = []
    const jobId = creator.submit(RENDER)
    creator.on('task:verified', (e) => accepted.push(e.taskId))
    const results = await creator.waitForJob(jobId)
    const rejected = events.find((e) => e.type === 'task:rejected')
    expect(rejected).toMatchObject({ taskId: failed })
    const rerun = results.find((r) => r.taskId === failed)
    expect(rerun?.worker).not.toBe(rejected?.type === 'task:rejected' ? rejected.worker : undefined)
    expect(accepted.sort()).toEqual(results.map((r) => r.taskId).sort())
  })

  it('should accept and pay a result whose failed check arbitration overturned, once the fail was heard', async () => {
    let failed: { taskId: string; worker: string } | undefined
    const paid: [string, string][] = []
    let clear = (): void => {}
    const cleared = new Promise<void>((resolve) => (clear = resolve))
    const { creator, events } = market(3, {
      creator: {
        verify: async (request) => {
          if (failed === undefined) {
            failed = { taskId: request.taskId, worker: request.worker }
            return 'fail'
          }
          // The task's next result is still under check when the first is cleared; its pass comes too late.
          if (request.taskId === failed.taskId) await cleared
          return 'pass'
        },
        onAccept: (task) => void paid.push([task.taskId, task.worker]),
      },
    })
    const jobId = creator.submit(RENDER)
    // The overturn follows the fail, as arbitration follows the check.
    await waitFor(() => events.some((e) => e.type === 'task:rejected'), 'the failed check')
    const { taskId, worker } = failed as { taskId: string; worker: string }
    creator.overturn(taskId, worker)
    clear()
    const results = await creator.waitForJob(jobId)
    expect(results.find((r) => r.taskId === taskId)?.worker).toBe(worker)
    expect(paid.filter(([task]) => task === taskId)).toEqual([[taskId, worker]])
  })

  it('should count a check that throws as failed and run the task again, not leave it in verification', async () => {
    let thrown: string | undefined
    const { creator, events } = market(3, {
      creator: {
        verify: async (request) => {
          if (thrown === undefined) {
            thrown = request.taskId
            throw new Error('the verifier fell over')
          }
          return 'pass'
        },
      },
    })
    const jobId = creator.submit(RENDER)
    const results = await creator.waitForJob(jobId)
    expect(events.find((e) => e.type === 'task:rejected')).toMatchObject({ taskId: thrown, outcome: 'fail' })
    expect(results.map((r) => r.taskId)).toContain(thrown)
  })

  it('should reject waitForJob when the job is cancelled, and workers should stop its tasks', async () => {
    const { creator, workers } = market(2, { worker: { executor: cpuWorkload({ minTaskMs: 60_000 }) } })
    const jobId = creator.submit({ ...RENDER, minBids: 2 })
    const waiting = creator.waitForJob(jobId)
    await waitFor(() => workers.every((w) => (w.worker?.load.running ?? 0) > 0), 'tasks to start')
    creator.cancel(jobId)
    await expect(waiting).rejects.toMatchObject({ code: 'SCHEDULER__JOB_UNFINISHED' })
    await waitFor(
      () => workers.every((w) => w.worker?.load.running === 0 && w.worker.jobCount === 0),
      'workers to drop the job',
    )
  })

  it('should reject waitForJob with an AbortError when the driver stops before the job ends', async () => {
    const { creator } = market(0)
    const jobId = creator.submit(RENDER)
    const waiting = creator.waitForJob(jobId)
    const withSignal = creator.waitForJob(jobId, { signal: new AbortController().signal })
    creator.stop()
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError', code: 'CORE__ABORTED' })
    await expect(withSignal).rejects.toMatchObject({ name: 'AbortError', code: 'CORE__ABORTED' })
  })

  it('should store and report the blob, CID and root its executor committed to, hashing the output no more', async () => {
    const network = new MemoryNetwork()
    const creator = createScheduler(
      { bus: network.bus('creator'), blobs: network.blobs('creator'), rng: seededRng(1) },
      { creator: { leaseMs: 600, heartbeatMs: 200 } },
    )
    const store = network.blobs('worker-0')
    const verifiedCids: Array<string | undefined> = []
    const blobs: OutputStore = {
      ...store,
      put: (bytes, options) => (verifiedCids.push(options?.verifiedCid), store.put(bytes, options)),
    }
    const workload = cpuWorkload()
    // A node's worker computes these anyway, to hold the blob and record the root before the Result goes out.
    const committing: TaskExecutor = {
      execute: async (execution, options) => {
        const output = await workload.execute(execution, options)
        const blob = concat([...output.chunks])
        return { ...output, committed: { blob, cid: blobCid(blob).toString(), root: merkleRoot(output.chunks) } }
      },
    }
    let commits = 0
    const worker = createScheduler(
      { bus: network.bus('worker-0'), blobs },
      {
        creator: false,
        commit: (chunks) => (commits++, merkleRoot(chunks)),
        worker: { profile: PROFILE, pricing: fixedPrice(10n), executor: committing },
      },
    )
    drivers.push(creator, worker)
    const jobId = creator.submit({ ...RENDER, minBids: 1 })
    const results = await creator.waitForJob(jobId)
    expect(results).toHaveLength(16)
    expect(commits).toBe(0)
    expect(verifiedCids.sort()).toEqual(results.map((r) => r.output).sort())
    // What was reported is what the driver would have computed: the creator assembles the same frame from it.
    const order = creator.job(jobId)?.order
    if (order === undefined) throw new Error('job vanished')
    for (const r of results) {
      const output = await workload.execute(
        { order, task: splitTasks(order).find((t) => t.taskId === r.taskId)!, minPrice: 0n, paidMs: 0 },
        { signal: new AbortController().signal },
      )
      expect(r.root).toEqual(merkleRoot(output.chunks))
    }
  })

  it('should report refused messages with their code', async () => {
    const { network, workers } = market(1)
    const refused: string[] = []
    workers[0]?.on('message:rejected', (e) => refused.push(`${e.error.code} from ${e.inbound.from}`))
    const mallory = network.bus('mallory')
    await mallory.send('worker-0', {
      type: 'award',
      body: {
        jobId: 'deadbeef',
        creator: 'mallory',
        worker: 'worker-0',
        taskIds: ['deadbeef/b0-1'],
        price: 1n,
        leaseMs: 2,
        heartbeatMs: 1,
        issuedAt: 0,
      },
    })
    await waitFor(() => refused.length > 0, 'the refusal')
    expect(refused).toEqual(['SCHEDULER__ORDER_NOT_FOUND from mallory'])
  })

  it('should catch a listener that throws or rejects, log it, and carry on', async () => {
    const errors: unknown[][] = []
    const log = Object.assign(() => {}, { error: (...args: unknown[]) => errors.push(args), trace: () => {} })
    const logger = { forComponent: () => log } as unknown as ComponentLogger
    const driver = createScheduler({ bus: new MemoryNetwork().bus('creator'), logger })
    const heard: string[] = []
    driver.on('job:completed', () => {
      throw new Error('a bug in a listener')
    })
    driver.addEventListener('job:completed', async () => {
      throw new Error('a bug in an async listener')
    })
    driver.on('job:completed', (e) => heard.push(e.jobId))
    driver.dispatchEvent(new CustomEvent('job:completed', { detail: { type: 'job:completed', jobId: 'job-1' } }))
    await waitFor(() => errors.length === 2, 'both errors logged')
    expect(heard).toEqual(['job-1'])
    expect(errors.map((args) => (args.at(-1) as Error).message).sort()).toEqual([
      'a bug in a listener',
      'a bug in an async listener',
    ])
  })
})
