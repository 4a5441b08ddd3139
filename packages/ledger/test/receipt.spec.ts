import { generateKeyPairSigner } from '@solana/kit'
import { encodeCanonical, generateIdentity, type Receipt } from '@tessera/core'
import { describe, expect, it } from 'vitest'
import { EpochBatch, verifyReceiptInclusion } from '../src/batch.js'
import { RECEIPT_SIGNING_CONTEXT } from '../src/constants.js'
import { isLedgerError } from '../src/errors.js'
import {
  assertReceipt,
  parseReceipt,
  receiptLeaf,
  receiptSigningBytes,
  signReceipt,
  verifyReceipt,
} from '../src/receipt.js'
import { makeParties, makeReceipts } from './support/receipts.js'

describe('receipts', () => {
  it('should sign DAG-CBOR of the receipt without signatures, behind a domain prefix', async () => {
    const parties = await makeParties(1)
    const [receipt] = makeReceipts(parties, 1, 0)
    const unsigned = { ...receipt! }
    delete unsigned.creatorSig
    delete unsigned.workerSig
    expect(receiptSigningBytes(receipt!)).toEqual(encodeCanonical([RECEIPT_SIGNING_CONTEXT, unsigned]))
    expect(verifyReceipt(receipt!)).toBe(true)
  })

  it('should refuse a receipt whose amount changed after signing', async () => {
    const parties = await makeParties(1)
    const [receipt] = makeReceipts(parties, 1, 0)
    const error = (() => {
      try {
        return assertReceipt({ ...receipt!, amount: receipt!.amount + 1n })
      } catch (e) {
        return e
      }
    })()
    expect(isLedgerError(error, 'LEDGER__INVALID_RECEIPT_SIGNATURE')).toBe(true)
  })

  it('should refuse a receipt signed by one side only, or with the payee redirected', async () => {
    const parties = await makeParties(1)
    const [receipt] = makeReceipts(parties, 1, 0)
    expect(verifyReceipt({ ...receipt!, workerSig: undefined })).toBe(false)
    expect(verifyReceipt({ ...receipt!, payee: (await generateKeyPairSigner()).address })).toBe(false)
  })

  it('should refuse to sign for a peer the receipt does not name', async () => {
    const parties = await makeParties(1)
    const [receipt] = makeReceipts(parties, 1, 0)
    const stranger = await generateIdentity()
    expect(() => signReceipt(receipt!, stranger, 'creator')).toThrow(/creator/)
  })

  it('should refuse a receipt without a payee', async () => {
    const parties = await makeParties(1)
    const [receipt] = makeReceipts(parties, 1, 0)
    const withoutPayee = { ...receipt! }
    delete withoutPayee.payee
    expect(() => assertReceipt(withoutPayee)).toThrow(expect.objectContaining({ code: 'LEDGER__INVALID_RECEIPT' }))
  })

  it('should return a frozen copy without unknown keys, and that copy itself when parsed again', async () => {
    const parties = await makeParties(1)
    const [receipt] = makeReceipts(parties, 1, 0)
    const parsed = parseReceipt({ ...receipt!, extra: 'dropped' })
    expect(parsed).not.toHaveProperty('extra')
    expect(Object.isFrozen(parsed)).toBe(true)
    expect(() => Object.assign(parsed, { amount: 1n })).toThrow(TypeError)
    expect(parseReceipt(parsed)).toBe(parsed)
    // An equal object that did not come from parseReceipt is parsed, not trusted by shape.
    expect(() => parseReceipt({ ...parsed, epoch: -1 })).toThrow(
      expect.objectContaining({ code: 'LEDGER__INVALID_RECEIPT' }),
    )
    expect(receiptLeaf({ ...receipt!, extra: 'dropped' } as never)).toEqual(receiptLeaf(parsed))
  })

  it('should refuse a malformed receipt with a coded error', () => {
    expect(() => assertReceipt({ jobId: 1 })).toThrow(expect.objectContaining({ code: 'LEDGER__INVALID_RECEIPT' }))
  })
})

describe('EpochBatch', () => {
  it('should give the same root and payouts whatever order receipts arrive in', async () => {
    const parties = await makeParties(3)
    const receipts = makeReceipts(parties, 30, 4)
    const a = EpochBatch.build(4, receipts, 100)
    const b = EpochBatch.build(4, [...receipts].reverse(), 100)
    expect(b.root).toEqual(a.root)
    expect(b.payouts).toEqual(a.payouts)
  })

  it('should sum receipts per payee and take the fee on each payee’s sum', async () => {
    const parties = await makeParties(2)
    const receipts = makeReceipts(parties, 10, 0)
    const batch = EpochBatch.build(0, receipts, 250)
    for (const payout of batch.payouts) {
      const mine = receipts.filter((r) => r.payee === payout.payee)
      const gross = mine.reduce((s, r) => s + r.amount, 0n)
      expect(payout.gross).toBe(gross)
      expect(payout.fee).toBe((gross * 250n) / 10_000n)
      expect(payout.net + payout.fee).toBe(gross)
      expect(payout.receipts).toBe(mine.length)
    }
  })

  it('should prove every receipt and reject tampered receipts, paths and positions', async () => {
    const parties = await makeParties(3)
    const receipts = makeReceipts(parties, 37, 2)
    const batch = EpochBatch.build(2, receipts, 100)
    const anchor = { epoch: 2, size: batch.size, root: batch.root }
    batch.receipts.forEach((receipt, index) => {
      expect(verifyReceiptInclusion(anchor, receipt, batch.proof(index))).toBe(true)
    })
    const receipt = batch.receipts[5] as Receipt
    const proof = batch.proof(5)
    expect(verifyReceiptInclusion(anchor, { ...receipt, amount: receipt.amount + 1n }, proof)).toBe(false)
    expect(verifyReceiptInclusion(anchor, receipt, { ...proof, index: 6 })).toBe(false)
    expect(verifyReceiptInclusion(anchor, receipt, { ...proof, path: proof.path.slice(1) })).toBe(false)
    expect(verifyReceiptInclusion({ ...anchor, epoch: 3 }, receipt, proof)).toBe(false)
  })

  it('should find a task’s receipt by job and task id', async () => {
    const parties = await makeParties(2)
    const receipts = makeReceipts(parties, 5, 0)
    const batch = EpochBatch.build(0, receipts, 100)
    const index = batch.indexOf('job-0', 'tile-3')
    expect(index).toBeDefined()
    expect(batch.receipts[index!]?.taskId).toBe('tile-3')
    expect(batch.indexOf('job-0', 'tile-99')).toBeUndefined()
  })
})
