import {
  domainOf,
  generateIdentity,
  ManualClock,
  MAX_DIRECT_ENVELOPE_BYTES,
  openEnvelope,
  sealEnvelope,
  seededRng,
  validateBody,
  type Identity,
  type Verdict,
  type WireMessage,
} from '@tessera/core'
import {
  openResultEnvelope,
  ProverMachine,
  VerifierMachine,
  type JobPolicy,
  type ProverEvent,
  type ProverInit,
  type VerifierEvent,
  type VerifierInit,
  type VerifierOutput,
} from '../src/index.js'

/**
 * A deterministic in-memory driver for the proof machines, as the simulator or a node drives them: it signs and
 * opens real envelopes (so fraud proofs carry real signatures), delivers messages between peers instantly, answers
 * `recompute` from a table of honest outputs, and moves a manual clock.
 */
export interface TestPeer {
  id: string
  identity: Identity
  verifier: VerifierMachine
  prover: ProverMachine
}

type Slash = Extract<VerifierOutput, { kind: 'slash' }>
type Payment = Extract<VerifierOutput, { kind: 'payment' }>
type Escalation = Extract<VerifierOutput, { kind: 'escalate' }>

export interface TestNetOptions {
  seed?: number
  verifier?: Partial<Omit<VerifierInit, 'self' | 'rng' | 'openResult'>>
  prover?: Partial<Omit<ProverInit, 'self'>>
}

export class TestNet {
  readonly clock = new ManualClock(0)
  readonly peers = new Map<string, TestPeer>()
  /** Workers that never answer challenges. */
  readonly refusing = new Set<string>()
  /** Workers whose reveals have their first chunk altered on the way: a reveal that does not open the root. */
  readonly forging = new Set<string>()
  /** Peers whose messages are dropped (they are offline). */
  readonly silent = new Set<string>()
  /** Honest outputs by task, what every verifier's engine recomputes. */
  readonly reference = new Map<string, readonly Uint8Array[]>()
  /** A peer whose engine recomputes something else (a buggy or lying accuser). */
  readonly wrongEngine = new Map<string, (chunk: Uint8Array) => Uint8Array>()
  readonly policies = new Map<string, JobPolicy>()
  readonly slashes: Slash[] = []
  readonly payments: Payment[] = []
  readonly escalations: Escalation[] = []
  readonly delegations: { from: string; to: string }[] = []
  readonly verdicts: { from: string; verdict: Verdict }[] = []
  readonly events: { peer: string; event: VerifierEvent | ProverEvent }[] = []
  readonly envelopes = new Map<string, Uint8Array>()
  recomputed = 0
  readonly #seed: number
  readonly #options: TestNetOptions
  #seq = 0n

  constructor(options: TestNetOptions = {}) {
    this.#seed = options.seed ?? 1
    this.#options = options
  }

