import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import type { AcceptedTask, JobSpec, SchedulerEvent, WorkerProfile } from '../src/index.js'
import { cpuWorkload, createScheduler } from '../src/driver/index.js'
import { waitFor } from './memory-bus.js'
import { LocalNetwork, marketReady, TOPICS } from './nodes.js'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const SCRIPT = fileURLToPath(new URL('./fixtures/worker-process.ts', import.meta.url))
const PROFILE: WorkerProfile = { memoryMb: 8_192, features: ['shader-f16'], score: 40, slots: 1, tiers: [3] }

const JOB: JobSpec = {
  kind: 'render',
  inputs: ['bafkreikilltest'],
  split: { kind: 'render', firstFrame: 0, frames: 1, width: 64, height: 64, tileWidth: 16, tileHeight: 16, samples: 1 },
  tier: 3,
  maxPrice: 50n,
  benchHoursPerTask: 0.001,
  bidWindowMs: 10_000,
  minBids: 3,
  timeoutMs: 120_000,
}

/** Spawns the worker script and resolves with its peer id once it is ready. */
function spawnWorker(bootstrap: string): { child: ChildProcess; ready: Promise<string> } {
  const child = spawn(
    `${ROOT}node_modules/.bin/node`,
    ['--conditions=tessera-src', '--import', 'tsx', SCRIPT, bootstrap, '5', '600'],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  const ready = new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the worker process exited early (${code})`)))
    createInterface({ input: child.stdout as NonNullable<ChildProcess['stdout']> }).on('line', (line) => {
      const peer = (JSON.parse(line) as { ready?: string }).ready
      if (peer !== undefined) resolve(peer)
    })
  })
  return { child, ready }
}

describe('acceptance: a worker process killed mid-job', () => {
  const net = new LocalNetwork()
  let child: ChildProcess | undefined
  afterAll(async () => {
    child?.kill('SIGKILL')
    await net.stop()
  })

  it('should reassign its unfinished tasks, keep its finished ones and count no task twice', async () => {
    const creatorNode = await net.node()
    const accepted: AcceptedTask[] = []
    const creator = createScheduler(
      { bus: creatorNode.bus, blobs: creatorNode.blobs },
      { creator: { leaseMs: 3_000, heartbeatMs: 1_000 }, onAccept: (task) => accepted.push(task) },
    )
    net.drivers.push(creator)
    const events: SchedulerEvent[] = []
    for (const type of ['lease:granted', 'lease:lost', 'task:completed', 'task:reassigned'] as const)
      creator.on(type, (e) => events.push(e))

    const bootstrap = LocalNetwork.tcpAddr(creatorNode)
    const spawned = spawnWorker(bootstrap)
    child = spawned.child
    const [victim, locals] = await Promise.all([
      spawned.ready,
      Promise.all([net.node({ bootstrap: [bootstrap] }), net.node({ bootstrap: [bootstrap] })]),
    ])
    await Promise.all(
      locals.map((node, i) =>
        net.worker(node, PROFILE, BigInt(10 + i), { executor: cpuWorkload({ minTaskMs: 1_000 }) }),
      ),
    )
    await waitFor(
      () =>
        marketReady(creatorNode, locals) &&
        creatorNode.libp2p.services.pubsub.getSubscribers(TOPICS.orders).some((p) => p.toString() === victim),
      'all three workers to subscribe to orders',
    )

    const jobId = creator.submit(JOB)
    const granted = (): string[] =>
      events.flatMap((e) => (e.type === 'lease:granted' && e.worker === victim ? e.taskIds : []))
    const finished = (): string[] =>
      events.flatMap((e) => (e.type === 'task:completed' && e.worker === victim ? [e.taskId] : []))
    // Kill it once it has finished something and holds tasks it has not finished.
    await waitFor(
      () => finished().length > 0 && granted().length > finished().length,
      'the victim to finish a task and hold more',
    )
    child.kill('SIGKILL')
    const finishedBeforeKill = new Set(finished())

    const results = await creator.waitForJob(jobId)
    expect(child.signalCode).toBe('SIGKILL')
    const lost = events.find((e) => e.type === 'lease:lost')
    expect(lost).toMatchObject({ worker: victim, reason: 'heartbeat' })
    const lostTasks = new Set(lost?.type === 'lease:lost' ? lost.taskIds : [])
    expect(lostTasks.size).toBeGreaterThan(0)
    const reassigned = events.flatMap((e) => (e.type === 'task:reassigned' && e.from === victim ? [e.taskId] : []))
    expect(new Set(reassigned)).toEqual(lostTasks)

    // The victim's finished tasks stay its own (and are paid), its unfinished ones went to live workers, none twice.
    expect(results).toHaveLength(16)
    expect(new Set(results.map((r) => r.taskId)).size).toBe(16)
    const victimDone = new Set(results.filter((r) => r.worker === victim).map((r) => r.taskId))
    for (const taskId of finishedBeforeKill) expect(victimDone.has(taskId)).toBe(true)
    expect([...victimDone].some((taskId) => lostTasks.has(taskId))).toBe(false)
    expect(new Set([...victimDone, ...lostTasks])).toEqual(new Set(granted()))
    expect(accepted).toHaveLength(16)
    expect(new Set(accepted.map((a) => a.taskId)).size).toBe(16)
    expect(new Set(accepted.filter((a) => a.worker === victim).map((a) => a.taskId))).toEqual(victimDone)
  })
})
