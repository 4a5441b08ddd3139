import { generateKeyPairSigner, type Address, type TransactionSigner } from '@solana/kit'
import { getCreateAccountInstruction } from '@solana-program/system'
import {
  AccountState,
  TOKEN_PROGRAM_ADDRESS,
  findAssociatedTokenPda,
  getCreateAssociatedTokenIdempotentInstruction,
  getInitializeMint2Instruction,
  getMintDecoder,
  getMintSize,
  getMintToInstruction,
  getTokenDecoder,
  getTokenSize,
  type Mint,
} from '@solana-program/token'
import { bytesToHex } from '@noble/hashes/utils.js'
import type { AbortOptions } from '@tessera/core'
import { DEFAULT_TOKEN_DECIMALS, MINT_MEMO_PREFIX, MINT_MEMO_RANDOM_BYTES } from './constants.js'
import { isLedgerError, LedgerError } from './errors.js'
import { memoInstruction } from './memo.js'
import { sendInstructions } from './transaction.js'
import type { LedgerTransport } from './transport/transport.js'

/** An SPL token account as the ledger reads it. */
export interface TokenAccountInfo {
  address: Address
  mint: Address
  owner: Address
  amount: bigint
}

/**
 * Creates a new SPL mint (the demo payment token on LiteSVM; on a real cluster pass the configured mint instead).
 * `mintAuthority` may mint more later, e.g. for local token airdrops.
 */
export async function createMint(
  transport: LedgerTransport,
  input: { payer: TransactionSigner; mintAuthority: Address; decimals?: number },
  options: AbortOptions = {},
): Promise<Address> {
  const mint = await generateKeyPairSigner()
  const space = BigInt(getMintSize())
  const lamports = await transport.getMinimumBalanceForRentExemption(space, options)
  await sendInstructions(
    transport,
    {
      feePayer: input.payer,
      instructions: [
        getCreateAccountInstruction({
          payer: input.payer,
          newAccount: mint,
          lamports,
          space,
          programAddress: TOKEN_PROGRAM_ADDRESS,
        }),
        getInitializeMint2Instruction({
          mint: mint.address,
          decimals: input.decimals ?? DEFAULT_TOKEN_DECIMALS,
          mintAuthority: input.mintAuthority,
        }),
      ],
    },
    options,
  )
  return mint.address
}

/** The associated token account of `owner` for `mint` (its address; it may not exist yet). */
export async function associatedTokenAddress(owner: Address, mint: Address): Promise<Address> {
  const [ata] = await findAssociatedTokenPda({ owner, mint, tokenProgram: TOKEN_PROGRAM_ADDRESS })
  return ata
}

/**
 * Creates `owner`'s associated token account for `mint` unless it is there, an initialised token account of that
 * mint (whose owner may since have handed it to another key, which the token program allows); returns its address.
 * Anything else at the address is no token account: lamports anyone may send there (which would otherwise make
 * every payout to it fail for good) are taken in by the creation.
 */
export async function ensureTokenAccount(
  transport: LedgerTransport,
  input: { payer: TransactionSigner; owner: Address; mint: Address },
  options: AbortOptions = {},
): Promise<Address> {
  const ata = await associatedTokenAddress(input.owner, input.mint)
  const existing = await readTokenAccount(transport, ata, options).catch((e: unknown) => {
    if (isLedgerError(e, 'LEDGER__ACCOUNT_NOT_FOUND') || isLedgerError(e, 'LEDGER__MALFORMED_ACCOUNT')) return undefined
    throw e
  })
  if (existing !== undefined && existing.mint === input.mint) return ata
  await sendInstructions(
    transport,
    {
      feePayer: input.payer,
      instructions: [
        getCreateAssociatedTokenIdempotentInstruction({
          payer: input.payer,
          ata,
          owner: input.owner,
          mint: input.mint,
        }),
      ],
    },
    options,
  )
  return ata
}

/**
 * Mints `amount` to a token account: the local token airdrop (the mint authority must sign). Every call mints: its
 * transaction carries a memo drawn for the call, so a mint like an earlier one is not that one again (with the same
 * blockhash it would be byte for byte, and a chain answers it with the earlier outcome and mints nothing). The same
 * call's own re-sends keep its memo (see {@link sendInstructions}), so they never mint twice; a caller that calls
 * again after an error that left the outcome unknown may.
 */
