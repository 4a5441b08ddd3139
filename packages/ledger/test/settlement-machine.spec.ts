import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { Receipt } from '@tessera/core'
import { beforeAll, describe, expect, it } from 'vitest'
import { MAX_TOKEN_UNITS } from '../src/constants.js'
import { isLedgerError } from '../src/errors.js'
import { signReceipt } from '../src/receipt.js'
import { SettlementMachine, type SettlementAction, type SettlementOutput } from '../src/settlement-machine.js'
import { makeParties, makeReceipts, type Parties } from './support/receipts.js'

function drain(machine: SettlementMachine): SettlementOutput[] {
  const out: SettlementOutput[] = []
  for (let o = machine.pollOutput(); o !== undefined; o = machine.pollOutput()) out.push(o)
  return out
}

function submits(outputs: SettlementOutput[]): SettlementAction[] {
  return outputs.flatMap((o) => (o.type === 'submit' ? [o.action] : []))
}

function thrown(fn: () => void): unknown {
  try {
    fn()
    return undefined
  } catch (e) {
    return e
  }
}

/** What the machine throws when handed `receipt` (undefined when it takes it). */
function receiptError(machine: SettlementMachine, receipt: Receipt): unknown {
  return thrown(() => machine.handle({ type: 'receipt', receipt }, 0))
}

