import { domainOf, nextBytes, sealEnvelope, seededRng, sha256, type Hash, type Reveal } from '@tessera/core'
import { describe, expect, it } from 'vitest'
import {
  challengeIndices,
  decodeFraudProof,
  DEFAULT_VERDICT_TIMEOUT_MS,
  encodeFraudProof,
  leafHash,
  MAX_CHUNK_BYTES,
  MerkleTree,
  openResultEnvelope,
  Reputation,
  VerifierMachine,
  verifyFraudProof,
  VERDICTS_TOPIC,
  type VerifierEvent,
} from '../src/index.js'
import { TestNet, tensorOutput, type TestPeer } from './harness.js'

const ALWAYS = { plan: { p: 1, challengeChunks: 4 } }

function corrupt(chunks: readonly Uint8Array[], indices: readonly number[]): Uint8Array[] {
  return chunks.map((c, i) => (indices.includes(i) ? c.map((b) => b ^ 0xff) : c))
}

describe('VerifierMachine', () => {
  it('should challenge, recompute and pass an honest result, publishing a pass verdict', async () => {
    const net = new TestNet({ verifier: ALWAYS })
    const [creator, worker] = await net.addPeers(2)
    const honest = tensorOutput(seededRng(1), 16, 8)
    net.commit(worker!, creator!, { jobId: 'j', taskId: 't', honest })

    expect(net.verdicts).toHaveLength(1)
    expect(net.verdicts[0]!.verdict).toMatchObject({
      outcome: 'pass',
      worker: worker!.id,
      verifier: creator!.id,
      round: 0,
    })
    expect(net.recomputed).toBe(4)
    expect(net.eventsOf('task:accepted').map((e) => e.event)).toEqual([
      { name: 'task:accepted', jobId: 'j', taskId: 't', worker: worker!.id, checked: true },
    ])
    expect(creator!.verifier.sampler.streak(worker!.id)).toBe(1)
    expect(creator!.verifier.pending).toBe(0)
    expect(net.slashes).toHaveLength(0)
  })

  it('should accept without checking when the draw says so, and never count that as trust', async () => {
    const net = new TestNet({ verifier: { plan: { p: 0, challengeChunks: 2 }, sampling: { pNew: 0, pMin: 0 } } })
    const [creator, worker] = await net.addPeers(2)
    net.commit(worker!, creator!, { jobId: 'j', taskId: 't', honest: tensorOutput(seededRng(2), 8, 4) })
    expect(net.verdicts).toHaveLength(0)
    expect(net.eventsOf('task:accepted')[0]!.event).toMatchObject({ checked: false })
    expect(creator!.verifier.sampler.streak(worker!.id)).toBe(0)
  })

  it('should fail a worker whose revealed chunk does not match its committed root (binding)', async () => {
    const honest = tensorOutput(seededRng(3), 16, 8)
    // Drive the machines by hand to forge the reveal in flight: a worker swapping a chunk after committing.
    const net2 = new TestNet({ verifier: ALWAYS })
    const [c2, w2] = await net2.addPeers(2)
    net2.reference.set('j/t', honest)
    w2!.prover.handle(
      {
        kind: 'commit',
        jobId: 'j',
        taskId: 't',
        creator: c2!.id,
        chunks: honest,
        output: 'bafy',
        tolerance: 'bitwise',
        computeMs: 1,
      },
      0,
    )
    const result = w2!.prover.pollOutput()
    if (result?.kind !== 'send' || result.message.type !== 'result') throw new Error('expected a result')
    w2!.prover.pollOutput()
    c2!.verifier.handle({ kind: 'result', result: result.message.body, envelope: new Uint8Array(1) }, 0)
    const challenge = c2!.verifier.pollOutput()
    if (challenge?.kind !== 'send' || challenge.message.type !== 'challenge') throw new Error('expected a challenge')
    w2!.prover.handle({ kind: 'challenge', from: c2!.id, challenge: challenge.message.body }, 1)
    const reveal = w2!.prover.pollOutput()
    if (reveal?.kind !== 'send' || reveal.message.type !== 'reveal') throw new Error('expected a reveal')
    const forged = {
      ...reveal.message.body,
      chunks: corrupt(reveal.message.body.chunks, [0]) as Uint8Array<ArrayBuffer>[],
    }
    c2!.verifier.handle({ kind: 'reveal', from: w2!.id, reveal: forged }, 2)
    const outputs = drain(c2!.verifier)
    expect(outputs.find((o) => o.kind === 'recompute')).toBeUndefined()
    const verdict = outputs.find((o) => o.kind === 'publish')
    expect(verdict).toMatchObject({
      topic: VERDICTS_TOPIC,
      message: { type: 'verdict', body: { outcome: 'fail', round: 0 } },
    })
    expect(
      verdict?.kind === 'publish' && verdict.message.type === 'verdict' && verdict.message.body.fraudProof,
    ).toBeFalsy()
    expect(events(outputs)).toContainEqual(expect.objectContaining({ name: 'task:rejected', outcome: 'fail' }))
    expect(c2!.verifier.sampler.streak(w2!.id)).toBe(0)
  })

  it('should fail at the reveal a root that opens only through siblings that are not 32-byte hashes', () => {
    // H(0x01 ‖ L0 ‖ b ‖ L1) opens wrong chunks at 0 with the sibling b ‖ L1 and at 1 with L0 ‖ b, 33 bytes each.
    const chunks = [Uint8Array.of(7), Uint8Array.of(8)]
    const [l0, l1] = chunks.map(leafHash) as [Uint8Array, Uint8Array]
    const root = sha256(Uint8Array.of(0x01), Uint8Array.from([...l0, 0xab, ...l1]))
    const paths = [[Uint8Array.from([0xab, ...l1])], [Uint8Array.from([...l0, 0xab])]]
    const outputs = checkForgedOpening({ root, chunks, paths })
    expect(outputs.find((o) => o.kind === 'recompute')).toBeUndefined()
    expect(events(outputs)).toEqual([{ name: 'task:rejected', jobId: 'j', taskId: 't', worker: 'w', outcome: 'fail' }])
  })

  it('should fail, never leave to accept unchecked, a wrong chunk that no fraud proof can carry', () => {
    // A worker that commits with its own code rather than the prover to a chunk over the fraud proof's bound.
    const chunk = new Uint8Array(MAX_CHUNK_BYTES + 1)
    const outputs = checkForgedOpening({ root: leafHash(chunk), chunks: [chunk], paths: [[]] })
    expect(outputs.filter((o) => o.kind === 'recompute')).toHaveLength(1)
    expect(events(outputs)).toEqual([{ name: 'task:rejected', jobId: 'j', taskId: 't', worker: 'w', outcome: 'fail' }])
  })

  it('should treat a worker that does not reveal before the timeout as refused', async () => {
    const net = new TestNet({ verifier: { ...ALWAYS, revealTimeoutMs: 5_000 } })
    const [creator, worker] = await net.addPeers(2)
    net.refusing.add(worker!.id)
    net.commit(worker!, creator!, { jobId: 'j', taskId: 't', honest: tensorOutput(seededRng(4), 8, 4) })
    expect(creator!.verifier.pollTimeout()).toBe(5_000)
    net.advance(4_999)
    expect(net.verdicts).toHaveLength(0)
    net.advance(1)
    expect(net.verdicts[0]!.verdict).toMatchObject({ outcome: 'refused', worker: worker!.id })
    expect(net.eventsOf('task:rejected')[0]!.event).toMatchObject({ outcome: 'refused' })
    expect(creator!.verifier.reputation.evidence(worker!.id)).toEqual({ valid: 0, failed: 1 })
    expect(creator!.verifier.pollTimeout()).toBeUndefined()
  })

  it('should count a refusal and a broken reveal against a worker as it counts a failed check', async () => {
    // A cheater hit by a challenge may reveal (a fraud proof), stay silent or reveal garbage: none of the three may
    // cost it less trust or closer checking than the others, or it would pick that one.
    const net = new TestNet({ verifier: { ...ALWAYS, revealTimeoutMs: 5_000 } })
    const [creator, failing, silent, forging] = await net.addPeers(4)
    const workers = [failing!, silent!, forging!]
    for (const [i, worker] of workers.entries()) {
      net.commit(worker, creator!, { jobId: 'j', taskId: `honest-${i}`, honest: tensorOutput(seededRng(i), 8, 4) })
    }
    expect(workers.map((w) => creator!.verifier.sampler.streak(w.id))).toEqual([1, 1, 1])
    net.refusing.add(silent!.id)
    net.forging.add(forging!.id)
    for (const [i, worker] of workers.entries()) {
      const honest = tensorOutput(seededRng(10 + i), 8, 4)
      const delivered = worker === failing ? corrupt(honest, [...honest.keys()]) : honest
      net.commit(worker, creator!, { jobId: 'j', taskId: `hit-${i}`, honest, delivered })
    }
    net.advance(5_000)
    const rejected = net.eventsOf('task:rejected').map((e) => e.event as Extract<VerifierEvent, { outcome: string }>)
    expect(rejected.map((e) => [e.worker, e.outcome])).toEqual([
      [failing!.id, 'fail'],
      [forging!.id, 'fail'],
      [silent!.id, 'refused'],
    ])
    for (const worker of workers) {
      expect(creator!.verifier.sampler.streak(worker.id)).toBe(0)
      expect(creator!.verifier.reputation.evidence(worker.id)).toEqual({ valid: 1, failed: 1 })
    }
  })

  it('should turn a wrong chunk into a fraud proof that an arbiter upholds, and send a slash record', async () => {
    const net = new TestNet({ verifier: { ...ALWAYS, arbitrationRounds: 2 } })
    const [creator, worker, arbiter] = await net.addPeers(3)
    net.announceVerifiers()
    const honest = tensorOutput(seededRng(5), 16, 8)
    net.commit(worker!, creator!, {
      jobId: 'j',
      taskId: 't',
      honest,
      delivered: corrupt(honest, [...Array(16).keys()]),
    })

    expect(net.escalations).toHaveLength(1)
    expect(net.escalations[0]).toMatchObject({ to: arbiter!.id, round: 1 })
    const accusation = net.verdicts.find((v) => v.from === creator!.id)!.verdict
    expect(accusation).toMatchObject({ outcome: 'fail', round: 0, arbiter: arbiter!.id })
    const ruling = net.verdicts.find((v) => v.from === arbiter!.id)!.verdict
    expect(ruling).toMatchObject({ outcome: 'fail', round: 1, worker: worker!.id })
    expect(ruling.fraudProof).toEqual(accusation.fraudProof)

    expect(net.slashes).toHaveLength(1)
    const slash = net.slashes[0]!
    expect(slash).toMatchObject({ worker: worker!.id, accuser: creator!.id, arbiters: [arbiter!.id], arbitrated: true })
    expect(slash.fraudProofHash).toEqual(accusation.fraudProof)
    // Anyone holding the inputs re-checks the slash's fraud proof on its own.
    const fraudProof = slash.fraudProof as Uint8Array
    const { index } = decodeFraudProof(fraudProof)
    const check = verifyFraudProof(fraudProof, honest[index]!, { expectedHash: slash.fraudProofHash })
    expect(check).toMatchObject({ outcome: 'fail', worker: worker!.id, taskId: 't' })

    expect(net.payments).toEqual([
      expect.objectContaining({ payer: creator!.id, payee: arbiter!.id, role: 'arbitrate', chunks: 1 }),
    ])
    expect(net.eventsOf('proof:upheld')).toHaveLength(1)
    expect(net.eventsOf('task:rejected')[0]!.event).toMatchObject({ outcome: 'fail' })
    expect(creator!.verifier.pending).toBe(0)
  })

  it('should overturn an accusation that two arbiters in turn find wrong, and accept the task after all', async () => {
    const net = new TestNet({ verifier: { ...ALWAYS, arbitrationRounds: 2 } })
    const [creator, worker, a1, a2] = await net.addPeers(4)
    net.announceVerifiers()
    // The creator's engine is broken: it recomputes garbage and so accuses an honest worker.
    net.wrongEngine.set(creator!.id, (c) => c.map((b) => b ^ 1))
    net.commit(worker!, creator!, { jobId: 'j', taskId: 't', honest: tensorOutput(seededRng(6), 16, 8) })

    expect(net.escalations.map((e) => e.round)).toEqual([1, 2])
    expect(new Set(net.escalations.map((e) => e.to))).toEqual(new Set([a1!.id, a2!.id]))
    expect(net.verdicts.filter((v) => v.verdict.round >= 1).map((v) => v.verdict.outcome)).toEqual(['pass', 'pass'])
    expect(net.slashes).toHaveLength(0)
    expect(net.eventsOf('proof:overturned')).toHaveLength(1)
    expect(net.eventsOf('task:accepted')[0]!.event).toMatchObject({ checked: true, overturned: true })
    // The arbiters learned the accuser was wrong.
    expect(a1!.verifier.reputation.evidence(creator!.id).failed).toBe(1)
  })

  it('should send an unarbitrated slash when no further peer exists', async () => {
    const net = new TestNet({ verifier: ALWAYS })
    const [creator, worker] = await net.addPeers(2)
    const honest = tensorOutput(seededRng(7), 8, 4)
    net.commit(worker!, creator!, {
      jobId: 'j',
      taskId: 't',
      honest,
      delivered: corrupt(honest, [0, 1, 2, 3, 4, 5, 6, 7]),
    })
    expect(net.escalations).toHaveLength(0)
    expect(net.slashes).toEqual([expect.objectContaining({ arbitrated: false, arbiters: [], round: 0 })])
    expect(net.verdicts[0]!.verdict.arbiter).toBeUndefined()
  })

  it('should ask the next arbiter when one stays silent', async () => {
    const net = new TestNet({ verifier: { ...ALWAYS, verdictTimeoutMs: 1_000, arbitrationRounds: 2 } })
    const [creator, worker, a1, a2] = await net.addPeers(4)
    net.announceVerifiers()
    const honest = tensorOutput(seededRng(8), 8, 4)
    net.commit(worker!, creator!, {
      jobId: 'j',
      taskId: 't',
      honest,
      delivered: corrupt(honest, [0, 1, 2, 3, 4, 5, 6, 7]),
    })
    const first = net.escalations[0]!.to
    expect(net.slashes).toHaveLength(1) // the first arbiter answered: upheld at once
    expect([a1!.id, a2!.id]).toContain(first)

    const quiet = new TestNet({ verifier: { ...ALWAYS, verdictTimeoutMs: 1_000, arbitrationRounds: 2 } })
    const [qc, qw, q1, q2] = await quiet.addPeers(4)
    quiet.announceVerifiers()
    quiet.silent.add(q1!.id)
    quiet.silent.add(q2!.id)
    quiet.commit(qw!, qc!, { jobId: 'j', taskId: 't', honest, delivered: corrupt(honest, [0, 1, 2, 3, 4, 5, 6, 7]) })
    expect(quiet.escalations).toHaveLength(1)
    quiet.advance(1_000)
    expect(quiet.escalations).toHaveLength(2)
    expect(quiet.escalations[1]!.to).not.toBe(quiet.escalations[0]!.to)
    quiet.advance(1_000)
    expect(quiet.slashes).toEqual([expect.objectContaining({ arbitrated: false })])
  })

  it("should check a re-awarded task's next result while the first worker's accusation is still arbitrated", async () => {
    const net = new TestNet({ verifier: { ...ALWAYS, verdictTimeoutMs: 1_000, arbitrationRounds: 1 } })
    const creator = await net.addPeer({ selfVerifyWeight: 1e9 })
    const [cheater, honestWorker, arbiter] = await net.addPeers(3)
    creator.verifier.handle({ kind: 'verifiers', peers: [arbiter!.id] }, 0)
    net.silent.add(arbiter!.id)
    const honest = tensorOutput(seededRng(21), 8, 4)
    net.commit(cheater!, creator, { jobId: 'j', taskId: 't', honest, delivered: corrupt(honest, [...Array(8).keys()]) })
    expect(net.escalations).toEqual([expect.objectContaining({ to: arbiter!.id, round: 1 })])
    expect(net.eventsOf('task:rejected').map((e) => e.event)).toEqual([
      expect.objectContaining({ worker: cheater!.id }),
    ])

    // The task went to another worker while the arbiter has not answered: its result is checked on its own.
    net.commit(honestWorker!, creator, { jobId: 'j', taskId: 't', honest })
    expect(net.eventsOf('task:accepted').map((e) => e.event)).toEqual([
      { name: 'task:accepted', jobId: 'j', taskId: 't', worker: honestWorker!.id, checked: true },
    ])
    expect(creator.verifier.pending).toBe(1)
    net.advance(1_000)
    expect(net.slashes).toEqual([expect.objectContaining({ worker: cheater!.id, arbitrated: false })])
    expect(creator.verifier.pending).toBe(0)
  })

  it('should delegate to a third peer, pay it, and take its verdict', async () => {
    const net = new TestNet({ verifier: { ...ALWAYS, selfVerifyWeight: 0 } })
    const [creator, worker, third] = await net.addPeers(3)
    net.announceVerifiers()
    net.commit(worker!, creator!, { jobId: 'j', taskId: 't', honest: tensorOutput(seededRng(9), 8, 4) })
    expect(net.delegations).toEqual([{ from: creator!.id, to: third!.id }])
    expect(net.verdicts).toEqual([expect.objectContaining({ from: third!.id })])
    expect(net.payments).toEqual([
      expect.objectContaining({ payer: creator!.id, payee: third!.id, role: 'verify', chunks: 4, taskId: 't' }),
    ])
    const accepted = net.eventsOf('task:accepted')
    expect(accepted).toEqual([expect.objectContaining({ peer: creator!.id })])
    expect(creator!.verifier.sampler.streak(worker!.id)).toBe(1)
  })

  it("should count its delegate's verdicts as its own checks, whatever the delegate's stake", async () => {
    const net = new TestNet({ verifier: { ...ALWAYS, revealTimeoutMs: 5_000 } })
    // No stake lookup, as on a node: gossip counts for nothing, but the checks the creator handed over count whole.
    const reputation = new Reputation()
    const creator = await net.addPeer({ selfVerifyWeight: 0, reputation })
    const [delegate, silent, cheater, honest] = (await net.addPeers(4)) as [TestPeer, TestPeer, TestPeer, TestPeer]
    creator.verifier.handle({ kind: 'verifiers', peers: [delegate.id] }, 0)
    net.refusing.add(silent.id)
    const output = tensorOutput(seededRng(31), 8, 4)
    net.commit(silent, creator, { jobId: 'j', taskId: 'silent', honest: output })
    net.commit(cheater, creator, {
      jobId: 'j',
      taskId: 'cheat',
      honest: output,
      delivered: corrupt(output, [...output.keys()]),
    })
    for (let i = 0; i < 10; i++) net.commit(honest, creator, { jobId: 'j', taskId: `honest-${i}`, honest: output })
    net.advance(5_000)
    expect(net.delegations.every((d) => d.to === delegate.id)).toBe(true)
    // A refusal counts as a caught fraud, and passes go beyond any gossip cap.
    expect(reputation.evidence(silent.id)).toEqual({ valid: 0, failed: 1 })
    expect(reputation.evidence(cheater.id)).toEqual({ valid: 0, failed: 1 })
    expect(reputation.evidence(honest.id)).toEqual({ valid: 10, failed: 0 })
  })

  it('should refuse a check it did already for a creator, so a replay cannot have the worker refuse', async () => {
    const net = new TestNet({ verifier: { ...ALWAYS, selfVerifyWeight: 0 } })
    const [creator, worker, third] = (await net.addPeers(3)) as [TestPeer, TestPeer, TestPeer]
    creator.verifier.handle({ kind: 'verifiers', peers: [third.id] }, 0)
    net.commit(worker, creator, { jobId: 'j', taskId: 't', honest: tensorOutput(seededRng(51), 8, 4) })
    expect(net.verdicts).toEqual([expect.objectContaining({ from: third.id })])
    const envelope = net.envelopes.get('j/t')!
    const result = openResultEnvelope(envelope)
    // The creator sends the same signed Result again: refused, nothing challenged, the worker's score untouched.
    const before = third.verifier.reputation.evidence(worker.id)
    for (let i = 0; i < 3; i++) {
      expect(() =>
        third.verifier.handle({ kind: 'assigned', from: creator.id, result, envelope }, net.clock.now()),
      ).toThrow(expect.objectContaining({ code: 'PROOF__DUPLICATE_TASK' }))
    }
    net.run()
    net.advance(60_000)
    expect(third.verifier.pending).toBe(0)
    expect(net.verdicts).toHaveLength(1)
    expect(third.verifier.reputation.evidence(worker.id)).toEqual(before)
  })

  it('should check a task itself when its delegate stays silent', async () => {
    const net = new TestNet({ verifier: { ...ALWAYS, selfVerifyWeight: 0, verdictTimeoutMs: 2_000 } })
    const [creator, worker, third] = await net.addPeers(3)
    net.announceVerifiers()
    net.silent.add(third!.id)
    net.commit(worker!, creator!, { jobId: 'j', taskId: 't', honest: tensorOutput(seededRng(10), 8, 4) })
    expect(net.verdicts).toHaveLength(0)
    net.advance(2_000)
    expect(net.verdicts).toEqual([expect.objectContaining({ from: creator!.id })])
    expect(net.verdicts[0]!.verdict.outcome).toBe('pass')
  })

  it('should follow a delegate accusation and its arbitration as a watcher', async () => {
    const net = new TestNet({ verifier: { ...ALWAYS, selfVerifyWeight: 0 } })
    const [creator, worker, ...others] = await net.addPeers(4)
    // Only third peers may verify for the creator; the worker must never be picked.
    for (const p of net.peers.values()) p.verifier.handle({ kind: 'verifiers', peers: [...net.peers.keys()] }, 0)
    const honest = tensorOutput(seededRng(11), 8, 4)
    net.commit(worker!, creator!, {
      jobId: 'j',
      taskId: 't',
      honest,
      delivered: corrupt(honest, [0, 1, 2, 3, 4, 5, 6, 7]),
    })
    const delegate = net.delegations[0]!.to
    expect(others.map((o) => o.id)).toContain(delegate)
    // The delegate holds no bond of the worker's: the creator, watching the accusation upheld, slashes it too, on
    // the arbiter's ruling and the hash the verdicts name.
    const upheld = expect.objectContaining({ accuser: delegate, creator: creator!.id, arbitrated: true, round: 1 })
    expect(net.slashes).toEqual([upheld, upheld])
    const [byDelegate, byCreator] = [...net.slashes].sort((a) => (a.fraudProof === undefined ? 1 : -1))
    expect(byDelegate!.fraudProof).toBeInstanceOf(Uint8Array)
    expect(byCreator!.fraudProof).toBeUndefined()
    expect(byCreator!.fraudProofHash).toEqual(byDelegate!.fraudProofHash)
    expect(byCreator!.arbiters).toEqual(byDelegate!.arbiters)
    const creatorEvents = net.events.filter((e) => e.peer === creator!.id).map((e) => e.event.name)
    expect(creatorEvents).toEqual(['task:rejected', 'proof:upheld'])
  })

  /**
   * A creator that delegates to a peer whose engine is wrong: it accuses an honest worker, and asks the one arbiter
   * it knows, `first`, which is offline when `firstSilent`.
   */
  async function falselyAccusedByDelegate(firstSilent: boolean) {
    const net = new TestNet()
    const creator = await net.addPeer({ ...ALWAYS, selfVerifyWeight: 0 })
    const [delegate, first, second, worker] = (await net.addPeers(4)) as [TestPeer, TestPeer, TestPeer, TestPeer]
    creator.verifier.handle({ kind: 'verifiers', peers: [delegate.id] }, 0)
    delegate.verifier.handle({ kind: 'verifiers', peers: [first.id] }, 0)
    net.wrongEngine.set(delegate.id, (c) => c.map((b) => b ^ 0xff))
    if (firstSilent) net.silent.add(first.id)
    net.commit(worker, creator, { jobId: 'j', taskId: 't', honest: tensorOutput(seededRng(21), 8, 16) })
    expect(net.escalations.map((e) => [e.to, e.round])).toEqual([[first.id, 1]])
    const creatorEvents = () => net.events.filter((e) => e.peer === creator.id).map((e) => e.event)
    return { net, creator, delegate, first, second, creatorEvents }
  }

  it("should learn as a watcher that its delegate's accusation was overturned after a silent arbiter", async () => {
    const { net, creator, delegate, first, second, creatorEvents } = await falselyAccusedByDelegate(true)
    expect(creatorEvents().map((e) => e.name)).toEqual(['task:rejected'])
    // Once its wait for the first ends, the delegate asks a second arbiter, which clears the worker: a tie, and no
    // round left, so the delegate overturns its accusation, well before the creator's watch ends.
    delegate.verifier.handle({ kind: 'verifiers', peers: [first.id, second.id] }, net.clock.now())
    net.advance(DEFAULT_VERDICT_TIMEOUT_MS)
    expect(net.verdicts.find((v) => v.from === second.id)?.verdict).toMatchObject({ outcome: 'pass', round: 2 })
    expect(net.eventsOf('proof:overturned').map((e) => e.peer)).toContain(delegate.id)
    expect(creatorEvents().map((e) => e.name)).toEqual(['task:rejected', 'proof:overturned', 'task:accepted'])
    expect(creatorEvents()[2]).toMatchObject({ checked: true, overturned: true })
    expect(creator.verifier.pending).toBe(0)
  })

  it('should take no ruling from an arbiter its delegate moved past, as its delegate takes none', async () => {
    const net = new TestNet()
    const creator = await net.addPeer({ ...ALWAYS, selfVerifyWeight: 0 })
    const [delegate, first, second, worker] = (await net.addPeers(4)) as [TestPeer, TestPeer, TestPeer, TestPeer]
    creator.verifier.handle({ kind: 'verifiers', peers: [delegate.id] }, 0)
    delegate.verifier.handle({ kind: 'verifiers', peers: [first.id] }, 0)
    // Both arbiters are slow to answer; the first colludes with the worker (its engine echoes the cheated chunks).
    net.silent.add(first.id)
    net.silent.add(second.id)
    net.wrongEngine.set(first.id, (c) => c.map((b) => b ^ 0xff))
    const honest = tensorOutput(seededRng(41), 8, 16)
    net.commit(worker, creator, { jobId: 'j', taskId: 't', honest, delivered: corrupt(honest, [...honest.keys()]) })
    delegate.verifier.handle({ kind: 'verifiers', peers: [first.id, second.id] }, net.clock.now())
    net.advance(DEFAULT_VERDICT_TIMEOUT_MS)
    expect(net.escalations.map((e) => e.to)).toEqual([first.id, second.id])
    // The first answers `pass` once the delegate has moved on to the second, and the second then upholds.
    for (const [arbiter, escalation] of [first, second].map((a, i) => [a, net.escalations[i]!] as const)) {
      net.silent.delete(arbiter.id)
      const { creator: jobCreator, round, fraudProof } = escalation
      arbiter.verifier.handle(
        { kind: 'arbitrate', from: delegate.id, creator: jobCreator, round, fraudProof },
        net.clock.now(),
      )
      net.run()
    }
    expect(net.verdicts.find((v) => v.from === first.id)?.verdict).toMatchObject({ outcome: 'pass', round: 1 })
    const creatorEvents = net.events.filter((e) => e.peer === creator.id).map((e) => e.event.name)
    expect(creatorEvents).toEqual(['task:rejected', 'proof:upheld'])
    expect(net.eventsOf('proof:upheld').map((e) => e.peer)).toEqual(expect.arrayContaining([delegate.id, creator.id]))
    expect(net.slashes.filter((s) => s.fraudProof === undefined)).toEqual([
      expect.objectContaining({ accuser: delegate.id, arbiters: [second.id], arbitrated: true }),
    ])
    expect(creator.verifier.pending).toBe(0)
  })

  it('should decide when its watch ends, as its delegate did, rather than forget the accusation', async () => {
    // The arbiter clears the worker at once; the delegate, with no second arbiter to ask, overturns its accusation
    // then and says so to nobody. The creator has heard one arbiter of two and waits for another.
    const { net, creator, delegate, creatorEvents } = await falselyAccusedByDelegate(false)
    expect(net.eventsOf('proof:overturned').map((e) => e.peer)).toEqual([delegate.id])
    expect(creatorEvents().map((e) => e.name)).toEqual(['task:rejected'])
    expect(creator.verifier.pending).toBe(1)
    net.advance(2 * DEFAULT_VERDICT_TIMEOUT_MS)
    expect(creatorEvents().map((e) => e.name)).toEqual(['task:rejected', 'proof:overturned', 'task:accepted'])
    expect(creator.verifier.pending).toBe(0)
  })

  it('should reject a reveal from another peer and a recomputation of the wrong size without losing the check', async () => {
    const net = new TestNet({ verifier: ALWAYS })
    const [creator, worker, stranger] = await net.addPeers(3)
    const honest = tensorOutput(seededRng(12), 8, 4)
    net.reference.set('j/t', honest)
    worker!.prover.handle(
      {
        kind: 'commit',
        jobId: 'j',
        taskId: 't',
        creator: creator!.id,
        chunks: honest,
        output: 'bafy',
        tolerance: 'bitwise',
        computeMs: 1,
      },
      0,
    )
    const result = worker!.prover.pollOutput()
    if (result?.kind !== 'send' || result.message.type !== 'result') throw new Error('expected a result')
    const body = result.message.body
    const v = creator!.verifier
    v.handle({ kind: 'result', result: body, envelope: new Uint8Array(1) }, 0)
    expect(() => v.handle({ kind: 'result', result: body, envelope: new Uint8Array(1) }, 0)).toThrow(
      expect.objectContaining({ code: 'PROOF__DUPLICATE_TASK' }),
    )
    const challenge = v.pollOutput()
    if (challenge?.kind !== 'send' || challenge.message.type !== 'challenge') throw new Error('expected a challenge')
    worker!.prover.pollOutput()
    worker!.prover.handle({ kind: 'challenge', from: creator!.id, challenge: challenge.message.body }, 1)
    const sent = worker!.prover.pollOutput()
    if (sent?.kind !== 'send' || sent.message.type !== 'reveal') throw new Error('expected a reveal')
    const reveal = sent.message.body

    expect(() => v.handle({ kind: 'reveal', from: stranger!.id, reveal }, 2)).toThrow(
      expect.objectContaining({ code: 'PROOF__UNEXPECTED_MESSAGE' }),
    )
    expect(() => v.handle({ kind: 'recomputed', jobId: 'j', taskId: 't', worker: worker!.id, chunks: [] }, 2)).toThrow(
      expect.objectContaining({ code: 'PROOF__UNEXPECTED_MESSAGE' }),
    )
    v.handle({ kind: 'reveal', from: worker!.id, reveal }, 2)
    const recompute = v.pollOutput()
    if (recompute?.kind !== 'recompute') throw new Error('expected a recompute')
    expect(() =>
      v.handle({ kind: 'recomputed', jobId: 'j', taskId: 't', worker: worker!.id, chunks: [honest[0]!] }, 3),
    ).toThrow(expect.objectContaining({ code: 'PROOF__RECOMPUTE_MISMATCH' }))
    expect(() => v.handle({ kind: 'reveal', from: worker!.id, reveal: { ...reveal, taskId: 'nope' } }, 3)).toThrow(
      expect.objectContaining({ code: 'PROOF__TASK_NOT_FOUND' }),
    )
    v.handle(
      {
        kind: 'recomputed',
        jobId: 'j',
        taskId: 't',
        worker: worker!.id,
        chunks: recompute.indices.map((i) => honest[i]!),
      },
      3,
    )
    const outputs = drain(v)
    expect(outputs.find((o) => o.kind === 'publish')).toMatchObject({ message: { body: { outcome: 'pass' } } })
  })

  it("should hold a result to its task's tolerance class: a tensor labelled as an image fails however it compares", async () => {
    const net = new TestNet({ verifier: ALWAYS })
    const [creator, worker] = await net.addPeers(2)
    const honest = tensorOutput(seededRng(30), 8, 16)
    // Every float's sign flipped: its top byte is the alpha channel an RGBA8 PSNR leaves out.
    const negated = honest.map((c) => c.map((b, i) => (i % 4 === 3 ? b ^ 0x80 : b)))
    net.commit(worker!, creator!, { jobId: 'loose', taskId: 't', honest, delivered: negated, tolerance: 'psnr:rgba8' })
    // Under the worker's own label the garbage passes: why the label must come from the task.
    expect(net.eventsOf('task:accepted').map((e) => e.event)).toEqual([expect.objectContaining({ jobId: 'loose' })])
    expect(net.recomputed).toBe(4)

    net.policies.set('strict', { tolerance: 'relative', chunks: 8 })
    net.commit(worker!, creator!, { jobId: 'strict', taskId: 't', honest, delivered: negated, tolerance: 'psnr:rgba8' })
    expect(net.eventsOf('result:mismatched').map((e) => e.event)).toEqual([
      { name: 'result:mismatched', jobId: 'strict', taskId: 't', worker: worker!.id, mismatch: 'tolerance' },
    ])
    expect(net.eventsOf('task:rejected').map((e) => e.event)).toEqual([
      expect.objectContaining({ jobId: 'strict', outcome: 'fail' }),
    ])
    const verdict = net.verdicts.find((v) => v.verdict.jobId === 'strict')?.verdict
    expect(verdict).toMatchObject({ outcome: 'fail', worker: worker!.id, round: 0 })
    expect(verdict?.fraudProof).toBeUndefined()
    // Failed without a challenge: nothing recomputed, nobody slashed, nothing left in flight.
    expect(net.recomputed).toBe(4)
    expect(net.slashes).toEqual([])
    expect(creator!.verifier.pending).toBe(0)
  })

  it("should fail a result with another chunk count than its task's, even when the draw would not check it", async () => {
    const net = new TestNet({ verifier: { plan: { p: 0, challengeChunks: 2 }, sampling: { pNew: 0, pMin: 0 } } })
    const [creator, worker] = await net.addPeers(2)
    net.policies.set('j', { tolerance: 'bitwise', chunks: 16 })
    // Half the rows: a sampler drawing among 8 committed chunks never sees the 8 left out.
    net.commit(worker!, creator!, { jobId: 'j', taskId: 't', honest: tensorOutput(seededRng(31), 8, 4) })
    expect(net.eventsOf('result:mismatched')[0]?.event).toMatchObject({ mismatch: 'chunks' })
    expect(net.eventsOf('task:rejected')[0]?.event).toMatchObject({ outcome: 'fail' })
    expect(net.eventsOf('task:accepted')).toEqual([])
    expect(creator!.verifier.sampler.streak(worker!.id)).toBe(0)
  })

  it("should hold delegated and arbitrated results to their task's shape", async () => {
    const net = new TestNet({ verifier: ALWAYS })
    const [creator, worker, delegate, arbiter] = await net.addPeers(4)
    const honest = tensorOutput(seededRng(32), 8, 4)
    net.commit(worker!, creator!, { jobId: 'j', taskId: 't', honest, delivered: corrupt(honest, [...Array(8).keys()]) })
    const fraudProof = net.slashes[0]?.fraudProof
    if (fraudProof === undefined) throw new Error('expected a slash')
    const envelope = net.envelopes.get('j/t') as Uint8Array
    expect(decodeFraudProof(fraudProof).commitment).toEqual(envelope)
    const drain = (peer: typeof delegate) => {
      const out = []
      for (let o = peer!.verifier.pollOutput(); o !== undefined; o = peer!.verifier.pollOutput()) out.push(o)
      return out
    }
    const opened = openResultEnvelope(envelope)
    delegate!.verifier.handle(
      { kind: 'assigned', from: creator!.id, result: opened, envelope, tolerance: 'bitwise', chunks: 9 },
      net.clock.now(),
    )
    const delegated = drain(delegate)
    expect(delegated.map((o) => o.kind)).toEqual(['event', 'publish'])
    expect(delegated[0]).toMatchObject({ event: { name: 'result:mismatched', mismatch: 'chunks' } })
    expect(delegated[1]).toMatchObject({ message: { type: 'verdict', body: { outcome: 'fail', round: 0 } } })

    arbiter!.verifier.handle(
      { kind: 'arbitrate', from: creator!.id, creator: creator!.id, round: 1, fraudProof, tolerance: 'relative' },
      net.clock.now(),
    )
    const judged = drain(arbiter)
    // Upheld on the worker's own signature, without recomputing.
    expect(judged.map((o) => o.kind)).toEqual(['event', 'publish'])
    expect(judged[0]).toMatchObject({ event: { name: 'result:mismatched', mismatch: 'tolerance' } })
    expect(judged[1]).toMatchObject({ message: { type: 'verdict', body: { outcome: 'fail', round: 1 } } })
  })

  it('should fail a result whose tolerance label or size no task can have, never throwing and leaving it undecided', async () => {
    const net = new TestNet({ verifier: ALWAYS })
    const [creator, worker, delegate] = await net.addPeers(3)
    worker!.prover.handle(
      {
        kind: 'commit',
        jobId: 'j',
        taskId: 't',
        creator: creator!.id,
        chunks: [new Uint8Array(4)],
        output: 'b',
        tolerance: 'bitwise',
        computeMs: 1,
      },
      0,
    )
    const result = worker!.prover.pollOutput()
    if (result?.kind !== 'send' || result.message.type !== 'result') throw new Error('expected a result')
    const drain = (peer: typeof creator) => {
      const out = []
      for (let o = peer!.verifier.pollOutput(); o !== undefined; o = peer!.verifier.pollOutput()) out.push(o)
      return out
    }
    const body = result.message.body
    const malformed = [
      // No tolerance class by that name, with no task label to hold it to.
      [{ ...body, taskId: 'label', tolerance: 'close-enough' }, {}, 'tolerance'],
      // More chunks than a challenge can address, with or without the task's count to compare.
      [{ ...body, taskId: 'huge', chunks: 2 ** 32 + 1 }, {}, 'chunks'],
      [{ ...body, taskId: 'huge-shaped', chunks: 2 ** 33 }, { tolerance: 'bitwise', chunks: 1 }, 'chunks'],
      [{ ...body, taskId: 'fraction', chunks: 1.5 }, {}, 'chunks'],
    ] as const
    for (const [bad, shape, mismatch] of malformed) {
      creator!.verifier.handle({ kind: 'result', result: bad, envelope: new Uint8Array(1), ...shape }, 0)
      const out = drain(creator)
      expect(out.filter((o) => o.kind === 'event').map((o) => o.event)).toEqual([
        { name: 'result:mismatched', jobId: 'j', taskId: bad.taskId, worker: worker!.id, mismatch },
        { name: 'task:rejected', jobId: 'j', taskId: bad.taskId, worker: worker!.id, outcome: 'fail' },
      ])
      expect(out.find((o) => o.kind === 'publish')).toMatchObject({ message: { body: { outcome: 'fail' } } })
    }
    // A third peer asked to check one answers with a failure verdict, which settles the creator's check.
    delegate!.verifier.handle(
      { kind: 'assigned', from: creator!.id, result: { ...body, chunks: 2 ** 40 }, envelope: new Uint8Array(1) },
      0,
    )
    const delegated = drain(delegate)
    expect(delegated[0]).toMatchObject({ event: { name: 'result:mismatched', mismatch: 'chunks' } })
    expect(delegated[1]).toMatchObject({ message: { type: 'verdict', body: { outcome: 'fail', round: 0 } } })
    expect(creator!.verifier.pending).toBe(0)
    expect(delegate!.verifier.pending).toBe(0)
  })

  it('should uphold, not throw on, an accusation against a signed Result whose label names no tolerance class', async () => {
    const net = new TestNet({ verifier: ALWAYS })
    const [accuser, worker, arbiter] = await net.addPeers(3)
    const chunks = [Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3), Uint8Array.of(4)]
    const tree = MerkleTree.fromLeaves(chunks)
    const commitment = sealEnvelope(
      worker!.identity,
      {
        type: 'result',
        body: {
          jobId: 'j',
          taskId: 't',
          worker: worker!.id,
          root: tree.root,
          chunks: 4,
          output: 'bafy',
          tolerance: 'close-enough',
          computeMs: 1,
          issuedAt: 0,
        },
      },
      { domain: domainOf('direct'), seq: 1n, expiresAt: 60_000 },
    )
    const nonce = Uint8Array.from(nextBytes(seededRng(5), 32))
    const [index] = challengeIndices(tree.root, nonce, 1, 4) as [number]
    const fraudProof = encodeFraudProof({
      v: 1,
      commitment,
      verifier: accuser!.id,
      nonce,
      count: 1,
      index,
      chunk: chunks[index]!,
      path: tree.proof(index),
      recomputed: Uint8Array.of(9),
    })
    arbiter!.verifier.handle(
      { kind: 'arbitrate', from: accuser!.id, creator: accuser!.id, round: 1, fraudProof },
      net.clock.now(),
    )
    const judged = []
    for (let o = arbiter!.verifier.pollOutput(); o !== undefined; o = arbiter!.verifier.pollOutput()) judged.push(o)
    expect(judged.map((o) => o.kind)).toEqual(['event', 'publish'])
    expect(judged[0]).toMatchObject({ event: { name: 'result:mismatched', mismatch: 'tolerance' } })
    expect(judged[1]).toMatchObject({ message: { type: 'verdict', body: { outcome: 'fail', round: 1 } } })
    expect(arbiter!.verifier.pending).toBe(0)
  })

  it('should say nothing about the worker, in any round, when the evidence does not show what it claims', async () => {
    const net = new TestNet()
    const [sybil, worker, arbiter] = await net.addPeers(3)
    const chunks = [Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3), Uint8Array.of(4)]
    const tree = MerkleTree.fromLeaves(chunks)
    const result = { jobId: 'fake', taskId: 't', worker: worker!.id, root: tree.root, chunks: 4, output: 'bafy' }
    const commitment = sealEnvelope(
      worker!.identity,
      { type: 'result', body: { ...result, tolerance: 'bitwise', computeMs: 1, issuedAt: 0 } },
      { domain: domainOf('direct'), seq: 1n, expiresAt: 60_000 },
    )
    const nonce = Uint8Array.from(nextBytes(seededRng(9), 32))
    const [challenged] = challengeIndices(tree.root, nonce, 1, 4) as [number]
    const unchallenged = (challenged + 1) % 4
    const accusation = (index: number, chunk: Uint8Array, path: Uint8Array[]): Uint8Array =>
      encodeFraudProof({
        v: 1,
        commitment,
        verifier: sybil!.id,
        nonce,
        count: 1,
        index,
        chunk,
        path,
        recomputed: chunk,
      })
    const unfounded = [
      // Outside the signed output (PROOF__COMMITMENT_MISMATCH).
      accusation(7, chunks[0]!, tree.proof(0)),
      // Not the chunk the path leads from (PROOF__INVALID_MERKLE_PROOF).
      accusation(challenged, Uint8Array.of(9), tree.proof(challenged)),
      // A sound opening of a chunk the nonce never challenged (PROOF__INDEX_NOT_CHALLENGED).
      accusation(unchallenged, chunks[unchallenged]!, tree.proof(unchallenged)),
    ]
    for (const fraudProof of unfounded) {
      for (let round = 1; round <= 16; round++) {
        arbiter!.verifier.handle(
          {
            kind: 'arbitrate',
            from: sybil!.id,
            creator: sybil!.id,
            round,
            fraudProof,
            tolerance: 'bitwise',
            chunks: 4,
          },
          net.clock.now(),
        )
        expect(drain(arbiter!.verifier)).toEqual([])
      }
    }
    expect(arbiter!.verifier.pending).toBe(0)
    expect(arbiter!.verifier.reputation.evidence(worker!.id)).toEqual({ valid: 0, failed: 0 })
    expect(arbiter!.verifier.reputation.evidence(sybil!.id)).toEqual({ valid: 0, failed: 3 * 16 })
  })

  it('should refuse more arbitration rounds than the wire can name', () => {
    const init = { self: 'v', rng: seededRng(1), openResult: () => ({}) as never }
    for (const arbitrationRounds of [17, -1, 1.5]) {
      expect(() => new VerifierMachine({ ...init, arbitrationRounds })).toThrow(
        expect.objectContaining({ code: 'PROOF__INVALID_INPUT' }),
      )
    }
    expect(new VerifierMachine({ ...init, arbitrationRounds: 16 }).pending).toBe(0)
  })

  it('should refuse a plan whose challenge is larger than the wire carries, rather than cut it', () => {
    const init = { self: 'v', rng: seededRng(1), openResult: () => ({}) as never }
    expect(() => new VerifierMachine({ ...init, plan: { p: 1, challengeChunks: 257 } })).toThrow(
      expect.objectContaining({
        code: 'PROOF__INVALID_INPUT',
        context: expect.objectContaining({ challengeChunks: 257 }),
      }),
    )
    const verifier = new VerifierMachine({ ...init, plan: { p: 1, challengeChunks: 256 } })
    const result = {
      jobId: 'j',
      taskId: 't',
      worker: 'w',
      root: new Uint8Array(32),
      chunks: 1024,
      output: 'bafy',
      tolerance: 'bitwise',
      computeMs: 1,
      issuedAt: 0,
    }
    const plan = { p: 1, challengeChunks: 512 }
    expect(() => verifier.handle({ kind: 'result', result, envelope: new Uint8Array(1), plan }, 0)).toThrow(
      expect.objectContaining({ code: 'PROOF__INVALID_INPUT' }),
    )
    expect(drain(verifier)).toEqual([])
  })

  it('should refuse tolerance thresholds out of range when it is made, not at its first check', () => {
    const init = { self: 'v', rng: seededRng(1), openResult: () => ({}) as never }
    expect(() => new VerifierMachine({ ...init, tolerance: { psnrOutlierFraction: 1 } })).toThrow(
      expect.objectContaining({
        code: 'PROOF__INVALID_INPUT',
        context: expect.objectContaining({ option: 'psnrOutlierFraction' }),
      }),
    )
    expect(new VerifierMachine({ ...init, tolerance: { psnrOutlierFraction: 0 } }).pending).toBe(0)
  })

  it('should pick third-party verifiers by reputation and never the worker itself', async () => {
    const net = new TestNet({ verifier: { ...ALWAYS, selfVerifyWeight: 0 } })
    const [creator, worker, good, poor] = await net.addPeers(4)
    net.announceVerifiers()
    const rep = creator!.verifier.reputation
    for (let i = 0; i < 30; i++) rep.recordLocal(good!.id, 'pass')
    rep.recordLocal(poor!.id, 'fail')
    const honest = tensorOutput(seededRng(13), 4, 2)
    for (let t = 0; t < 400; t++) net.commit(worker!, creator!, { jobId: 'j', taskId: `t${t}`, honest })
    const picks = net.delegations.map((d) => d.to)
    expect(picks).not.toContain(worker!.id)
    const goodShare = picks.filter((p) => p === good!.id).length / picks.length
    const expected = rep.score(good!.id) / (rep.score(good!.id) + rep.score(poor!.id))
    expect(Math.abs(goodShare - expected)).toBeLessThan(0.08)
  })
})

