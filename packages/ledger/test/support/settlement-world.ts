import { join } from 'node:path'
import { generateKeyPairSigner, type Address, type KeyPairSigner } from '@solana/kit'
import type { Receipt } from '@tessera/core'
import { SettlementDriver } from '../../src/driver/settlement-driver.js'
import { ActionExecutor, type ExecutorHooks } from '../../src/executor.js'
import { SettlementJournal } from '../../src/journal.js'
import { SettlementMachine, type SettlementConfig } from '../../src/settlement-machine.js'
import { createMint, ensureTokenAccount, mintTokens } from '../../src/token.js'
import type { LedgerTransport } from '../../src/transport/transport.js'
import { openVault, type Vault } from '../../src/vault.js'
import { fundedWallet } from './fixtures.js'

/**
 * The epoch-settlement cast: a settlement key that runs the driver (fee payer, nonce authority, co-signer), a
 * creator who funds the epoch vault and co-signs payouts, an arbiter, a treasury, and a demo mint.
 */
export interface SettlementWorld {
  transport: LedgerTransport
  settler: KeyPairSigner
  creator: KeyPairSigner
  arbiter: KeyPairSigner
  treasury: KeyPairSigner
  mintAuthority: KeyPairSigner
  mint: Address
  creatorAccount: Address
  treasuryAccount: Address
}

export async function createSettlementWorld(
  transport: LedgerTransport,
  creatorTokens: bigint,
): Promise<SettlementWorld> {
  const settler = await fundedWallet(transport, 10n)
  const creator = await fundedWallet(transport, 1n)
  const [arbiter, treasury, mintAuthority] = await Promise.all([
    generateKeyPairSigner(),
    generateKeyPairSigner(),
    generateKeyPairSigner(),
  ])
  const mint = await createMint(transport, { payer: settler, mintAuthority: mintAuthority.address })
  const creatorAccount = await ensureTokenAccount(transport, { payer: settler, owner: creator.address, mint })
  const treasuryAccount = await ensureTokenAccount(transport, { payer: settler, owner: treasury.address, mint })
  await mintTokens(transport, {
    payer: settler,
    mint,
    mintAuthority,
    destination: creatorAccount,
    amount: creatorTokens,
  })
  return { transport, settler, creator, arbiter, treasury, mintAuthority, mint, creatorAccount, treasuryAccount }
}

/** A settlement node's durable half: its journal and the executor acting for the settlement key. */
export interface SettlementNode {
  journal: SettlementJournal
  executor: ActionExecutor
  close(): Promise<void>
}

export async function openSettlementNode(
  world: SettlementWorld,
  input: { dir: string; hooks?: ExecutorHooks },
): Promise<SettlementNode> {
  const journal = await SettlementJournal.open(join(input.dir, 'journal.log'))
  const executor = await ActionExecutor.open({
    transport: world.transport,
    journal,
    payer: world.settler,
    hooks: input.hooks,
  })
  return { journal, executor, close: () => journal.close() }
}

/** A settlement machine and its driver paying out of `vault`, co-signed by the settler and the creator. */
export function settlementDriver(
  world: SettlementWorld,
  node: SettlementNode,
  vault: Vault,
  config: Partial<SettlementConfig> = {},
): { machine: SettlementMachine; driver: SettlementDriver } {
  const machine = new SettlementMachine({ settlementId: `settle-${world.creator.address}`, ...config })
  const driver = new SettlementDriver({
    machine,
    executor: node.executor,
    vault,
    signers: [world.settler, world.creator],
    treasuryAccount: world.treasuryAccount,
  })
  return { machine, driver }
}

/** Funds the epoch vault [creator, arbiter, settler] with `amount` (set-up, journaled under `epoch-<n>`). */
export async function fundEpochVault(
  world: SettlementWorld,
  executor: ActionExecutor,
  epoch: number,
  amount: bigint,
): Promise<Vault> {
  const { vault } = await openVault(executor, {
    id: `epoch-${epoch}`,
    funder: world.creator,
    source: world.creatorAccount,
    signers: [world.creator.address, world.arbiter.address, world.settler.address],
    mint: world.mint,
    amount,
  })
  return vault
}

export function grossOf(receipts: readonly Receipt[]): bigint {
  return receipts.reduce((sum, r) => sum + r.amount, 0n)
}
