import { createNode, seededRng, TOPICS, type TesseraNode, type Topic } from '@tessera/core'
import { planFor, ProverMachine, Reputation, VerifierMachine, type VerifierOutput } from '@tessera/proof'
import { fixedPrice, type JobSpec } from '@tessera/scheduler'
import { createScheduler, type SchedulerDriver, type TaskExecutor, type Verifier } from '@tessera/scheduler/driver'
import { ChunkKind, OutputModel, taskSeed } from '../src/models/output.js'
import { planTask, type Behaviour } from '../src/world/behaviour.js'
import { openSimResult, sealSimResult } from '../src/world/envelopes.js'
import { SIM_TOLERANCE } from '../src/world/worker-peer.js'

/** What the real and the simulated market share (see validation.spec.ts). */
export interface MarketParams {
  workers: number
  cheaters: number
  score: number
  price: number
  jobs: number
  tasksPerJob: number
  jobSpacingMs: number
  benchHoursPerTask: number
  chunksPerTask: number
  pixelsPerChunk: number
  bidWindowMs: number
  minBids: number
  leaseMs: number
  heartbeatMs: number
  deadlineMs: number
  cheater: Behaviour
}

/** What a run of the market measured. */
export interface MarketOutcome {
  completionMs: number[]
  /** Order to auction close (the k-th bid), ms: an order's delivery and a bid's, end to end. */
  auctionMs: number[]
  badTasks: number
  detected: number
  escaped: number
  /** Tasks awarded to each worker, by index. */
  awards: number[]
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => {
      clearTimeout(timer)
      reject(signal.reason)
    })
  })

async function waitFor(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(25)
  }
}

function subscribed(node: TesseraNode, topic: Topic, peers: readonly TesseraNode[]): boolean {
  const subscribers = new Set(node.libp2p.services.pubsub.getSubscribers(topic).map((p) => p.toString()))
  return peers.every((p) => subscribers.has(p.peerId.toString()))
}

/**
 * The engine of a real worker: sleeps the modelled run time (benchmark-hours over score, as the simulator's GPU
 * model) and returns the chunks its behaviour produces, from the simulator's own output model.
 */
function modelledExecutor(
  p: MarketParams,
  behaviour: Behaviour,
  model: OutputModel,
  seed: number,
  self: string,
  truth: Map<string, boolean>,
): TaskExecutor {
  const rng = seededRng(seed)
  return {
    async execute({ order, task }, { signal }) {
      const runMs = (order.benchHoursPerTask / p.score) * 3_600_000
      await sleep(runMs, signal)
      const plan = planTask(behaviour, p.chunksPerTask, rng)
      const s = taskSeed(task.taskId)
      const chunks = Array.from(plan.kinds, (kind, i) =>
        model.produce(s, i, kind as ChunkKind, rng, behaviour.lazyNoise),
      )
      truth.set(`${self}/${task.taskId}`, plan.bad)
      return { chunks, tolerance: SIM_TOLERANCE, computeMs: runMs }
    },
  }
}

/**
 * The creator's verification on the real node: `@tessera/proof`'s VerifierMachine decides whether to check, derives
 * the challenge, checks the reveal's Merkle paths and compares under the tolerance, exactly as in the simulator. The
 * output comes from the worker over a real blob transfer; the challenge and reveal are exchanged in-process with a
 * ProverMachine holding that output, since no proof driver carries them over the network yet.
 */
