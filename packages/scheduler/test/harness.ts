import { ManualClock, seededRng, type Capacity, type Inbound, type Order, type WireMessage } from '@tessera/core'
import {
  CREATOR_MESSAGE_TYPES,
  CreatorMachine,
  WORKER_MESSAGE_TYPES,
  fixedPrice,
  WorkerMachine,
  type AcceptedTask,
  type CreatorMachineInit,
  type CreatorOutput,
  type JobSpec,
  type SchedulerEvent,
  type TaskDescriptor,
  type VerifyRequest,
  type WorkerMachineInit,
  type WorkerOutput,
} from '../src/index.js'

/** How long test envelopes stay valid. */
const ENVELOPE_TTL_MS = 60_000

/** A render job of `frames` x 2 x 2 tiles (4 tasks per frame). */
export function renderSpec(overrides: Partial<JobSpec> = {}): JobSpec {
  return {
    kind: 'render',
    inputs: ['bafkreiscene'],
    split: {
      kind: 'render',
      firstFrame: 1,
      frames: 1,
      width: 64,
      height: 64,
      tileWidth: 32,
      tileHeight: 32,
      samples: 4,
    },
    tier: 3,
    maxPrice: 100n,
    benchHoursPerTask: 0.5,
    bidWindowMs: 1_000,
    minBids: 2,
    timeoutMs: 60_000,
    ...overrides,
  }
}

/** A capacity record with sensible defaults. */
export function capacity(peer: string, overrides: Partial<Capacity> = {}): Capacity {
  return {
    peer,
    addrs: [],
    gpu: { vendor: 'mesa', architecture: 'llvmpipe', description: 'lavapipe', backend: 'vulkan' },
    memoryMb: 8_192,
    features: ['shader-f16'],
    score: 100,
    price: 10n,
    tiers: [3],
    stake: 100n,
    classes: ['render/wgsl'],
    slots: 4,
    busy: 0,
    issuedAt: 0,
    ...overrides,
  }
}

export function inbound(from: string, message: WireMessage, now: number, topic?: Inbound['topic']): Inbound {
  return topic === undefined
    ? { from, message, expiresAt: now + ENVELOPE_TTL_MS }
    : { from, message, topic, expiresAt: now + ENVELOPE_TTL_MS }
}

type AnyOutput = CreatorOutput | WorkerOutput

/**
 * A tiny deterministic market for unit tests: one creator, some workers, a ManualClock, perfect delivery except to
 * and from peers marked down. Gossip reaches every other machine; direct messages reach their addressee.
 */
export class Market {
  readonly clock = new ManualClock(1_000)
  readonly creator: CreatorMachine
  readonly workers = new Map<string, WorkerMachine>()
  readonly events: SchedulerEvent[] = []
  readonly verifies: VerifyRequest[] = []
  readonly accepts: AcceptedTask[] = []
  /** Tasks currently running, by worker. */
  readonly running = new Map<string, Map<string, { order: Order; task: TaskDescriptor; minPrice: bigint }>>()
  readonly aborted: string[] = []
  /** Errors machines threw while handling delivered messages, with the receiving peer. */
  readonly rejections: { peer: string; error: unknown }[] = []
  readonly down = new Set<string>()
  /** Rewrites what a peer sends before delivery (a peer of another version, a forger). */
  readonly rewrite = new Map<string, (message: WireMessage) => WireMessage>()
  /** Loses on the way the messages it returns true for (a reset stream). */
  lose: ((message: WireMessage, from: string, to: string | undefined) => boolean) | undefined
  /** Messages in flight, delivered by `flush`. */
  #wire: { from: string; to: string | undefined; message: WireMessage; topic: Inbound['topic'] }[] = []

  constructor(init: Partial<CreatorMachineInit> = {}) {
    this.creator = new CreatorMachine({ self: 'creator', rng: seededRng(7), verify: false, ...init })
  }

  addWorker(peer: string, init: Partial<WorkerMachineInit> = {}): WorkerMachine {
    const worker = new WorkerMachine({
      self: peer,
      profile: { memoryMb: 8_192, features: ['shader-f16'], score: 100, slots: 4, tiers: [1, 2, 3] },
      pricing: fixedPrice(10n),
      ...init,
    })
    this.workers.set(peer, worker)
    this.running.set(peer, new Map())
    return worker
  }

  get now(): number {
    return this.clock.now()
  }

  submit(spec: JobSpec = renderSpec()): string {
    const jobId = this.creator.submit(spec, this.now)
    this.flush()
    return jobId
  }

  eventsOf<T extends SchedulerEvent['type']>(type: T): Extract<SchedulerEvent, { type: T }>[] {
    return this.events.filter((e): e is Extract<SchedulerEvent, { type: T }> => e.type === type)
  }

