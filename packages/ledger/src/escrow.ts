import type { Address, TransactionSigner } from '@solana/kit'
import type { AbortOptions } from '@tessera/core'
import { DEFAULT_FEE_BPS } from './constants.js'
import { LedgerError } from './errors.js'
import { actionDigest, type ActionExecutor, type ActionResult } from './executor.js'
import { splitFee } from './fee.js'
import { readTokenAccount } from './token.js'
import {
  assertVaultSigners,
  openVault,
  vaultCloseInstruction,
  vaultTransferInstructions,
  verifyVault,
  type Vault,
} from './vault.js'

/**
 * Per-job escrow: a vault whose multisig is [creator, worker, arbiter], 2 of 3. The creator funds it when the job
 * is awarded; each verified tile releases part of it to the worker (worker + creator, or worker + arbiter when the
 * creator is gone or disputes); the rest is refunded (creator + arbiter); the empty account is closed and its rent
 * returns to the creator. The token program enforces "two of the three"; which two may do what is this module's
 * rule, which honest peers follow when asked to co-sign (see README, "What is enforced where").
 */

/** The escrow's three signers: any two of them move its tokens. */
export interface EscrowParties {
  creator: Address
  worker: Address
  arbiter: Address
}

/** An escrow as peers exchange it (all public). */
export interface Escrow extends Vault {
  jobId: string
  parties: EscrowParties
}

/** What {@link openEscrow} needs: the job, its parties, and the tokens the creator puts in. */
export interface OpenEscrowInput {
  jobId: string
  /** The creator's wallet: funds the escrow and signs the deposit. */
  creator: TransactionSigner
  /** The creator's token account the funds come from. */
  source: Address
  worker: Address
  arbiter: Address
  mint: Address
  amount: bigint
}

/**
 * The journal key prefix of every action on the escrow (or epoch vault) at `address`: releases, refund, close. Retire
 * it (`SettlementJournal.retire`) once the escrow is closed and its outcome kept elsewhere.
 */
export function escrowActionPrefix(address: string): string {
  return `escrow/${address}/`
}

/** Opens (or, after a crash, finds) the escrow of a job. */
export async function openEscrow(
  executor: ActionExecutor,
  input: OpenEscrowInput,
  options: AbortOptions = {},
): Promise<{ escrow: Escrow; result: ActionResult }> {
  const parties = { creator: input.creator.address, worker: input.worker, arbiter: input.arbiter }
  const { vault, result } = await openVault(
    executor,
    {
      id: `escrow/${input.jobId}`,
      funder: input.creator,
      source: input.source,
      signers: [parties.creator, parties.worker, parties.arbiter],
      mint: input.mint,
      amount: input.amount,
    },
    options,
  )
  return { escrow: { ...vault, jobId: input.jobId, parties }, result }
}

/** What {@link releaseEscrow} needs to pay one tile out of an escrow. */
export interface ReleaseInput {
  escrow: Escrow
  /** The tile (task) this payment is for: one release per tile, ever. */
  tileId: string
  /** Gross amount for the tile; the protocol fee is taken from it. */
  amount: bigint
  /** The worker's token account. */
  workerAccount: Address
  /** The treasury's token account (receives the fee). */
  treasuryAccount: Address
  /** @default 100 (1%) */
  feeBps?: number
  /** The worker and one of creator or arbiter. */
  signers: readonly [TransactionSigner, TransactionSigner]
}

