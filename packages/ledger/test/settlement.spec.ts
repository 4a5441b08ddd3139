import { getTransactionSize, type Signature } from '@solana/kit'
import { isCoreError, type Receipt } from '@tessera/core'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { readAnchor } from '../src/anchor.js'
import { verifyReceiptInclusion } from '../src/batch.js'
import { TRANSACTION_SIZE_LIMIT } from '../src/constants.js'
import type { SettlementConfig, SettlementEvent } from '../src/settlement-machine.js'
import { associatedTokenAddress, getTokenBalance } from '../src/token.js'
import type { Vault } from '../src/vault.js'
import { liteSvmChain, rpcWsChain, tempDir, type Chain, type ChainFactory } from './support/fixtures.js'
import { makeParties, makeReceipts } from './support/receipts.js'
import {
  createSettlementWorld,
  fundEpochVault,
  grossOf,
  openSettlementNode,
  settlementDriver,
  type SettlementNode,
  type SettlementWorld,
} from './support/settlement-world.js'

const EPOCH = 7

function settlementSuite(factory: ChainFactory, count: number): void {
  let receipts: Receipt[]
  let chain: Chain
  let world: SettlementWorld
  let dir: Awaited<ReturnType<typeof tempDir>>
  let node: SettlementNode
  let vault: Vault

  beforeAll(async () => {
    receipts = makeReceipts(await makeParties(10), count, EPOCH)
  })

  beforeEach(async () => {
    chain = await factory()
    dir = await tempDir()
    world = await createSettlementWorld(chain.transport, grossOf(receipts) * 2n)
    node = await openSettlementNode(world, { dir: dir.path })
    vault = await fundEpochVault(world, node.executor, EPOCH, grossOf(receipts))
  })

  afterEach(async () => {
    await node.close()
    await chain.close()
    await dir.remove()
  })

  async function settle(into: SettlementNode, batch = receipts, config: Partial<SettlementConfig> = {}) {
    const { machine, driver } = settlementDriver(world, into, vault, { feeBps: 100, ...config })
    const events: SettlementEvent[] = []
    driver.onEvent((e) => events.push(e))
    for (const receipt of batch) driver.handle({ type: 'receipt', receipt })
    driver.handle({ type: 'close-epoch', epoch: EPOCH })
    await driver.run()
    return { machine, driver, events }
  }

  it(`should settle ${count} receipts of one creator and 10 workers with one anchor and one payout transaction`, async () => {
    const { machine, events } = await settle(node)
    const settled = events.find((e) => e.name === 'epoch:settled') as Extract<
      SettlementEvent,
      { name: 'epoch:settled' }
    >
    expect(settled.signatures).toHaveLength(2)
    expect(events.filter((e) => e.name === 'epoch:closed')).toEqual([
      expect.objectContaining({ epoch: EPOCH, size: count, payees: 10, transactions: 2 }),
    ])
    const [anchorSignature, payoutSignature] = settled.signatures as [Signature, Signature]

    const batch = machine.batch(EPOCH)!
    for (const payout of batch.payouts) {
      expect(await getTokenBalance(world.transport, await associatedTokenAddress(payout.payee, world.mint))).toBe(
        payout.net,
      )
    }
    expect(batch.fee).toBe(batch.payouts.reduce((s, p) => s + (p.gross * 100n) / 10_000n, 0n))
    expect(await getTokenBalance(world.transport, world.treasuryAccount)).toBe(batch.fee)
    expect(await getTokenBalance(world.transport, vault.address)).toBe(0n)

    const payoutTx = await world.transport.getTransaction(payoutSignature)
    expect(getTransactionSize(payoutTx!.transaction)).toBeLessThanOrEqual(TRANSACTION_SIZE_LIMIT)

    const anchor = await readAnchor(world.transport, anchorSignature)
    expect(anchor).toMatchObject({ epoch: EPOCH, size: count, author: world.settler.address })
    expect(anchor.root).toEqual(batch.root)
    let verified = 0
    batch.receipts.forEach((receipt, index) => {
      if (verifyReceiptInclusion(anchor, receipt, batch.proof(index))) verified++
    })
    expect(verified).toBe(count)
    const first = batch.receipts[0]!
    expect(verifyReceiptInclusion(anchor, { ...first, amount: first.amount * 2n }, batch.proof(0))).toBe(false)
  })

  it('should reject with CORE__ABORTED when its run is aborted', async () => {
    const { driver } = settlementDriver(world, node, vault, { feeBps: 100 })
    driver.handle({ type: 'close-epoch', epoch: EPOCH })
    await expect(driver.run({ signal: AbortSignal.abort() })).rejects.toSatisfy((e) => isCoreError(e, 'CORE__ABORTED'))
  })

  it('should finish, paying once, an epoch whose run was aborted while a payout was in flight', async () => {
    const some = receipts.slice(0, 100)
    const controller = new AbortController()
    await node.close()
    node = await openSettlementNode(world, {
      dir: dir.path,
      hooks: { afterIntent: (key) => (key.includes('/payout/') ? controller.abort() : undefined) },
    })
    const { machine, driver } = settlementDriver(world, node, vault, { feeBps: 100, retry: { baseMs: 10 } })
    for (const receipt of some) driver.handle({ type: 'receipt', receipt })
    driver.handle({ type: 'close-epoch', epoch: EPOCH })
    await expect(driver.run({ signal: controller.signal })).rejects.toSatisfy((e) => isCoreError(e, 'CORE__ABORTED'))
    // Left submitted before: run() again returned at once, and the epoch stayed paying for good.
    await driver.run()
    expect(machine.epochState(EPOCH)).toBe('settled')
    for (const payout of machine.batch(EPOCH)!.payouts) {
      expect(await getTokenBalance(world.transport, await associatedTokenAddress(payout.payee, world.mint))).toBe(
        payout.net,
      )
    }
    expect(await getTokenBalance(world.transport, world.treasuryAccount)).toBe(machine.batch(EPOCH)!.fee)
  })

  it('should replay, not repeat, an epoch settled again from the same journal', async () => {
    const some = receipts.slice(0, 100)
    const first = await settle(node, some)
    const balances = await Promise.all(
      first.machine
        .batch(EPOCH)!
        .payouts.map(async (p) => getTokenBalance(world.transport, await associatedTokenAddress(p.payee, world.mint))),
    )
    await node.close()
    node = await openSettlementNode(world, { dir: dir.path })
    const second = await settle(node, some)
    expect([...second.driver.results.values()].map((r) => r.replayed)).toEqual([true, true])
    const after = await Promise.all(
      second.machine
        .batch(EPOCH)!
        .payouts.map(async (p) => getTokenBalance(world.transport, await associatedTokenAddress(p.payee, world.mint))),
    )
    expect(after).toEqual(balances)
    expect(await getTokenBalance(world.transport, world.treasuryAccount)).toBe(first.machine.batch(EPOCH)!.fee)
  })

  it('should stop at the anchor, paying no one again, when an epoch is settled again in other chunks', async () => {
    const some = receipts.slice(0, 100)
    const first = await settle(node, some)
    const paid = async () =>
      Promise.all(
        first.machine
          .batch(EPOCH)!
          .payouts.map(async (p) =>
            getTokenBalance(world.transport, await associatedTokenAddress(p.payee, world.mint)),
          ),
      )
    const balances = await paid()
    await node.close()
    node = await openSettlementNode(world, { dir: dir.path })
    // 10 payees: one payout of 14 the first time, four of 3 now; chunks 1–3 are keys the journal never saw.
    const second = await settle(node, some, { maxPayeesPerTransaction: 3 })
    expect(second.events).toContainEqual({
      name: 'action:failed',
      key: `settle-${world.creator.address}/${EPOCH}/anchor`,
      code: 'LEDGER__JOURNAL_MISMATCH',
    })
    expect(second.driver.results.size).toBe(0)
    expect(second.machine.epochState(EPOCH)).toBe('anchoring')
    expect(await paid()).toEqual(balances)
  })
}

describe('epoch settlement on LiteSVM', () => {
  settlementSuite(liteSvmChain, 10_000)
})

describe('epoch settlement over RPC', () => {
  settlementSuite(rpcWsChain, 200)
})