function verifierHook(creator: TesseraNode, p: MarketParams, model: OutputModel, reputation: Reputation): Verifier {
  const self = creator.peerId.toString()
  const verifier = new VerifierMachine({
    self,
    rng: seededRng(99),
    openResult: openSimResult,
    reputation,
    verifiers: [],
  })
  return async (request, { signal }) => check(request, signal)
  async function check(request: Parameters<Verifier>[0], signal: AbortSignal | undefined): Promise<'pass' | 'fail'> {
    const { result } = request
    const bytes = await fetchOutput(creator, result.worker, result.output, signal)
    const size = model.chunkBytes
    const chunks = Array.from({ length: bytes.byteLength / size }, (_, i) => bytes.subarray(i * size, (i + 1) * size))
    const prover = new ProverMachine({ self: result.worker })
    prover.handle(
      {
        kind: 'commit',
        jobId: result.jobId,
        taskId: result.taskId,
        creator: self,
        chunks,
        output: result.output,
        tolerance: result.tolerance,
        computeMs: 0,
      },
      Date.now(),
    )
    while (prover.pollOutput() !== undefined);
    // As the simulator's creators (and the node) do: the plan in force for the order's budget at the task's size.
    const plan = planFor(request.order.verification, result.chunks).inForce
    verifier.handle({ kind: 'result', result, envelope: sealSimResult(result), plan }, Date.now())
    for (;;) {
      const out: VerifierOutput | undefined = verifier.pollOutput()
      if (out === undefined) throw new Error(`the verifier left task ${result.taskId} undecided`)
      if (out.kind === 'send' && out.message.type === 'challenge') {
        prover.handle({ kind: 'challenge', from: self, challenge: out.message.body }, Date.now())
        for (let o = prover.pollOutput(); o !== undefined; o = prover.pollOutput()) {
          if (o.kind === 'send' && o.message.type === 'reveal') {
            verifier.handle({ kind: 'reveal', from: result.worker, reveal: o.message.body }, Date.now())
          }
        }
      } else if (out.kind === 'recompute') {
        // The same modelled GPU time the simulator charges for recomputing these chunks.
        await sleep(((out.indices.length / p.chunksPerTask) * p.benchHoursPerTask * 3_600_000) / p.score, signal)
        const s = taskSeed(out.taskId)
        verifier.handle(
          {
            kind: 'recomputed',
            jobId: out.jobId,
            taskId: out.taskId,
            worker: out.worker,
            chunks: out.indices.map((i) => model.reference(s, i)),
          },
          Date.now(),
        )
      } else if (out.kind === 'event' && out.event.name === 'task:accepted') {
        return 'pass'
      } else if (out.kind === 'event' && out.event.name === 'task:rejected') {
        return 'fail'
      }
    }
  }
}

/** Fetches a task's output from its worker, retrying: ten nodes in one busy process make streams slow to open. */
async function fetchOutput(node: TesseraNode, worker: string, cid: string, signal?: AbortSignal): Promise<Uint8Array> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await node.blobs.fetchFrom(worker, cid, signal === undefined ? {} : { signal })
    } catch (e) {
      if (attempt === 3 || signal?.aborted === true) throw e
      await sleep(250 * attempt)
    }
  }
}

/**
 * Which workers cheat: spread evenly over the start order (0, 3, 6 of nine). Nodes started first tend to get an
 * order first and win its auction more often (about 10 tasks each against 5 for the last), so cheaters taken from
 * the front would win more than their share, which the simulator's random delivery order does not reproduce.
 */
export const isCheater = (p: MarketParams, i: number): boolean => (i * p.cheaters) % p.workers < p.cheaters