describe('SettlementMachine', () => {
  let parties: Parties
  let receipts: Receipt[]

  beforeAll(async () => {
    parties = await makeParties(10)
    receipts = makeReceipts(parties, 40, 3)
  })

  function loaded(config: Partial<ConstructorParameters<typeof SettlementMachine>[0]> = {}): SettlementMachine {
    const machine = new SettlementMachine({ settlementId: 's', ...config })
    for (const receipt of receipts) machine.handle({ type: 'receipt', receipt }, 0)
    drain(machine)
    return machine
  }

  it('should ask for the anchor first and the payouts only once the anchor is confirmed', () => {
    const machine = loaded()
    machine.handle({ type: 'close-epoch', epoch: 3 }, 10)
    const first = submits(drain(machine))
    expect(first.map((a) => a.kind)).toEqual(['anchor'])
    expect(first[0]).toMatchObject({ key: 's/3/anchor', epoch: 3, size: 40 })
    machine.handle({ type: 'action-confirmed', key: 's/3/anchor', signature: 'A' }, 20)
    const second = submits(drain(machine))
    expect(second.map((a) => a.key)).toEqual(['s/3/payout/0'])
    expect(machine.epochState(3)).toBe('paying')
    machine.handle({ type: 'action-confirmed', key: 's/3/payout/0', signature: 'P' }, 30)
    const events = drain(machine).flatMap((o) => (o.type === 'event' ? [o.event] : []))
    expect(events).toContainEqual({ name: 'epoch:settled', epoch: 3, signatures: ['A', 'P'] })
    expect(machine.idle).toBe(true)
  })

  it('should split payees into chunks of at most maxPayeesPerTransaction, each with its fee', () => {
    const machine = loaded({ maxPayeesPerTransaction: 3, feeBps: 500 })
    machine.handle({ type: 'close-epoch', epoch: 3 }, 0)
    drain(machine)
    machine.handle({ type: 'action-confirmed', key: 's/3/anchor', signature: 'A' }, 0)
    const payouts = submits(drain(machine)).filter((a) => a.kind === 'payout')
    expect(payouts.map((p) => p.transfers.length)).toEqual([3, 3, 3, 1])
    const batch = machine.batch(3)!
    expect(payouts.reduce((s, p) => s + p.fee, 0n)).toBe(batch.fee)
    expect(payouts.flatMap((p) => p.transfers.map((t) => t.amount))).toEqual(batch.payouts.map((p) => p.net))
  })

  it('should build the same keys and digests whatever order the receipts came in', () => {
    const a = new SettlementMachine({ settlementId: 's' })
    const b = new SettlementMachine({ settlementId: 's' })
    for (const receipt of receipts) a.handle({ type: 'receipt', receipt }, 0)
    for (const receipt of [...receipts].reverse()) b.handle({ type: 'receipt', receipt }, 0)
    for (const m of [a, b]) {
      m.handle({ type: 'close-epoch', epoch: 3 }, 0)
      drain(m)
      m.handle({ type: 'action-confirmed', key: 's/3/anchor', signature: 'A' }, 0)
    }
    const keyed = (m: SettlementMachine) => submits(drain(m)).map((x) => [x.key, x.digest])
    expect(keyed(b)).toEqual(keyed(a))
  })

  it('should give the anchor another digest when the same receipts are paid in other chunks or at another fee', () => {
    const anchorDigest = (config: Partial<ConstructorParameters<typeof SettlementMachine>[0]>): string => {
      const machine = loaded(config)
      machine.handle({ type: 'close-epoch', epoch: 3 }, 0)
      const [anchor] = submits(drain(machine))
      return anchor!.digest
    }
    const base = anchorDigest({ maxPayeesPerTransaction: 14 })
    expect(anchorDigest({ maxPayeesPerTransaction: 14 })).toBe(base)
    expect(anchorDigest({ maxPayeesPerTransaction: 3 })).not.toBe(base)
    expect(anchorDigest({ maxPayeesPerTransaction: 14, feeBps: 200 })).not.toBe(base)
  })

  it('should retry a retryable failure with exponential backoff, then give up', () => {
    const machine = loaded({ retry: { baseMs: 100, maxMs: 1_000, maxAttempts: 3 } })
    machine.handle({ type: 'close-epoch', epoch: 3 }, 0)
    drain(machine)
    machine.handle({ type: 'action-failed', key: 's/3/anchor', code: 'LEDGER__RPC_TIMEOUT', retryable: true }, 1_000)
    expect(machine.pollTimeout()).toBe(1_100)
    machine.handleTimeout(1_099)
    expect(submits(drain(machine))).toHaveLength(0)
    machine.handleTimeout(1_100)
    expect(submits(drain(machine)).map((a) => a.key)).toEqual(['s/3/anchor'])
    machine.handle({ type: 'action-failed', key: 's/3/anchor', code: 'LEDGER__RPC_TIMEOUT', retryable: true }, 2_000)
    expect(machine.pollTimeout()).toBe(2_200)
    machine.handleTimeout(2_200)
    drain(machine)
    machine.handle({ type: 'action-failed', key: 's/3/anchor', code: 'LEDGER__RPC_TIMEOUT', retryable: true }, 3_000)
    expect(machine.pollTimeout()).toBeUndefined()
    const events = drain(machine).flatMap((o) => (o.type === 'event' ? [o.event] : []))
    expect(events).toContainEqual({ name: 'action:failed', key: 's/3/anchor', code: 'LEDGER__RPC_TIMEOUT' })
    expect(machine.idle).toBe(true)
  })

  it('should give up at once on a rejection, and try again when told to', () => {
    const machine = loaded()
    machine.handle({ type: 'close-epoch', epoch: 3 }, 0)
    drain(machine)
    machine.handle(
      { type: 'action-failed', key: 's/3/anchor', code: 'LEDGER__INSUFFICIENT_FUNDS', retryable: false },
      5,
    )
    expect(drain(machine).some((o) => o.type === 'event' && o.event.name === 'action:failed')).toBe(true)
    expect(machine.pollTimeout()).toBeUndefined()
    machine.handle({ type: 'retry', key: 's/3/anchor' }, 6)
    expect(submits(drain(machine)).map((a) => a.key)).toEqual(['s/3/anchor'])
  })

  it('should refuse a duplicate task, a closed epoch and a forged receipt with coded errors', () => {
    const machine = loaded()
    expect(isLedgerError(receiptError(machine, receipts[0]!), 'LEDGER__DUPLICATE_RECEIPT')).toBe(true)
    machine.handle({ type: 'close-epoch', epoch: 3 }, 0)
    const late = makeReceipts(parties, 41, 3, 'late').at(-1)!
    expect(isLedgerError(receiptError(machine, late), 'LEDGER__EPOCH_CLOSED')).toBe(true)
    const forged = { ...makeReceipts(parties, 1, 4, 'forged')[0]!, amount: 10n ** 12n }
    expect(isLedgerError(receiptError(machine, forged), 'LEDGER__INVALID_RECEIPT_SIGNATURE')).toBe(true)
    expect(machine.epochState(4)).toBeUndefined()
  })

  it('should drop settled epochs beyond retainedEpochs, refuse receipts naming them and still refuse their tasks', () => {
    const machine = new SettlementMachine({ settlementId: 's', retainedEpochs: 1 })
    const byEpoch = [1, 2, 3].map((epoch) => makeReceipts(parties, 3, epoch, `e${epoch}`))
    for (const [i, batch] of byEpoch.entries()) {
      const epoch = i + 1
      for (const receipt of batch) machine.handle({ type: 'receipt', receipt }, 0)
      machine.handle({ type: 'close-epoch', epoch }, 0)
      for (const action of submits(drain(machine))) {
        machine.handle({ type: 'action-confirmed', key: action.key, signature: action.key }, 0)
        for (const payout of submits(drain(machine))) {
          machine.handle({ type: 'action-confirmed', key: payout.key, signature: payout.key }, 0)
        }
      }
      drain(machine)
    }
    // Settling epoch 3 kept one settled epoch (3) and dropped epochs 1 and 2.
    expect(machine.epochState(1)).toBeUndefined()
    expect(machine.epochState(2)).toBeUndefined()
    expect(machine.epochState(3)).toBe('settled')
    expect(machine.batch(3)?.size).toBe(3)
    const late = makeReceipts(parties, 4, 1, 'e1').at(-1)!
    expect(isLedgerError(receiptError(machine, late), 'LEDGER__EPOCH_CLOSED')).toBe(true)
    machine.handle({ type: 'close-epoch', epoch: 1 }, 0)
    expect(drain(machine)).toEqual([])
    // The same task in a later epoch: refused, though its epoch is gone from memory.
    const again = makeReceipts(parties, 1, 4, 'e1')[0]!
    expect(isLedgerError(receiptError(machine, again), 'LEDGER__DUPLICATE_RECEIPT')).toBe(true)
    expect(() => new SettlementMachine({ settlementId: 's', retainedEpochs: -1 })).toThrow(/retainedEpochs/)
  })

  it('should keep no memory per dropped epoch: a machine closing an epoch a second for days stays small', () => {
    // A simulated creator closes every epoch, most of them empty, and retains none; what it remembers of the dropped
    // epochs (to refuse receipts naming them) must not grow with their number.
    v8.setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const machine = new SettlementMachine({ settlementId: 's', retainedEpochs: 0 })
    const heapAfterGc = (): number => {
      gc()
      return process.memoryUsage().heapUsed
    }
    const before = heapAfterGc()
    const epochs = 300_000
    for (let epoch = 0; epoch < epochs; epoch++) {
      machine.handle({ type: 'close-epoch', epoch }, 0)
      drain(machine)
    }
    const grown = heapAfterGc() - before
    // A number per epoch held in a Set takes several megabytes at this count.
    expect(grown).toBeLessThan(1_000_000)
    expect(isLedgerError(receiptError(machine, makeReceipts(parties, 1, 7, 'late')[0]!), 'LEDGER__EPOCH_CLOSED')).toBe(
      true,
    )
  })

  it('should refuse receipts beyond the epoch bound', () => {
    const machine = new SettlementMachine({ settlementId: 's', maxReceiptsPerEpoch: 2 })
    machine.handle({ type: 'receipt', receipt: receipts[0]! }, 0)
    machine.handle({ type: 'receipt', receipt: receipts[1]! }, 0)
    expect(isLedgerError(receiptError(machine, receipts[2]!), 'LEDGER__RECEIPTS_EXCEEDED')).toBe(true)
  })

  it('should refuse a receipt that takes its epoch past 2^64 - 1 token units, and close the epoch it kept', () => {
    const [worker] = parties.workers
    const signed = (taskId: string, amount: bigint): Receipt => {
      const unsigned: Receipt = {
        jobId: 'big',
        taskId,
        creator: parties.creator.peerId.toString(),
        worker: worker!.identity.peerId.toString(),
        payee: worker!.payee,
        amount,
        commitment: new Uint8Array(32),
        epoch: 5,
      }
      return signReceipt(signReceipt(unsigned, parties.creator, 'creator'), worker!.identity, 'worker')
    }
    const machine = new SettlementMachine({ settlementId: 's' })
    machine.handle({ type: 'receipt', receipt: signed('t0', MAX_TOKEN_UNITS - 1n) }, 0)
    expect(isLedgerError(receiptError(machine, signed('t1', 2n)), 'LEDGER__RECEIPTS_EXCEEDED')).toBe(true)
    machine.handle({ type: 'receipt', receipt: signed('t1', 1n) }, 0)
    // Taken before, the payee's sum overflowed the payout's encoding: close-epoch threw an uncoded error, left the
    // epoch anchoring with no action, and it never moved again.
    machine.handle({ type: 'close-epoch', epoch: 5 }, 0)
    expect(submits(drain(machine)).map((a) => a.key)).toEqual(['s/5/anchor'])
    expect(machine.batch(5)?.total).toBe(MAX_TOKEN_UNITS)
  })

  it('should settle an empty epoch without any transaction', () => {
    const machine = new SettlementMachine({ settlementId: 's' })
    machine.handle({ type: 'close-epoch', epoch: 9 }, 0)
    const outputs = drain(machine)
    expect(submits(outputs)).toHaveLength(0)
    expect(outputs).toContainEqual({ type: 'event', event: { name: 'epoch:settled', epoch: 9, signatures: [] } })
  })

  it('should refuse a fee outside 0–10,000 basis points', () => {
    expect(
      isLedgerError(
        thrown(() => new SettlementMachine({ settlementId: 's', feeBps: 10_001 })),
        'LEDGER__INVALID_FEE',
      ),
    ).toBe(true)
    expect(
      isLedgerError(
        thrown(() => new SettlementMachine({ settlementId: 's', feeBps: 1.5 })),
        'LEDGER__INVALID_FEE',
      ),
    ).toBe(true)
  })

  it('should refuse a receipt bound or retry policy that is not a usable integer', () => {
    for (const config of [
      { maxReceiptsPerEpoch: Number.NaN },
      { maxReceiptsPerEpoch: -5 },
      { maxReceiptsPerEpoch: 0 },
      { retry: { baseMs: Number.NaN } },
      { retry: { baseMs: -1 } },
      { retry: { maxMs: -1 } },
      { retry: { baseMs: 100, maxMs: 50 } },
      { retry: { maxAttempts: Number.NaN } },
      { retry: { maxAttempts: 0 } },
    ]) {
      const error = thrown(() => new SettlementMachine({ settlementId: 's', ...config }))
      expect(isLedgerError(error, 'LEDGER__INVALID_INPUT'), JSON.stringify(config)).toBe(true)
    }
    expect(new SettlementMachine({ settlementId: 's', retry: { baseMs: 0, maxMs: 0, maxAttempts: 1 } })).toBeDefined()
  })

  it('should report an unknown action with a coded error', () => {
    const machine = new SettlementMachine({ settlementId: 's' })
    const error = thrown(() => machine.handle({ type: 'action-confirmed', key: 'nope', signature: 'x' }, 0))
    expect(isLedgerError(error, 'LEDGER__ACTION_NOT_FOUND')).toBe(true)
  })
})