/** Pays one verified tile out of the escrow: net to the worker, fee to the treasury, in one transaction. */
export async function releaseEscrow(
  executor: ActionExecutor,
  input: ReleaseInput,
  options: AbortOptions = {},
): Promise<ActionResult> {
  const { escrow } = input
  assertVaultSigners(
    escrow,
    input.signers,
    [
      [escrow.parties.worker, escrow.parties.creator],
      [escrow.parties.worker, escrow.parties.arbiter],
    ],
    'a release',
  )
  await assertPayee(executor, input.workerAccount, escrow.mint, escrow.parties.worker, options)
  const { net, fee } = splitFee(input.amount, input.feeBps ?? DEFAULT_FEE_BPS)
  const transfers = [
    { destination: input.workerAccount, amount: net },
    { destination: input.treasuryAccount, amount: fee },
  ]
  return executor.execute(
    {
      key: `${escrowActionPrefix(escrow.address)}release/${input.tileId}`,
      digest: actionDigest([
        'escrow-release',
        escrow.address,
        input.tileId,
        transfers.map((t) => [t.destination, t.amount]),
      ]),
      instructions: () => vaultTransferInstructions(escrow, transfers, input.signers),
    },
    options,
  )
}

/**
 * Returns everything left in the escrow to the creator (creator + arbiter sign). A release of the escrow still open
 * in the journal (a crash, an abort or a timeout after its intent) is settled first, so it is paid before the refund
 * takes the rest; one that cannot be settled yet refuses the refund with `LEDGER__ACTION_PENDING`.
 */
export async function refundEscrow(
  executor: ActionExecutor,
  input: { escrow: Escrow; creatorAccount: Address; signers: readonly [TransactionSigner, TransactionSigner] },
  options: AbortOptions = {},
): Promise<ActionResult> {
  const { escrow } = input
  assertVaultSigners(escrow, input.signers, [[escrow.parties.creator, escrow.parties.arbiter]], 'a refund')
  await assertPayee(executor, input.creatorAccount, escrow.mint, escrow.parties.creator, options)
  return executor.execute(
    {
      key: `${escrowActionPrefix(escrow.address)}refund`,
      digest: actionDigest(['escrow-refund', escrow.address, input.creatorAccount]),
      settleFirst: escrowActionPrefix(escrow.address),
      instructions: async () => {
        const amount = await verifyVault(executor.transport, escrow, options)
        return vaultTransferInstructions(escrow, [{ destination: input.creatorAccount, amount }], input.signers)
      },
    },
    options,
  )
}

/**
 * Closes the empty escrow account; its rent goes back to the creator's wallet. Any two of the trio may sign. Open
 * releases and refund of the escrow are settled first, as for {@link refundEscrow}.
 */
export async function closeEscrow(
  executor: ActionExecutor,
  input: { escrow: Escrow; signers: readonly [TransactionSigner, TransactionSigner] },
  options: AbortOptions = {},
): Promise<ActionResult> {
  const { escrow } = input
  const { creator, worker, arbiter } = escrow.parties
  assertVaultSigners(
    escrow,
    input.signers,
    [
      [creator, arbiter],
      [creator, worker],
      [worker, arbiter],
    ],
    'closing',
  )
  const key = `${escrowActionPrefix(escrow.address)}close`
  if (executor.status(key) !== 'confirmed') {
    const left = await verifyVault(executor.transport, escrow, options)
    if (left !== 0n) {
      throw new LedgerError(
        'LEDGER__INVALID_INPUT',
        `escrow ${escrow.address} still holds ${left}; release or refund first`,
        {
          escrow: escrow.address,
          left,
        },
      )
    }
  }
  return executor.execute(
    {
      key,
      digest: actionDigest(['escrow-close', escrow.address, creator]),
      settleFirst: escrowActionPrefix(escrow.address),
      instructions: () => [vaultCloseInstruction(escrow, creator, input.signers)],
    },
    options,
  )
}

/** Checks that a destination token account holds the escrow's mint and belongs to the expected party. */
async function assertPayee(
  executor: ActionExecutor,
  account: Address,
  mint: Address,
  owner: Address,
  options: AbortOptions,
): Promise<void> {
  const token = await readTokenAccount(executor.transport, account, options)
  if (token.mint !== mint || token.owner !== owner) {
    throw new LedgerError('LEDGER__INVALID_INPUT', `token account ${account} is not ${owner}'s account for ${mint}`, {
      account,
      mint: token.mint,
      owner: token.owner,
    })
  }
}
