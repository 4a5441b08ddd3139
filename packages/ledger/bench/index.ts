/**
 * Settlement benchmark (acceptance 3 and 6): 10,000 co-signed receipts of one creator and 10 workers settle on the
 * embedded LiteSVM chain (persisted to a temporary data directory, as a node runs it) with one anchor transaction
 * and one batched payout transaction. Prints a table and writes bench/results.json.
 *
 *   npm run bench -w @tessera/ledger
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { getTransactionSize, type Signature } from '@solana/kit'
import { readAnchor } from '../src/anchor.js'
import { verifyReceiptInclusion } from '../src/batch.js'
import type { SettlementEvent } from '../src/settlement-machine.js'
import { associatedTokenAddress, ensureTokenAccount, getTokenBalance } from '../src/token.js'
import { createLiteSvmTransport } from '../src/transport/litesvm-transport.js'
import { tempDir } from '../test/support/fixtures.js'
import { makeParties, makeReceipts } from '../test/support/receipts.js'
import {
  createSettlementWorld,
  fundEpochVault,
  grossOf,
  openSettlementNode,
  settlementDriver,
} from '../test/support/settlement-world.js'

const RECEIPTS = 10_000
const PAYEES = 10
const EPOCH = 1
const FEE_BPS = 100

const dir = await tempDir('tessera-ledger-bench-')
try {
  const transport = await createLiteSvmTransport({ dataDir: join(dir.path, 'chain') })

  let started = performance.now()
  const parties = await makeParties(PAYEES)
  const receipts = makeReceipts(parties, RECEIPTS, EPOCH)
  const signSeconds = (performance.now() - started) / 1000

  // One-time set-up, not counted: wallets, mint, token accounts, nonce account, multisig, funded epoch vault.
  const world = await createSettlementWorld(transport, grossOf(receipts))
  const node = await openSettlementNode(world, { dir: dir.path })
  const vault = await fundEpochVault(world, node.executor, EPOCH, grossOf(receipts))
  for (const worker of parties.workers) {
    await ensureTokenAccount(transport, { payer: world.settler, owner: worker.payee, mint: world.mint })
  }
  const { machine, driver } = settlementDriver(world, node, vault, { feeBps: FEE_BPS })
  const events: SettlementEvent[] = []
  driver.onEvent((e) => events.push(e))

  const lamportsBefore = await transport.getBalance(world.settler.address)
  started = performance.now()
  for (const receipt of receipts) driver.handle({ type: 'receipt', receipt })
  driver.handle({ type: 'close-epoch', epoch: EPOCH })
  await driver.run()
  const settleSeconds = (performance.now() - started) / 1000
  const lamports = lamportsBefore - (await transport.getBalance(world.settler.address))

  const settled = events.find((e) => e.name === 'epoch:settled') as
    Extract<SettlementEvent, { name: 'epoch:settled' }> | undefined
  if (settled === undefined) throw new Error('the epoch did not settle')
  const signatures = settled.signatures as Signature[]
  const batch = machine.batch(EPOCH)!
  for (const payout of batch.payouts) {
    const paid = await getTokenBalance(transport, await associatedTokenAddress(payout.payee, world.mint))
    if (paid !== payout.net) throw new Error(`payee ${payout.payee} got ${paid}, expected ${payout.net}`)
  }

  started = performance.now()
  const anchor = await readAnchor(transport, signatures[0]!)
  let verified = 0
  batch.receipts.forEach((receipt, index) => {
    if (verifyReceiptInclusion(anchor, receipt, batch.proof(index))) verified++
  })
  const verifySeconds = (performance.now() - started) / 1000
  if (verified !== RECEIPTS) throw new Error(`only ${verified} inclusion proofs verified`)

  const sizes = await Promise.all(
    signatures.map(async (s) => getTransactionSize((await transport.getTransaction(s))!.transaction)),
  )
  await node.close()
  await transport.close()

  const transactions = signatures.length
  const results = {
    receipts: RECEIPTS,
    payees: PAYEES,
    transactions,
    lamports: Number(lamports),
    ratioToPerReceipt: RECEIPTS / transactions,
    receiptsPerSec: Math.round(RECEIPTS / settleSeconds),
    anchorBytes: sizes[0],
    payoutBytes: sizes[1],
    feeBps: FEE_BPS,
    treasuryFee: batch.fee.toString(),
    settleSeconds: Number(settleSeconds.toFixed(3)),
    signSeconds: Number(signSeconds.toFixed(3)),
    proofsVerifiedPerSec: Math.round(RECEIPTS / verifySeconds),
    node: process.version,
  }
  console.table({
    'receipts (one epoch)': { value: RECEIPTS },
    payees: { value: PAYEES },
    'settlement transactions (anchor + payouts)': { value: transactions },
    'lamports paid by the settler': { value: results.lamports },
    'ratio vs one transaction per receipt': { value: results.ratioToPerReceipt },
    'receipts/s end to end (verify, batch, anchor, pay, confirm)': { value: results.receiptsPerSec },
    'anchor transaction bytes': { value: results.anchorBytes },
    'payout transaction bytes (of 1,232)': { value: results.payoutBytes },
    'inclusion proofs verified/s (with both signatures)': { value: results.proofsVerifiedPerSec },
    'co-signing 10,000 receipts (s, not in settlement)': { value: results.signSeconds },
  })
  await writeFile(join(import.meta.dirname, 'results.json'), `${JSON.stringify(results, null, 2)}\n`)
} finally {
  await dir.remove()
}