  /** Drains every machine's outputs and delivers messages until the network is quiet. */
  flush(): void {
    for (let rounds = 0; rounds < 10_000; rounds++) {
      this.#drain('creator', this.creator)
      for (const [peer, worker] of this.workers) this.#drain(peer, worker)
      const wire = this.#wire
      this.#wire = []
      if (wire.length === 0) return
      for (const item of wire) this.#deliver(item)
    }
    throw new Error('the market did not settle')
  }

  /** Moves the clock to `until`, firing every timer on the way at its own time. */
  advanceTo(until: number): void {
    for (;;) {
      const due = [this.creator.pollTimeout(), ...[...this.workers.values()].map((w) => w.pollTimeout())]
        .filter((t): t is number => t !== undefined && t <= until)
        .reduce((a, b) => Math.min(a, b), Number.POSITIVE_INFINITY)
      if (due === Number.POSITIVE_INFINITY) break
      this.clock.set(Math.max(due, this.now))
      this.creator.handleTimeout(this.now)
      for (const worker of this.workers.values()) worker.handleTimeout(this.now)
      this.flush()
    }
    this.clock.set(until)
    this.flush()
  }

  advance(ms: number): void {
    this.advanceTo(this.now + ms)
  }

  /** Finishes a running task of `peer` with a deterministic output. */
  finish(peer: string, taskId: string): void {
    const worker = this.workers.get(peer)
    if (worker === undefined) throw new Error(`no worker ${peer}`)
    this.running.get(peer)?.delete(taskId)
    worker.handle(
      {
        kind: 'task:finished',
        taskId,
        output: {
          root: new Uint8Array(32).fill(7),
          chunks: 1,
          output: `bafkout-${taskId}`,
          tolerance: 'bitwise',
          computeMs: 5,
        },
      },
      this.now,
    )
    this.flush()
  }

  /** Finishes every running task of every worker that is up, repeatedly, until nothing runs. */
  finishAll(): void {
    for (;;) {
      let any = false
      for (const [peer, tasks] of this.running) {
        if (this.down.has(peer)) continue
        for (const taskId of [...tasks.keys()]) {
          any = true
          this.finish(peer, taskId)
        }
      }
      if (!any) return
    }
  }

  feedCapacity(record: Capacity, expiresAt = this.now + ENVELOPE_TTL_MS): void {
    this.creator.handle(
      {
        kind: 'message',
        inbound: {
          from: record.peer,
          message: { type: 'capacity', body: record },
          topic: '/tessera/1/capacity',
          expiresAt,
        },
      },
      this.now,
    )
  }

  #drain(peer: string, machine: { pollOutput(): AnyOutput | undefined }): void {
    for (let out = machine.pollOutput(); out !== undefined; out = machine.pollOutput()) {
      switch (out.kind) {
        case 'publish':
          this.#wire.push({ from: peer, to: undefined, message: out.message, topic: out.topic })
          break
        case 'send':
          this.#wire.push({ from: peer, to: out.to, message: out.message, topic: undefined })
          break
        case 'event':
          this.events.push(out.event)
          break
        case 'verify':
          this.verifies.push(out)
          break
        case 'accept':
          this.accepts.push(out)
          break
        case 'run':
          this.running.get(peer)?.set(out.task.taskId, { order: out.order, task: out.task, minPrice: out.minPrice })
          break
        case 'abort':
          this.running.get(peer)?.delete(out.taskId)
          this.aborted.push(out.taskId)
          break
      }
    }
  }

  #deliver(item: { from: string; to: string | undefined; message: WireMessage; topic: Inbound['topic'] }): void {
    if (this.down.has(item.from) || this.lose?.(item.message, item.from, item.to) === true) return
    const message = this.rewrite.get(item.from)?.(item.message) ?? item.message
    const targets: [string, CreatorMachine | WorkerMachine][] =
      item.to === undefined
        ? [['creator', this.creator] as [string, CreatorMachine], ...this.workers].filter(
            ([peer]) => peer !== item.from,
          )
        : [[item.to, item.to === 'creator' ? this.creator : this.workers.get(item.to)]].filter(
            (t): t is [string, CreatorMachine | WorkerMachine] => t[1] !== undefined,
          )
    for (const [peer, machine] of targets) {
      if (this.down.has(peer)) continue
      // Machines take only their own message types; the real driver routes the same way.
      const takes = machine instanceof CreatorMachine ? CREATOR_MESSAGE_TYPES : WORKER_MESSAGE_TYPES
      if (!takes.has(message.type)) continue
      try {
        machine.handle({ kind: 'message', inbound: inbound(item.from, message, this.now, item.topic) }, this.now)
      } catch (error) {
        this.rejections.push({ peer, error })
      }
    }
  }
}
