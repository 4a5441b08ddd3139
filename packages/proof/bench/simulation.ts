import {
  domainOf,
  generateIdentity,
  MAX_DIRECT_ENVELOPE_BYTES,
  openEnvelope,
  sealEnvelope,
  seededRng,
  type Identity,
  type Rng,
} from '@tessera/core'
import {
  openResultEnvelope,
  ProverMachine,
  VerifierMachine,
  type SamplingPlan,
  type VerifierInit,
  type VerifierOutput,
} from '../src/index.js'

/**
 * A compact synchronous driver for the bench: real VerifierMachines and ProverMachines, real signed Result
 * envelopes (fraud proofs carry them), instant delivery, and compute modelled in chunk units: a task's useful work
 * is its `chunks`, a verifier's work is the chunks it is asked to recompute (checks and arbitration alike).
 */

/** How a worker's output departs from the honest one on a task it cheats on. */
export type CheaterKind = 'honest' | 'wrong-output' | 'fake-chunks' | 'replay' | 'fewer-samples'

export interface Task {
  jobId: string
  taskId: string
  tolerance: 'relative' | 'psnr:rgba32f'
  honest: Uint8Array[]
}

export interface SimPeer {
  id: string
  identity: Identity
  verifier: VerifierMachine
  prover: ProverMachine
}

export interface Tally {
  tasks: number
  usefulChunks: number
  verifyChunks: number
  checks: number
  cheatedTasks: number
  caughtTasks: number
  falsePositives: number
  slashes: number
  payments: number
}

export const emptyTally = (): Tally => ({
  tasks: 0,
  usefulChunks: 0,
  verifyChunks: 0,
  checks: 0,
  cheatedTasks: 0,
  caughtTasks: 0,
  falsePositives: 0,
  slashes: 0,
  payments: 0,
})

export class BenchNet {
  readonly peers = new Map<string, SimPeer>()
  readonly reference = new Map<string, Uint8Array[]>()
  /** Tasks a cheater delivered wrong, by key. */
  readonly cheated = new Set<string>()
  tally = emptyTally()
  readonly #judged = new Set<string>()
  #seq = 0n
  #now = 0

  static async create(
    count: number,
    init: Partial<VerifierInit> & { plan: SamplingPlan },
    seed: number,
  ): Promise<BenchNet> {
    const net = new BenchNet()
    for (let i = 0; i < count; i++) {
      const identity = await generateIdentity()
      const id = identity.peerId.toString()
      net.peers.set(id, {
        id,
        identity,
        verifier: new VerifierMachine({
          self: id,
          rng: seededRng(seed * 1_000_003 + i),
          openResult: openResultEnvelope,
          ...init,
        }),
        prover: new ProverMachine({ self: id }),
      })
    }
    return net
  }