function drain(v: {
  pollOutput(): unknown
}): Array<Exclude<ReturnType<import('../src/index.js').VerifierMachine['pollOutput']>, undefined>> {
  const out = []
  for (let o = v.pollOutput(); o !== undefined; o = v.pollOutput()) out.push(o)
  return out as never
}

/**
 * A creator checks a Result whose root and openings a worker built by hand (`paths[i]` opens `chunks[i]`), recomputes
 * whatever it asks for as one zero byte per chunk and lets every timer run out: all it output, in order.
 */
function checkForgedOpening(forged: {
  root: Hash
  chunks: readonly Uint8Array[]
  paths: readonly Uint8Array[][]
}): ReturnType<typeof drain> {
  const verifier = new VerifierMachine({
    self: 'c',
    rng: seededRng(4),
    openResult: openResultEnvelope,
    plan: ALWAYS.plan,
  })
  const result = {
    jobId: 'j',
    taskId: 't',
    worker: 'w',
    root: forged.root,
    chunks: forged.chunks.length,
    output: 'bafy',
    tolerance: 'bitwise',
    computeMs: 1,
    issuedAt: 0,
  }
  verifier.handle({ kind: 'result', result, envelope: new Uint8Array(1) }, 0)
  const outputs = drain(verifier)
  const challenge = outputs.find((o) => o.kind === 'send')
  if (challenge?.kind !== 'send' || challenge.message.type !== 'challenge') throw new Error('expected a challenge')
  const { nonce, count } = challenge.message.body
  const indices = challengeIndices(forged.root, nonce, count, forged.chunks.length)
  const reveal = {
    jobId: 'j',
    taskId: 't',
    worker: 'w',
    root: forged.root,
    indices,
    chunks: indices.map((i) => forged.chunks[i]!),
    proofs: indices.map((i) => forged.paths[i]!),
    issuedAt: 1,
  } as Reveal
  verifier.handle({ kind: 'reveal', from: 'w', reveal }, 1)
  outputs.push(...drain(verifier))
  const recompute = outputs.find((o) => o.kind === 'recompute')
  if (recompute?.kind === 'recompute') {
    const recomputed = recompute.indices.map(() => new Uint8Array(1))
    verifier.handle({ kind: 'recomputed', jobId: 'j', taskId: 't', worker: 'w', chunks: recomputed }, 2)
    outputs.push(...drain(verifier))
  }
  verifier.handleTimeout(Number.MAX_SAFE_INTEGER)
  outputs.push(...drain(verifier))
  expect(verifier.pending).toBe(0)
  return outputs
}

function events(outputs: ReturnType<typeof drain>): VerifierEvent[] {
  return outputs.flatMap((o) => (o.kind === 'event' ? [o.event as VerifierEvent] : []))
}
