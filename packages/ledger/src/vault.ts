import { generateKeyPairSigner, type Address, type Instruction, type TransactionSigner } from '@solana/kit'
import { getCreateAccountInstruction } from '@solana-program/system'
import {
  TOKEN_PROGRAM_ADDRESS,
  getCloseAccountInstruction,
  getInitializeAccount3Instruction,
  getInitializeMultisig2Instruction,
  getMultisigDecoder,
  getMultisigSize,
  getTokenSize,
  getTransferInstruction,
} from '@solana-program/token'
import type { AbortOptions } from '@tessera/core'
import { MULTISIG_SIGNER_COUNT, MULTISIG_THRESHOLD } from './constants.js'
import { LedgerError } from './errors.js'
import { actionDigest, type ActionExecutor, type ActionResult } from './executor.js'
import { readTokenAccount } from './token.js'
import type { LedgerTransport } from './transport/transport.js'

/**
 * A vault is an SPL token account owned by a 2-of-3 SPL Token multisig: the hard part of escrow and stake without a
 * custom program. The token program itself refuses any transfer or close that fewer than two of the three keys
 * sign. Multisig accounts cannot be closed, so one is made per trio of keys and reused (the journal remembers it).
 */

/** The three keys of a vault's multisig. */
export type Trio = readonly [Address, Address, Address]

/** What peers exchange to agree on a vault; `verifyVault` checks it against the chain. */
export interface Vault {
  /** The token account holding the funds. */
  address: Address
  /** Its owner: the 2-of-3 multisig. */
  multisig: Address
  mint: Address
  signers: Trio
}

/** A transfer out of a vault. */
export interface VaultTransfer {
  destination: Address
  amount: bigint
}

function trioKey(signers: Trio): string {
  assertTrio(signers)
  return [...signers].sort().join(',')
}

function assertTrio(signers: readonly Address[]): asserts signers is Trio {
  if (signers.length !== MULTISIG_SIGNER_COUNT || new Set(signers).size !== MULTISIG_SIGNER_COUNT) {
    throw new LedgerError('LEDGER__INVALID_INPUT', 'a vault needs three distinct signer addresses', { signers })
  }
}

/** The multisig for a trio: reused from the journal when it exists, else created (one-time set-up per trio). */
export async function ensureMultisig(
  executor: ActionExecutor,
  signers: Trio,
  options: AbortOptions = {},
): Promise<Address> {
  const key = `multisig/${trioKey(signers)}`
  const account = await generateKeyPairSigner()
  const result = await executor.execute(
    {
      key,
      digest: actionDigest(['multisig', trioKey(signers), MULTISIG_THRESHOLD]),
      meta: { multisig: account.address },
      instructions: async () => {
        const space = BigInt(getMultisigSize())
        const lamports = await executor.transport.getMinimumBalanceForRentExemption(space, options)
        return [
          getCreateAccountInstruction({
            payer: executor.payer,
            newAccount: account,
            lamports,
            space,
            programAddress: TOKEN_PROGRAM_ADDRESS,
          }),
          getInitializeMultisig2Instruction({
            multisig: account.address,
            m: MULTISIG_THRESHOLD,
            signers: [...signers],
          }),
        ]
      },
    },
    options,
  )
  const multisig = metaAddress(result, 'multisig')
  await assertMultisig(executor.transport, multisig, signers, options)
  return multisig
}

/** Checks that `multisig` is an initialised 2-of-3 SPL multisig of exactly `signers`. */
export async function assertMultisig(
  transport: LedgerTransport,
  multisig: Address,
  signers: Trio,
  options: AbortOptions = {},
): Promise<void> {
  const account = await transport.getAccount(multisig, options)
  if (account === null)
    throw new LedgerError('LEDGER__ACCOUNT_NOT_FOUND', `multisig ${multisig} does not exist`, { multisig })
  if (account.programAddress !== TOKEN_PROGRAM_ADDRESS || account.data.byteLength !== getMultisigSize()) {
    throw new LedgerError('LEDGER__MALFORMED_ACCOUNT', `${multisig} is not an SPL multisig`, { multisig })
  }
  const decoded = getMultisigDecoder().decode(account.data)
  const onChain = decoded.signers.slice(0, decoded.n)
  const same = onChain.length === signers.length && [...onChain].sort().join(',') === [...signers].sort().join(',')
  if (!decoded.isInitialized || decoded.m !== MULTISIG_THRESHOLD || !same) {
    throw new LedgerError('LEDGER__ESCROW_MISMATCH', `multisig ${multisig} is not 2-of-3 over the expected keys`, {
      multisig,
      m: decoded.m,
      signers: onChain,
    })
  }
}

