/**
 * A settlement node as a separate process, for the crash test: it loads the chain (LiteSVM state), wallets, vault
 * and receipts from a directory, settles the epoch, and prints what happened as JSON. With
 * `TESSERA_LEDGER_CRASH=<hook>:<key fragment>` it SIGKILLs itself inside that executor hook for the first action
 * whose key contains the fragment: `afterSubmit` is after the transaction is confirmed and before the journal
 * records it; `afterIntent` is after the intent is journaled and before the transaction is sent.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Address } from '@solana/kit'
import { decodeCanonical, type Receipt } from '@tessera/core'
import { SettlementDriver } from '../../src/driver/settlement-driver.js'
import { ActionExecutor, type ExecutorHooks } from '../../src/executor.js'
import { SettlementJournal } from '../../src/journal.js'
import { SettlementMachine } from '../../src/settlement-machine.js'
import { createLiteSvmTransport } from '../../src/transport/litesvm-transport.js'
import type { Vault } from '../../src/vault.js'
import { loadWallet } from '../../src/wallet.js'

const dir = process.argv[2]
if (dir === undefined) throw new Error('usage: crash-child <dir>')

const crash = process.env.TESSERA_LEDGER_CRASH?.split(':')
const hooks: ExecutorHooks = {}
if (crash !== undefined) {
  const [hook, fragment] = crash as [keyof ExecutorHooks, string]
  hooks[hook] = (key: string) => {
    if (key.includes(fragment)) process.kill(process.pid, 'SIGKILL')
  }
}

const transport = await createLiteSvmTransport({ dataDir: join(dir, 'chain') })
const settler = await loadWallet(join(dir, 'settler.json'))
const creator = await loadWallet(join(dir, 'creator.json'))
const setup = JSON.parse(await readFile(join(dir, 'setup.json'), 'utf8')) as {
  vault: Vault
  treasuryAccount: Address
  epoch: number
}
const receipts = decodeCanonical(await readFile(join(dir, 'receipts.cbor')), 'receipts') as Receipt[]

const journal = await SettlementJournal.open(join(dir, 'journal.log'))
const executor = await ActionExecutor.open({ transport, journal, payer: settler, hooks })
const machine = new SettlementMachine({ settlementId: 'crash-test', feeBps: 100 })
const driver = new SettlementDriver({
  machine,
  executor,
  vault: setup.vault,
  signers: [settler, creator],
  treasuryAccount: setup.treasuryAccount,
})
await driver.reconcile()
for (const receipt of receipts) driver.handle({ type: 'receipt', receipt })
driver.handle({ type: 'close-epoch', epoch: setup.epoch })
await driver.run()
const results = Object.fromEntries(
  [...driver.results].map(([key, r]) => [key, { signature: r.signature, replayed: r.replayed }]),
)
await journal.close()
await transport.close()
process.stdout.write(`${JSON.stringify({ state: machine.epochState(setup.epoch), results })}\n`)