/** Runs the market on real libp2p nodes on loopback: one creator and `p.workers` workers. */
export async function runRealMarket(p: MarketParams, model: OutputModel): Promise<MarketOutcome> {
  const nodes: TesseraNode[] = []
  const drivers: SchedulerDriver[] = []
  try {
    const creatorNode = await createNode()
    nodes.push(creatorNode)
    const bootstrap = [
      creatorNode
        .getMultiaddrs()
        .find((ma) => !ma.toString().includes('/ws'))
        ?.toString() ?? '',
    ]
    const workerNodes = await Promise.all(Array.from({ length: p.workers }, () => createNode({ bootstrap })))
    nodes.push(...workerNodes)
    // One Reputation for the verifier and the creator's tier gate and ranking, as the simulator's creators share it.
    const reputation = new Reputation()
    const creator = createScheduler(
      { bus: creatorNode.bus, blobs: creatorNode.blobs },
      {
        creator: {
          leaseMs: p.leaseMs,
          heartbeatMs: p.heartbeatMs,
          tiers: { reputation: (peer) => reputation.score(peer) },
        },
        verify: verifierHook(creatorNode, p, model, reputation),
      },
    )
    drivers.push(creator)
    const truth = new Map<string, boolean>()
    const profile = { memoryMb: 16_384, features: [], score: p.score, slots: 1, tiers: [3 as const] }
    await Promise.all(
      workerNodes.map(async (node, i) => {
        const behaviour: Behaviour = isCheater(p, i)
          ? p.cheater
          : { ...p.cheater, role: 'honest', badTaskRate: 0, wrongChunkFraction: 0 }
        drivers.push(
          createScheduler(
            { bus: node.bus, blobs: node.blobs },
            {
              creator: false,
              worker: {
                profile,
                pricing: fixedPrice(BigInt(p.price)),
                executor: modelledExecutor(p, behaviour, model, 1000 + i, node.peerId.toString(), truth),
              },
            },
          ),
        )
        await node.capacity.announce({
          gpu: { vendor: 'sim', architecture: 'modelled', description: 'modelled GPU', backend: 'sim' },
          memoryMb: profile.memoryMb,
          features: [],
          score: p.score,
          price: BigInt(p.price),
          tiers: [3],
          stake: 100n,
          classes: ['render/sim'],
          slots: 1,
          busy: 0,
        })
      }),
    )
    for (const d of drivers) d.start()
    await waitFor(
      () =>
        subscribed(creatorNode, TOPICS.orders, workerNodes) &&
        workerNodes.every((w) => subscribed(w, TOPICS.bids, [creatorNode])),
      'gossip between the creator and every worker',
    )
    const outcome: MarketOutcome = {
      completionMs: [],
      auctionMs: [],
      badTasks: 0,
      detected: 0,
      escaped: 0,
      awards: workerNodes.map(() => 0),
    }
    const index = new Map(workerNodes.map((n, i) => [n.peerId.toString(), i]))
    creator.on('lease:granted', (e) => {
      const i = index.get(e.worker)
      if (i !== undefined) outcome.awards[i] = (outcome.awards[i] ?? 0) + e.taskIds.length
    })
    const ordered = new Map<string, number>()
    creator.on('job:ordered', (e) => ordered.set(e.jobId, e.at))
    creator.on('auction:closed', (e) => {
      const at = ordered.get(e.jobId)
      if (at !== undefined && e.reason === 'count') outcome.auctionMs.push(e.at - at)
    })
    creator.on('job:completed', (e) => outcome.completionMs.push(e.at - (ordered.get(e.jobId) ?? e.at)))
    creator.on('task:verified', (e) => {
      if (truth.get(`${e.worker}/${e.taskId}`) === true) outcome.escaped++
    })
    creator.on('task:rejected', (e) => {
      if (truth.get(`${e.worker}/${e.taskId}`) === true) outcome.detected++
    })
    const done: Promise<unknown>[] = []
    for (let j = 0; j < p.jobs; j++) {
      const spec: JobSpec = {
        kind: 'render',
        inputs: [`bafkreivalidation${j}`],
        split: {
          kind: 'render',
          firstFrame: 0,
          frames: p.tasksPerJob,
          width: 64,
          height: 64,
          tileWidth: 64,
          tileHeight: 64,
          samples: 64,
        },
        tier: 3,
        maxPrice: BigInt(p.price * 2),
        benchHoursPerTask: p.benchHoursPerTask,
        bidWindowMs: p.bidWindowMs,
        minBids: p.minBids,
        timeoutMs: p.deadlineMs,
      }
      // A job can expire on either side (every bidder of a task failed its check and no one bid again in time); the
      // comparison counts completed jobs.
      done.push(creator.waitForJob(creator.submit(spec)).catch(() => undefined))
      await sleep(p.jobSpacingMs)
    }
    await Promise.all(done)
    outcome.badTasks = outcome.detected + outcome.escaped
    return outcome
  } finally {
    for (const d of drivers) d.stop()
    await Promise.all(nodes.map((n) => n.stop()))
  }
}