/** Checks a vault descriptor against the chain: a token account of `mint` owned by the 2-of-3 multisig of `signers`. */
export async function verifyVault(
  transport: LedgerTransport,
  vault: Vault,
  options: AbortOptions = {},
): Promise<bigint> {
  const token = await readTokenAccount(transport, vault.address, options)
  if (token.mint !== vault.mint || token.owner !== vault.multisig) {
    throw new LedgerError('LEDGER__ESCROW_MISMATCH', `vault ${vault.address} has another mint or owner`, {
      vault: vault.address,
      mint: token.mint,
      owner: token.owner,
    })
  }
  await assertMultisig(transport, vault.multisig, vault.signers, options)
  return token.amount
}

/** The journal key prefix of the opening of vault `id` funded by `funder` (see {@link escrowActionPrefix}). */
export function vaultActionPrefix(funder: string, id: string): string {
  return `vault/${funder}/${id}/`
}

/**
 * Opens a vault: creates its token account (fresh keypair, owner = the trio's multisig) and moves `amount` into it
 * from `source`, which `funder` owns. Idempotent under `id`.
 */
export async function openVault(
  executor: ActionExecutor,
  input: { id: string; funder: TransactionSigner; source: Address; signers: Trio; mint: Address; amount: bigint },
  options: AbortOptions = {},
): Promise<{ vault: Vault; result: ActionResult }> {
  if (input.amount <= 0n)
    throw new LedgerError('LEDGER__INVALID_INPUT', 'a vault must be funded with a positive amount', {})
  const multisig = await ensureMultisig(executor, input.signers, options)
  const key = `${vaultActionPrefix(input.funder.address, input.id)}open`
  const status = executor.status(key)
  if (status === undefined || status === 'failed') {
    const source = await readTokenAccount(executor.transport, input.source, options)
    if (source.mint !== input.mint) {
      throw new LedgerError('LEDGER__INVALID_INPUT', `source ${input.source} holds another mint`, { mint: source.mint })
    }
    if (source.amount < input.amount) {
      throw new LedgerError(
        'LEDGER__INSUFFICIENT_FUNDS',
        `source ${input.source} holds ${source.amount}, needs ${input.amount}`,
        {
          source: input.source,
          balance: source.amount,
          amount: input.amount,
        },
      )
    }
  }
  const account = await generateKeyPairSigner()
  const result = await executor.execute(
    {
      key,
      digest: actionDigest([
        'vault-open',
        input.id,
        input.funder.address,
        input.source,
        [...input.signers],
        input.mint,
        input.amount,
      ]),
      meta: { vault: account.address },
      instructions: async () => {
        const space = BigInt(getTokenSize())
        const lamports = await executor.transport.getMinimumBalanceForRentExemption(space, options)
        return [
          getCreateAccountInstruction({
            payer: executor.payer,
            newAccount: account,
            lamports,
            space,
            programAddress: TOKEN_PROGRAM_ADDRESS,
          }),
          getInitializeAccount3Instruction({ account: account.address, mint: input.mint, owner: multisig }),
          getTransferInstruction({
            source: input.source,
            destination: account.address,
            authority: input.funder,
            amount: input.amount,
          }),
        ]
      },
    },
    options,
  )
  return {
    vault: { address: metaAddress(result, 'vault'), multisig, mint: input.mint, signers: input.signers },
    result,
  }
}

/** Transfer instructions out of a vault, authorised by the multisig with the given co-signers. */
export function vaultTransferInstructions(
  vault: Vault,
  transfers: readonly VaultTransfer[],
  signers: readonly TransactionSigner[],
): Instruction[] {
  return transfers
    .filter((t) => t.amount > 0n)
    .map((t) =>
      getTransferInstruction({
        source: vault.address,
        destination: t.destination,
        authority: vault.multisig,
        amount: t.amount,
        multiSigners: [...signers],
      }),
    )
}

/** The instruction that closes an empty vault and sends its rent lamports to `destination`. */
export function vaultCloseInstruction(
  vault: Vault,
  destination: Address,
  signers: readonly TransactionSigner[],
): Instruction {
  return getCloseAccountInstruction({
    account: vault.address,
    destination,
    owner: vault.multisig,
    multiSigners: [...signers],
  })
}

/** Checks that `signers` are distinct members of the vault's trio and cover one of the allowed pairs. */
export function assertVaultSigners(
  vault: Vault,
  signers: readonly TransactionSigner[],
  allowed: ReadonlyArray<readonly [Address, Address]>,
  what: string,
): void {
  const addresses = new Set(signers.map((s) => s.address))
  const members = signers.every((s) => vault.signers.includes(s.address))
  const covered = allowed.some(([a, b]) => addresses.has(a) && addresses.has(b))
  if (!members || addresses.size !== signers.length || !covered) {
    throw new LedgerError(
      'LEDGER__INVALID_INPUT',
      `${what} needs the signatures of ${allowed.map((p) => p.join(' + ')).join(' or ')}`,
      {
        signers: [...addresses],
      },
    )
  }
}

function metaAddress(result: ActionResult, name: string): Address {
  const value = result.meta[name]
  if (value === undefined) {
    throw new LedgerError('LEDGER__JOURNAL_CORRUPT', `journal entry ${result.key} lacks its ${name} address`, {
      key: result.key,
    })
  }
  return value as Address
}
