import type { Address, TransactionSigner } from '@solana/kit'
import type { AbortOptions } from '@tessera/core'
import { slashMemo } from './anchor.js'
import { LedgerError } from './errors.js'
import { actionDigest, type ActionExecutor, type ActionResult } from './executor.js'
import { memoInstruction } from './memo.js'
import {
  assertVaultSigners,
  openVault,
  vaultCloseInstruction,
  vaultTransferInstructions,
  verifyVault,
  type Vault,
} from './vault.js'

/**
 * Stake: a worker bonds tokens into a vault whose multisig is [worker, counterparty, arbiter], 2 of 3, where the
 * counterparty is the creator it works for or a network key. A fraud proof (from `@tessera/proof`, named by its
 * SHA-256) lets the arbiter and the counterparty forfeit the bond: one transaction carries the slash record (a
 * Memo v3 `tessera:slash:1:<proof hash>:<vault>`) and moves the whole bond to the beneficiary, so the record and
 * the forfeit cannot be separated. The worker and the counterparty together release the bond when the work ends.
 * No program checks the fraud proof on chain (none can be deployed here); see README, "What is enforced where".
 */

/** The bond's three signers: worker and counterparty release it; arbiter and counterparty forfeit it. */
export interface StakeParties {
  worker: Address
  counterparty: Address
  arbiter: Address
}

/** A stake bond as peers exchange it (all public). */
export interface StakeBond extends Vault {
  bondId: string
  parties: StakeParties
}

/**
 * Bonds `amount` into a vault owned by [worker, counterparty, arbiter] (idempotent under `bondId`). The worker
 * funds it from its own tokens; `funder` lets another party post it on the worker's behalf (a local faucet on an
 * embedded chain the worker cannot reach).
 */
export async function bondStake(
  executor: ActionExecutor,
  input: {
    bondId: string
    worker: TransactionSigner | Address
    /** Who pays the bond in and signs the deposit. @default the worker */
    funder?: TransactionSigner
    /** The funder's token account the bond comes from. */
    source: Address
    counterparty: Address
    arbiter: Address
    mint: Address
    amount: bigint
  },
  options: AbortOptions = {},
): Promise<{ bond: StakeBond; result: ActionResult }> {
  const worker = typeof input.worker === 'string' ? input.worker : input.worker.address
  const funder = input.funder ?? (typeof input.worker === 'string' ? undefined : input.worker)
  if (funder === undefined) {
    throw new LedgerError('LEDGER__INVALID_INPUT', 'a bond needs a funder: the worker as a signer, or `funder`', {})
  }
  const parties = { worker, counterparty: input.counterparty, arbiter: input.arbiter }
  const { vault, result } = await openVault(
    executor,
    {
      id: `stake/${input.bondId}`,
      funder,
      source: input.source,
      signers: [parties.worker, parties.counterparty, parties.arbiter],
      mint: input.mint,
      amount: input.amount,
    },
    options,
  )
  return { bond: { ...vault, bondId: input.bondId, parties }, result }
}

/**
 * Forfeits a bond for a fraud proof: the slash record and the transfer of the whole bond to `beneficiaryAccount`
 * in one transaction, signed by the arbiter and the counterparty; the emptied account is closed and its rent
 * returned to the worker (rent is not stake).
 *
 * A bond is slashed once. A slash already journaled for it (a try that failed, or one cut short by a restart) is
 * carried on with the fraud proof it named, whatever proof this call passes: the result's `meta.fraudProofHash`
 * (hex) says which proof the chain records. Otherwise a second proof against the same worker would be refused as
 * the same action with other content.
 */
export async function slashStake(
  executor: ActionExecutor,
  input: {
    bond: StakeBond
    /** SHA-256 of the fraud proof (`fraudProofHash` from `@tessera/proof`). */
    fraudProofHash: Uint8Array
    beneficiaryAccount: Address
    signers: readonly [TransactionSigner, TransactionSigner]
  },
  options: AbortOptions = {},
): Promise<ActionResult> {
  const { bond } = input
  assertVaultSigners(bond, input.signers, [[bond.parties.arbiter, bond.parties.counterparty]], 'a slash')
  const key = `stake/${bond.address}/slash`
  return executor.execute(
    {
      key,
      // Read in the executor's turn: two slashes of one bond at once carry on the same journaled proof.
      build: (journaled) => {
        const fraudProofHash = journaledProof(journaled) ?? input.fraudProofHash
        const memo = slashMemo(fraudProofHash, bond.address)
        return {
          key,
          digest: actionDigest(['stake-slash', bond.address, fraudProofHash, input.beneficiaryAccount]),
          meta: { fraudProofHash: Buffer.from(fraudProofHash).toString('hex') },
          instructions: async () => {
            const amount = await verifyVault(executor.transport, bond, options)
            if (amount === 0n) {
              throw new LedgerError('LEDGER__INSUFFICIENT_FUNDS', `bond ${bond.address} holds nothing to slash`, {
                bond: bond.address,
              })
            }
            return [
              memoInstruction(memo),
              ...vaultTransferInstructions(bond, [{ destination: input.beneficiaryAccount, amount }], input.signers),
              vaultCloseInstruction(bond, bond.parties.worker, input.signers),
            ]
          },
        }
      },
    },
    options,
  )
}

/**
 * The fraud proof hash a journaled slash named, from its intent's facts; undefined when none is journaled or it was
 * journaled before slashes recorded their proof (then the executor's digest check refuses another proof, coded).
 */
function journaledProof(meta: Readonly<Record<string, string>> | undefined): Uint8Array | undefined {
  const hex = meta?.fraudProofHash
  return hex !== undefined && /^[0-9a-f]{64}$/.test(hex) ? Uint8Array.from(Buffer.from(hex, 'hex')) : undefined
}

/** Returns the whole bond to the worker and closes it (worker + counterparty sign). */
export async function unbondStake(
  executor: ActionExecutor,
  input: { bond: StakeBond; workerAccount: Address; signers: readonly [TransactionSigner, TransactionSigner] },
  options: AbortOptions = {},
): Promise<ActionResult> {
  const { bond } = input
  assertVaultSigners(bond, input.signers, [[bond.parties.worker, bond.parties.counterparty]], 'unbonding')
  return executor.execute(
    {
      key: `stake/${bond.address}/unbond`,
      digest: actionDigest(['stake-unbond', bond.address, input.workerAccount]),
      instructions: async () => {
        const amount = await verifyVault(executor.transport, bond, options)
        return [
          ...vaultTransferInstructions(bond, [{ destination: input.workerAccount, amount }], input.signers),
          vaultCloseInstruction(bond, bond.parties.worker, input.signers),
        ]
      },
    },
    options,
  )
}