  /** Tells every verifier which third peers may verify and arbitrate. */
  setVerifiers(ids: readonly string[]): void {
    for (const p of this.peers.values()) p.verifier.handle({ kind: 'verifiers', peers: ids }, this.#now)
  }

  /**
   * One task: the worker commits to `delivered` (wrong when `cheated`), the creator's verifier decides, and
   * everything runs to rest.
   */
  run(worker: SimPeer, creator: SimPeer, task: Task, delivered: Uint8Array[], cheated: boolean): void {
    const key = `${task.jobId}/${task.taskId}`
    this.reference.set(key, task.honest)
    if (cheated) this.cheated.add(key)
    this.tally.tasks++
    this.tally.usefulChunks += task.honest.length
    if (this.cheated.has(key)) this.tally.cheatedTasks++
    this.#now += 1_000
    worker.prover.handle(
      {
        kind: 'commit',
        jobId: task.jobId,
        taskId: task.taskId,
        creator: creator.id,
        chunks: delivered,
        output: `bafy${task.taskId}`,
        tolerance: task.tolerance,
        computeMs: 1,
      },
      this.#now,
    )
    this.#pump()
    worker.prover.handle({ kind: 'release', jobId: task.jobId, taskId: task.taskId }, this.#now)
    worker.prover.pollOutput()
    this.reference.delete(key)
    this.cheated.delete(key)
    this.#judged.delete(key)
  }

  #pump(): void {
    for (let moved = true; moved;) {
      moved = false
      for (const peer of this.peers.values()) {
        for (let out = peer.prover.pollOutput(); out !== undefined; out = peer.prover.pollOutput()) {
          moved = true
          if (out.kind === 'send') this.#direct(peer, out.to, out.message)
        }
        for (let out = peer.verifier.pollOutput(); out !== undefined; out = peer.verifier.pollOutput()) {
          moved = true
          this.#dispatch(peer, out)
        }
      }
    }
  }

  #direct(from: SimPeer, to: string, message: Parameters<typeof sealEnvelope>[1]): void {
    const target = this.peers.get(to) as SimPeer
    switch (message.type) {
      case 'result': {
        const bytes = sealEnvelope(from.identity, message, {
          domain: domainOf('direct'),
          seq: ++this.#seq,
          expiresAt: this.#now + 60_000,
        })
        const opened = openEnvelope(bytes, {
          domain: domainOf('direct'),
          maxBytes: MAX_DIRECT_ENVELOPE_BYTES,
          now: this.#now,
        })
        if (opened.message.type !== 'result') throw new Error('expected a result')
        target.verifier.handle({ kind: 'result', result: opened.message.body, envelope: bytes }, this.#now)
        return
      }
      case 'challenge':
        target.prover.handle({ kind: 'challenge', from: from.id, challenge: message.body }, this.#now)
        return
      case 'reveal':
        target.verifier.handle({ kind: 'reveal', from: from.id, reveal: message.body }, this.#now)
        return
      default:
        throw new Error(`unexpected ${message.type}`)
    }
  }

  #dispatch(peer: SimPeer, out: VerifierOutput): void {
    switch (out.kind) {
      case 'send':
        this.#direct(peer, out.to, out.message)
        return
      case 'publish': {
        if (out.message.type !== 'verdict') return
        for (const other of this.peers.values()) {
          if (other !== peer)
            other.verifier.handle({ kind: 'verdict', from: peer.id, verdict: out.message.body }, this.#now)
        }
        const key = `${out.message.body.jobId}/${out.message.body.taskId}`
        // Re-escalations repeat the round-0 verdict with the next arbiter: count each check once.
        if (out.message.body.round === 0 && !this.#judged.has(key)) {
          this.#judged.add(key)
          this.tally.checks++
          if (out.message.body.outcome !== 'pass') {
            if (this.cheated.has(key)) this.tally.caughtTasks++
            else this.tally.falsePositives++
          }
        }
        return
      }
      case 'recompute': {
        const honest = this.reference.get(`${out.jobId}/${out.taskId}`) as Uint8Array[]
        this.tally.verifyChunks += out.indices.length
        peer.verifier.handle(
          {
            kind: 'recomputed',
            jobId: out.jobId,
            taskId: out.taskId,
            worker: out.worker,
            chunks: out.indices.map((i) => honest[i] as Uint8Array),
          },
          this.#now,
        )
        return
      }
      case 'delegate': {
        const opened = openEnvelope(out.envelope, {
          domain: domainOf('direct'),
          maxBytes: MAX_DIRECT_ENVELOPE_BYTES,
          now: this.#now,
        })
        if (opened.message.type !== 'result') throw new Error('expected a result')
        ;(this.peers.get(out.to) as SimPeer).verifier.handle(
          { kind: 'assigned', from: peer.id, result: opened.message.body, envelope: out.envelope },
          this.#now,
        )
        return
      }
      case 'escalate':
        ;(this.peers.get(out.to) as SimPeer).verifier.handle(
          { kind: 'arbitrate', from: peer.id, creator: out.creator, round: out.round, fraudProof: out.fraudProof },
          this.#now,
        )
        return
      case 'slash':
        this.tally.slashes++
        return
      case 'payment':
        this.tally.payments++
        return
      case 'event':
        return
    }
  }
}

const uniform = (r: Rng): number => r.nextU32() / 2 ** 32
const gauss = (r: Rng): number => Math.sqrt(-2 * Math.log(1 - uniform(r))) * Math.cos(2 * Math.PI * uniform(r))

/** float32 little-endian bytes. */
function f32(values: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer)
}

/** Moves each float32 by a few units in the last place, as another driver's rounding does. */
function otherDriver(chunks: readonly Uint8Array[], r: Rng): Uint8Array[] {
  return chunks.map((c) => {
    const out = c.slice()
    const view = new DataView(out.buffer)
    for (let i = 0; i < out.byteLength; i += 4) view.setInt32(i, view.getInt32(i, true) + ((r.nextU32() % 7) - 3), true)
    return out
  })
}

/** An honest task output: `chunks` tensor slices of 16 floats, or image rows of 8 linear RGBA float32 pixels. */
export function makeTask(r: Rng, jobId: string, taskId: string, chunks: number, image: boolean): Task {
  const honest = Array.from({ length: chunks }, () =>
    f32(
      Array.from({ length: image ? 32 : 16 }, (_, i) =>
        image ? (i % 4 === 3 ? 1 : uniform(r) * 0.8 + 0.05) : gauss(r) * 4,
      ),
    ),
  )
  return { jobId, taskId, tolerance: image ? 'psnr:rgba32f' : 'relative', honest }
}

/** What a worker delivers for `task`: honest (on another driver) or, when cheating, its kind of wrong output. */
export function deliver(
  kind: CheaterKind,
  cheat: boolean,
  task: Task,
  previous: Uint8Array[] | undefined,
  badChunks: number,
  r: Rng,
): Uint8Array[] {
  const honest = otherDriver(task.honest, r)
  if (kind === 'honest' || !cheat) return honest
  switch (kind) {
    case 'wrong-output':
      return honest.map((c) => new Uint8Array(c.byteLength))
    case 'fake-chunks': {
      const fake = new Set<number>()
      while (fake.size < badChunks) fake.add(Math.floor(uniform(r) * honest.length))
      return honest.map((c, i) => (fake.has(i) ? f32(Array.from({ length: c.byteLength / 4 }, () => uniform(r))) : c))
    }
    case 'replay':
      return previous ?? honest.map((c) => c.map((b) => b ^ 0x55))
    case 'fewer-samples':
      // A quarter of the samples: the same radiance with about twice the Monte Carlo noise (sigma 0.15 linear).
      return honest.map((c) => {
        const v = new Float32Array(c.slice().buffer)
        return f32(v.map((x, i) => (i % 4 === 3 ? x : Math.max(0, x + gauss(r) * 0.15))))
      })
  }
}