export async function mintTokens(
  transport: LedgerTransport,
  input: {
    payer: TransactionSigner
    mint: Address
    mintAuthority: TransactionSigner
    destination: Address
    amount: bigint
  },
  options: AbortOptions = {},
): Promise<void> {
  await sendInstructions(
    transport,
    {
      feePayer: input.payer,
      instructions: [
        getMintToInstruction({
          mint: input.mint,
          token: input.destination,
          mintAuthority: input.mintAuthority,
          amount: input.amount,
        }),
        memoInstruction(
          `${MINT_MEMO_PREFIX}:${bytesToHex(crypto.getRandomValues(new Uint8Array(MINT_MEMO_RANDOM_BYTES)))}`,
        ),
      ],
    },
    options,
  )
}

/** Reads an SPL token account; `LEDGER__ACCOUNT_NOT_FOUND` or `LEDGER__MALFORMED_ACCOUNT` when it is not one. */
export async function readTokenAccount(
  transport: LedgerTransport,
  address: Address,
  options: AbortOptions = {},
): Promise<TokenAccountInfo> {
  const account = await transport.getAccount(address, options)
  if (account === null) {
    throw new LedgerError('LEDGER__ACCOUNT_NOT_FOUND', `token account ${address} does not exist`, { address })
  }
  if (account.programAddress !== TOKEN_PROGRAM_ADDRESS || account.data.byteLength !== getTokenSize()) {
    throw new LedgerError('LEDGER__MALFORMED_ACCOUNT', `${address} is not an SPL token account`, { address })
  }
  const token = getTokenDecoder().decode(account.data)
  if (token.state !== AccountState.Initialized) {
    throw new LedgerError(
      'LEDGER__MALFORMED_ACCOUNT',
      `token account ${address} is not usable (state ${token.state})`,
      {
        address,
      },
    )
  }
  return { address, mint: token.mint, owner: token.owner, amount: token.amount }
}

/** Token units in a token account, or 0 when the account does not exist. */
export async function getTokenBalance(
  transport: LedgerTransport,
  tokenAccount: Address,
  options: AbortOptions = {},
): Promise<bigint> {
  if ((await transport.getAccount(tokenAccount, options)) === null) return 0n
  return (await readTokenAccount(transport, tokenAccount, options)).amount
}

/**
 * Reads a mint of the SPL Token program: `LEDGER__ACCOUNT_NOT_FOUND` when there is no account at `mint`,
 * `LEDGER__MALFORMED_ACCOUNT` when it is not an initialised SPL Token mint. Token-2022 mints are refused too: this
 * package derives token accounts and builds transfers for the SPL Token program only.
 */
export async function readMint(transport: LedgerTransport, mint: Address, options: AbortOptions = {}): Promise<Mint> {
  const account = await transport.getAccount(mint, options)
  if (account === null) throw new LedgerError('LEDGER__ACCOUNT_NOT_FOUND', `mint ${mint} does not exist`, { mint })
  const owner = account.programAddress
  if (owner !== TOKEN_PROGRAM_ADDRESS || account.data.byteLength !== getMintSize()) {
    throw new LedgerError(
      'LEDGER__MALFORMED_ACCOUNT',
      `${mint} is not an SPL Token mint (owned by ${owner}, ${account.data.byteLength} bytes); use a mint of ${TOKEN_PROGRAM_ADDRESS}`,
      { mint, owner },
    )
  }
  const decoded = getMintDecoder().decode(account.data)
  if (!decoded.isInitialized) {
    throw new LedgerError('LEDGER__MALFORMED_ACCOUNT', `mint ${mint} is not initialised`, { mint, owner })
  }
  return decoded
}

/** Decimals of a mint; see {@link readMint} for the errors. */
export async function readMintDecimals(
  transport: LedgerTransport,
  mint: Address,
  options: AbortOptions = {},
): Promise<number> {
  return (await readMint(transport, mint, options)).decimals
}
