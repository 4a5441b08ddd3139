import {
  type Arbitrate,
  type Assign,
  DIRECT_DOMAIN,
  generateIdentity,
  type Identity,
  jobIdOf,
  type Order,
  type OrderContent,
  type Result,
  sealEnvelope,
  validateBody,
} from '@tessera/core'
import { encodeFraudProof, FRAUD_PROOF_VERSION } from '@tessera/proof'
import { beforeAll, describe, expect, it } from 'vitest'
import { arbitratedOrder, assignedResult } from '../src/peer/delegation.js'

const expectInvalid = (fn: () => unknown): void =>
  expect(fn).toThrow(expect.objectContaining({ code: 'NODE__INVALID_DELEGATION' }))

describe('delegation messages (what a delegate and an arbiter trust)', () => {
  let creator: Identity
  let worker: Identity
  let delegate: Identity
  let jobId: string
  let order: Order
  let result: Result
  let assign: Assign
  let assignment: Assign['result']
  /** Envelope bytes as the wire schemas type them. */
  type Bytes = Assign['result']
  const seal = (who: Identity, message: Parameters<typeof sealEnvelope>[1]): Bytes =>
    sealEnvelope(who, message, { domain: DIRECT_DOMAIN, seq: 1n, expiresAt: 1_000 }) as Bytes

  beforeAll(async () => {
    ;[creator, worker, delegate] = await Promise.all([generateIdentity(), generateIdentity(), generateIdentity()])
    const content: OrderContent = {
      creator: creator.peerId.toString(),
      nonce: '0123456789abcdef',
      kind: 'render',
      inputs: ['bafkscene'],
      split: {
        kind: 'render',
        firstFrame: 0,
        frames: 1,
        width: 32,
        height: 32,
        tileWidth: 16,
        tileHeight: 32,
        samples: 4,
      },
      tier: 3,
      maxPrice: 200n,
      benchHoursPerTask: 1,
      requirements: { features: [], minMemoryMb: 0 },
      minBids: 1,
      deadline: 100,
      verification: { detect: 0.99, withinTasks: 10, cheatRate: 0.1, maxOverhead: 0.2 },
      escrow: '',
    }
    jobId = jobIdOf(content)
    order = validateBody('order', { jobId, ...content, bidDeadline: 10, issuedAt: 0 })
    result = {
      jobId,
      taskId: `${jobId}/f0/t0_0`,
      worker: worker.peerId.toString(),
      root: new Uint8Array(32).fill(7),
      chunks: 32,
      output: 'bafkoutput',
      tolerance: 'psnr',
      computeMs: 5,
      issuedAt: 1,
    }
    assign = {
      jobId,
      taskId: result.taskId,
      creator: creator.peerId.toString(),
      result: seal(worker, { type: 'result', body: result }),
      order,
      issuedAt: 2,
    }
    assignment = seal(creator, { type: 'assign', body: assign })
  })

  function accusation(overrides: Partial<Arbitrate> = {}, commitment = assign.result): Arbitrate {
    const fraudProof = encodeFraudProof({
      v: FRAUD_PROOF_VERSION,
      commitment,
      verifier: delegate.peerId.toString(),
      nonce: new Uint8Array(32),
      count: 1,
      index: 3,
      chunk: new Uint8Array(8),
      path: [],
      recomputed: new Uint8Array(8).fill(1),
    }) as Bytes
    return {
      jobId,
      taskId: result.taskId,
      accuser: delegate.peerId.toString(),
      creator: creator.peerId.toString(),
      round: 1,
      fraudProof,
      assignment,
      issuedAt: 3,
      ...overrides,
    }
  }

  it("should take the worker's signed Result from an assignment of that very task", () => {
    expect(assignedResult(assign)).toEqual(result)
    // The Result quoted must be signed by its worker, and be the task the assignment names.
    expectInvalid(() => assignedResult({ ...assign, result: seal(creator, { type: 'result', body: result }) }))
    const other = seal(worker, { type: 'result', body: { ...result, taskId: `${jobId}/f0/t1_0` } })
    expectInvalid(() => assignedResult({ ...assign, result: other }))
    expectInvalid(() => assignedResult({ ...assign, result: new Uint8Array([1, 2, 3]) }))
  })

  it("should trust a delegate's accusation only with the creator's signed assignment of the task", () => {
    expect(arbitratedOrder(accusation())).toEqual(order)
    // A creator's own accusation carries its order, signed with the message.
    expect(arbitratedOrder(accusation({ accuser: creator.peerId.toString(), order, assignment: undefined }))).toEqual(
      order,
    )

    // An assignment signed by anyone but the creator (here the delegate, inventing an order) is refused.
    expectInvalid(() => arbitratedOrder(accusation({ assignment: seal(delegate, { type: 'result', body: result }) })))
    const forgedOrder = { ...order, creator: delegate.peerId.toString() }
    const forgedId = jobIdOf(forgedOrder)
    const forged = {
      ...assign,
      jobId: forgedId,
      creator: delegate.peerId.toString(),
      order: { ...forgedOrder, jobId: forgedId },
    }
    expectInvalid(() => arbitratedOrder(accusation({ assignment: seal(delegate, { type: 'assign', body: forged }) })))
    // The creator's assignment of another task does not vouch for this one.
    const elsewhere = seal(creator, { type: 'assign', body: { ...assign, taskId: `${jobId}/f0/t1_0` } })
    expectInvalid(() => arbitratedOrder(accusation({ assignment: elsewhere })))
    // The fraud proof must concern the task the message names.
    expectInvalid(() => arbitratedOrder(accusation({ taskId: `${jobId}/f0/t1_0` })))
    expectInvalid(() => arbitratedOrder(accusation({ fraudProof: new Uint8Array([0xa0]) })))
  })

  it('should reject, at the schema, an assignment whose order is not its job or an accusation vouched for wrongly', () => {
    const other = { ...order, jobId: 'job-2' }
    expect(() => validateBody('assign', { ...assign, order: other })).toThrow(
      expect.objectContaining({ code: 'CORE__MALFORMED_MESSAGE' }),
    )
    // A creator framing its worker with a second order under the job's id (other inputs to recompute from): the id
    // commits to the first order's content, which the worker's signed Result names, so the second is refused.
    const second = { ...order, inputs: ['bafkotherscene'] }
    const framed = { ...accusation(), accuser: creator.peerId.toString(), order: second, assignment: undefined }
    expect(() => validateBody('arbitrate', framed)).toThrow(
      expect.objectContaining({
        code: 'CORE__MALFORMED_MESSAGE',
        context: expect.objectContaining({ path: ['order', 'jobId'] }),
      }),
    )
    expect(() => validateBody('assign', { ...assign, order: second })).toThrow(
      expect.objectContaining({ code: 'CORE__MALFORMED_MESSAGE' }),
    )
    // A delegate's accusation without the creator's assignment, or a creator's without its order.
    const { assignment: _, ...bare } = accusation()
    expect(() => validateBody('arbitrate', bare)).toThrow(expect.objectContaining({ code: 'CORE__MALFORMED_MESSAGE' }))
    expect(() => validateBody('arbitrate', { ...bare, accuser: creator.peerId.toString(), assignment })).toThrow(
      expect.objectContaining({ code: 'CORE__MALFORMED_MESSAGE' }),
    )
  })
})