  async addPeer(overrides: Partial<Omit<VerifierInit, 'self' | 'rng' | 'openResult'>> = {}): Promise<TestPeer> {
    const identity = await generateIdentity()
    const id = identity.peerId.toString()
    const peer: TestPeer = {
      id,
      identity,
      verifier: new VerifierMachine({
        self: id,
        rng: seededRng(this.#seed * 7919 + this.peers.size),
        openResult: openResultEnvelope,
        ...this.#options.verifier,
        ...overrides,
      }),
      prover: new ProverMachine({ self: id, ...this.#options.prover }),
    }
    this.peers.set(id, peer)
    return peer
  }

  async addPeers(
    count: number,
    overrides: Partial<Omit<VerifierInit, 'self' | 'rng' | 'openResult'>> = {},
  ): Promise<TestPeer[]> {
    const out: TestPeer[] = []
    for (let i = 0; i < count; i++) out.push(await this.addPeer(overrides))
    return out
  }

  /** Tells every verifier which third peers exist. */
  announceVerifiers(): void {
    const ids = [...this.peers.keys()]
    for (const peer of this.peers.values()) peer.verifier.handle({ kind: 'verifiers', peers: ids }, this.clock.now())
  }

  /** A worker finished a task: `honest` is what a correct engine computes, `delivered` what it commits to. */
  commit(
    worker: TestPeer,
    creator: TestPeer,
    task: {
      jobId: string
      taskId: string
      honest: readonly Uint8Array[]
      delivered?: readonly Uint8Array[]
      tolerance?: string
    },
  ): void {
    this.reference.set(`${task.jobId}/${task.taskId}`, task.honest)
    worker.prover.handle(
      {
        kind: 'commit',
        jobId: task.jobId,
        taskId: task.taskId,
        creator: creator.id,
        chunks: task.delivered ?? task.honest,
        output: `bafy-${task.jobId}-${task.taskId}`,
        tolerance: task.tolerance ?? 'bitwise',
        computeMs: 10,
      },
      this.clock.now(),
    )
    this.run()
  }

  /** Delivers outputs until every machine is quiet. */
  run(): void {
    for (let moved = true; moved;) {
      moved = false
      for (const peer of this.peers.values()) {
        for (let out = peer.prover.pollOutput(); out !== undefined; out = peer.prover.pollOutput()) {
          moved = true
          if (out.kind === 'event') this.events.push({ peer: peer.id, event: out.event })
          else if (out.kind === 'send') this.#send(peer, out.to, out.message)
        }
        for (let out = peer.verifier.pollOutput(); out !== undefined; out = peer.verifier.pollOutput()) {
          moved = true
          this.#dispatch(peer, out)
        }
      }
    }
  }

  /** Moves the clock and fires due timers. */
  advance(ms: number): void {
    const until = this.clock.now() + ms
    for (;;) {
      const next = Math.min(
        ...[...this.peers.values()].flatMap((p) => [
          p.verifier.pollTimeout() ?? Infinity,
          p.prover.pollTimeout() ?? Infinity,
        ]),
      )
      if (next > until) break
      this.clock.set(Math.max(this.clock.now(), next))
      for (const p of this.peers.values()) {
        p.verifier.handleTimeout(this.clock.now())
        p.prover.handleTimeout(this.clock.now())
      }
      this.run()
    }
    this.clock.set(until)
  }

  eventsOf(name: string): { peer: string; event: VerifierEvent | ProverEvent }[] {
    return this.events.filter((e) => e.event.name === name)
  }

  #send(from: TestPeer, to: string, message: WireMessage): void {
    if (this.silent.has(from.id)) return
    const target = this.peers.get(to)
    if (target === undefined || this.silent.has(to)) return
    const now = this.clock.now()
    if (message.type !== 'result') {
      // Only commitments need real signatures (fraud proofs carry them); other messages are schema-checked only.
      const m = { type: message.type, body: validateBody(message.type, message.body) } as WireMessage
      this.#deliver(target, from.id, m, new Uint8Array(0), now)
      return
    }
    const bytes = sealEnvelope(from.identity, message, {
      domain: domainOf('direct'),
      seq: ++this.#seq,
      expiresAt: now + 60_000,
    })
    const opened = openEnvelope(bytes, { domain: domainOf('direct'), maxBytes: MAX_DIRECT_ENVELOPE_BYTES, now })
    this.#deliver(target, opened.from, opened.message, bytes, now)
  }

  #deliver(target: TestPeer, from: string, m: WireMessage, bytes: Uint8Array, now: number): void {
    switch (m.type) {
      case 'result':
        this.envelopes.set(`${m.body.jobId}/${m.body.taskId}`, bytes)
        target.verifier.handle(
          { kind: 'result', result: m.body, envelope: bytes, ...this.policies.get(m.body.jobId) },
          now,
        )
        return
      case 'challenge':
        if (this.refusing.has(target.id)) return
        target.prover.handle({ kind: 'challenge', from, challenge: m.body }, now)
        return
      case 'reveal': {
        const reveal = this.forging.has(from)
          ? { ...m.body, chunks: m.body.chunks.map((c, i) => (i === 0 ? c.map((b) => b ^ 0xff) : c)) }
          : m.body
        target.verifier.handle({ kind: 'reveal', from, reveal }, now)
        return
      }
      default:
        throw new Error(`unexpected direct message ${m.type}`)
    }
  }

  #dispatch(peer: TestPeer, out: VerifierOutput): void {
    const now = this.clock.now()
    switch (out.kind) {
      case 'send':
        this.#send(peer, out.to, out.message)
        return
      case 'publish': {
        if (out.message.type !== 'verdict' || this.silent.has(peer.id)) return
        const verdict = out.message.body
        this.verdicts.push({ from: peer.id, verdict })
        for (const other of this.peers.values()) {
          if (other.id !== peer.id && !this.silent.has(other.id)) {
            other.verifier.handle({ kind: 'verdict', from: peer.id, verdict }, now)
          }
        }
        return
      }
      case 'recompute': {
        const honest = this.reference.get(`${out.jobId}/${out.taskId}`)
        if (honest === undefined) throw new Error(`no reference for ${out.jobId}/${out.taskId}`)
        const wrong = this.wrongEngine.get(peer.id)
        const chunks = out.indices.map((i) => {
          const chunk = honest[i] as Uint8Array
          return wrong === undefined ? chunk : wrong(chunk)
        })
        this.recomputed += chunks.length
        peer.verifier.handle(
          { kind: 'recomputed', jobId: out.jobId, taskId: out.taskId, worker: out.worker, chunks },
          now,
        )
        return
      }
      case 'delegate': {
        this.delegations.push({ from: peer.id, to: out.to })
        const target = this.peers.get(out.to)
        if (target === undefined || this.silent.has(out.to)) return
        const opened = openEnvelope(out.envelope, {
          domain: domainOf('direct'),
          maxBytes: MAX_DIRECT_ENVELOPE_BYTES,
          now,
        })
        if (opened.message.type !== 'result') throw new Error('delegated a non-result')
        target.verifier.handle(
          {
            kind: 'assigned',
            from: peer.id,
            result: opened.message.body,
            envelope: out.envelope,
            ...this.policies.get(out.jobId),
          },
          now,
        )
        return
      }
      case 'escalate': {
        this.escalations.push(out)
        const target = this.peers.get(out.to)
        if (target === undefined || this.silent.has(out.to)) return
        const policy = this.policies.get(out.jobId)
        target.verifier.handle(
          {
            kind: 'arbitrate',
            from: peer.id,
            creator: out.creator,
            round: out.round,
            fraudProof: out.fraudProof,
            ...(policy?.tolerance === undefined ? {} : { tolerance: policy.tolerance }),
            ...(policy?.chunks === undefined ? {} : { chunks: policy.chunks }),
          },
          now,
        )
        return
      }
      case 'slash':
        this.slashes.push(out)
        return
      case 'payment':
        this.payments.push(out)
        return
      case 'event':
        this.events.push({ peer: peer.id, event: out.event })
        return
    }
  }
}

/** float32 little-endian bytes of `values`. */
export function f32(values: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer)
}

/** The float32 values of little-endian bytes. */
export function fromF32(bytes: Uint8Array): Float32Array {
  return new Float32Array(bytes.slice().buffer)
}

/** Honest tensor output: `chunks` slices of `width` float32 values. */
export function tensorOutput(rng: { nextU32(): number }, chunks: number, width: number): Uint8Array[] {
  return Array.from({ length: chunks }, () =>
    f32(Array.from({ length: width }, () => ((rng.nextU32() / 2 ** 32) * 2 - 1) * 10)),
  )
}
