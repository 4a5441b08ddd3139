import * as dagCbor from '@ipld/dag-cbor'
import { domainOf, seededRng, sealEnvelope } from '@tessera/core'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  challengeIndices,
  decodeFraudProof,
  encodeFraudProof,
  fraudProofHash,
  MAX_FRAUD_PROOF_BYTES,
  openResultEnvelope,
  verifyFraudProof,
  type FraudProof,
} from '../src/index.js'
import { TestNet, tensorOutput, type TestPeer } from './harness.js'

let net: TestNet
let worker: TestPeer
let creator: TestPeer
let honest: Uint8Array[]
let bytes: Uint8Array
let proof: FraudProof
let hash: Uint8Array

function expectCode(fn: () => unknown, code: string): void {
  expect(fn).toThrow(expect.objectContaining({ code }))
}

function tampered(change: Partial<FraudProof>): Uint8Array {
  return encodeFraudProof({ ...proof, ...change })
}

describe('fraud proofs', () => {
  beforeAll(async () => {
    net = new TestNet({ verifier: { plan: { p: 1, challengeChunks: 3 } } })
    ;[creator, worker] = (await net.addPeers(2)) as [TestPeer, TestPeer]
    honest = tensorOutput(seededRng(21), 32, 16)
    const delivered = honest.map((c, i) => (i % 2 === 0 ? c.map((b) => b ^ 0x5a) : c))
    net.commit(worker, creator, { jobId: 'job', taskId: 'task', honest, delivered, tolerance: 'relative' })
    net.commit(worker, creator, { jobId: 'job', taskId: 'other', honest: tensorOutput(seededRng(22), 32, 16) })
    const slash = net.slashes[0]
    if (slash === undefined) throw new Error('expected a slash record')
    bytes = slash.fraudProof as Uint8Array
    hash = slash.fraudProofHash
    proof = decodeFraudProof(bytes)
  })

  it('should verify independently, from the bytes and an own recomputation only', () => {
    const check = verifyFraudProof(Uint8Array.from(bytes), Uint8Array.from(honest[proof.index]!), {
      expectedHash: hash,
    })
    expect(check).toMatchObject({
      outcome: 'fail',
      jobId: 'job',
      taskId: 'task',
      worker: worker.id,
      accuser: creator.id,
      index: proof.index,
    })
    expect(check.comparison.ok).toBe(false)
    expect(fraudProofHash(bytes)).toEqual(hash)
    expect(fraudProofHash(proof)).toEqual(hash)
    const asked: number[] = []
    verifyFraudProof(proof, (target) => {
      asked.push(target.index)
      expect(target.result.chunks).toBe(32)
      return honest[target.index]!
    })
    expect(asked).toEqual([proof.index])
    expect(challengeIndices(check.root, proof.nonce, proof.count, 32)).toContain(proof.index)
  })

  it('should reject a tampered commitment', () => {
    const flipped = proof.commitment.slice()
    flipped[flipped.length - 5]! ^= 1
    expectCode(
      () => verifyFraudProof(tampered({ commitment: flipped }), honest[proof.index]!),
      'PROOF__INVALID_COMMITMENT',
    )
    expectCode(
      () => verifyFraudProof(tampered({ commitment: new Uint8Array(10) }), honest[proof.index]!),
      'PROOF__INVALID_COMMITMENT',
    )
    // Another genuine commitment of the same worker: the chunk does not belong to its root.
    const other = net.envelopes.get('job/other')!
    expectCode(
      () => verifyFraudProof(tampered({ commitment: other }), honest[proof.index]!),
      'PROOF__INVALID_MERKLE_PROOF',
    )
  })

  it('should reject a tampered chunk, index or Merkle path', () => {
    const chunk = proof.chunk.slice()
    chunk[0]! ^= 1
    expectCode(() => verifyFraudProof(tampered({ chunk }), honest[proof.index]!), 'PROOF__INVALID_MERKLE_PROOF')
    expectCode(
      () => verifyFraudProof(tampered({ index: proof.index ^ 1 }), honest[proof.index]!),
      'PROOF__INVALID_MERKLE_PROOF',
    )
    expectCode(() => verifyFraudProof(tampered({ index: 32 }), honest[proof.index]!), 'PROOF__COMMITMENT_MISMATCH')
    const path = proof.path.map((h) => h.slice())
    path[0]![0]! ^= 1
    expectCode(() => verifyFraudProof(tampered({ path }), honest[proof.index]!), 'PROOF__INVALID_MERKLE_PROOF')
    expectCode(
      () => verifyFraudProof(tampered({ path: proof.path.slice(1) }), honest[proof.index]!),
      'PROOF__INVALID_MERKLE_PROOF',
    )
  })

  it('should reject a nonce or count that did not challenge the chunk', () => {
    const root = openResultEnvelope(proof.commitment).root
    let nonce = proof.nonce.slice()
    for (let i = 0; challengeIndices(root, nonce, proof.count, 32).includes(proof.index); i++)
      nonce = Uint8Array.from(nonce, (b, j) => (j === 0 ? i : b))
    expectCode(() => verifyFraudProof(tampered({ nonce }), honest[proof.index]!), 'PROOF__INDEX_NOT_CHALLENGED')
    let count = proof.count + 1
    while (challengeIndices(root, proof.nonce, count, 32).includes(proof.index)) count++
    expectCode(() => verifyFraudProof(tampered({ count }), honest[proof.index]!), 'PROOF__INDEX_NOT_CHALLENGED')
    expectCode(() => verifyFraudProof(tampered({ count: 33 }), honest[proof.index]!), 'PROOF__COMMITMENT_MISMATCH')
  })

  it("should reject an accuser's recomputation that an honest engine does not reproduce", () => {
    const recomputed = proof.recomputed.map((b) => b ^ 0x40)
    expectCode(() => verifyFraudProof(tampered({ recomputed }), honest[proof.index]!), 'PROOF__RECOMPUTATION_MISMATCH')
  })

  it('should reject a renamed accuser through the hash its verdict names', () => {
    const renamed = tampered({ verifier: worker.id })
    expect(verifyFraudProof(renamed, honest[proof.index]!).accuser).toBe(worker.id)
    expectCode(
      () => verifyFraudProof(renamed, honest[proof.index]!, { expectedHash: hash }),
      'PROOF__FRAUD_PROOF_HASH_MISMATCH',
    )
  })

  it('should show no fraud when the revealed chunk matches an honest recomputation', () => {
    // A sound bundle whose accuser recomputed the worker's own chunk, checked by an engine that agrees with both.
    expectCode(() => verifyFraudProof(tampered({ recomputed: proof.chunk }), proof.chunk), 'PROOF__FRAUD_NOT_SHOWN')
  })

  it("should compare under the task's tolerance class when given, not the worker's label", async () => {
    const signs = new TestNet({ verifier: { plan: { p: 1, challengeChunks: 2 } } })
    const [c, w] = (await signs.addPeers(2)) as [TestPeer, TestPeer]
    const reference = tensorOutput(seededRng(23), 4, 16)
    // Sign bits flipped: bitwise (the worker's label here) sees it, an RGBA8 PSNR (alpha left out) does not.
    const flipped = reference.map((chunk) => chunk.map((b, i) => (i % 4 === 3 ? b ^ 0x80 : b)))
    signs.commit(w, c, { jobId: 'job', taskId: 'signs', honest: reference, delivered: flipped })
    const slash = signs.slashes[0]
    const fraudProof = slash?.fraudProof
    if (fraudProof === undefined) throw new Error('expected a slash record with its fraud proof')
    const own = reference[decodeFraudProof(fraudProof).index]!
    expect(verifyFraudProof(fraudProof, own).outcome).toBe('fail')
    expect(verifyFraudProof(fraudProof, own, { taskTolerance: 'bitwise' }).outcome).toBe('fail')
    expectCode(() => verifyFraudProof(fraudProof, own, { taskTolerance: 'psnr:rgba8' }), 'PROOF__FRAUD_NOT_SHOWN')
  })

  it('should reject malformed and oversized bundles with coded errors', () => {
    expectCode(() => decodeFraudProof(bytes.slice(0, bytes.length - 3)), 'PROOF__MALFORMED_FRAUD_PROOF')
    expectCode(() => decodeFraudProof(dagCbor.encode({ ...proof, extra: 1 })), 'PROOF__MALFORMED_FRAUD_PROOF')
    expectCode(() => decodeFraudProof(dagCbor.encode({ ...proof, v: 2 })), 'PROOF__MALFORMED_FRAUD_PROOF')
    expectCode(
      () => decodeFraudProof(dagCbor.encode({ ...proof, nonce: new Uint8Array(31) })),
      'PROOF__MALFORMED_FRAUD_PROOF',
    )
    expectCode(() => decodeFraudProof(dagCbor.encode({ ...proof, path: ['x'] })), 'PROOF__MALFORMED_FRAUD_PROOF')
    expectCode(() => decodeFraudProof(dagCbor.encode([1, 2])), 'PROOF__MALFORMED_FRAUD_PROOF')
    const missing: Partial<FraudProof> = { ...proof }
    delete missing.recomputed
    expectCode(() => decodeFraudProof(dagCbor.encode(missing)), 'PROOF__MALFORMED_FRAUD_PROOF')
    expectCode(() => decodeFraudProof(new Uint8Array(MAX_FRAUD_PROOF_BYTES + 1)), 'PROOF__FRAUD_PROOF_TOO_LARGE')
  })

  it('should open only Result envelopes signed by their worker', async () => {
    expect(openResultEnvelope(proof.commitment).worker).toBe(worker.id)
    const result = openResultEnvelope(proof.commitment)
    const forged = sealEnvelope(
      creator.identity,
      { type: 'result', body: result },
      { domain: domainOf('direct'), seq: 1n, expiresAt: 1 },
    )
    expectCode(() => openResultEnvelope(forged), 'PROOF__INVALID_COMMITMENT')
    const gossip = sealEnvelope(
      worker.identity,
      { type: 'result', body: result },
      { domain: domainOf('/tessera/1/orders'), seq: 1n, expiresAt: 1 },
    )
    expectCode(() => openResultEnvelope(gossip), 'PROOF__INVALID_COMMITMENT')
  })
})
