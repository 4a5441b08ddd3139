import {
  getAddressEncoder,
  getBase58Decoder,
  getCompiledTransactionMessageDecoder,
  getTransactionDecoder,
  type Address,
  type ReadonlyUint8Array,
  type SignatureBytes,
  type Transaction,
} from '@solana/kit'
import { verifySignature } from '@tessera/core'
import { LedgerError } from './errors.js'

/** One instruction of a decoded transaction, with its program and accounts resolved to addresses. */
export interface DecodedInstruction {
  programAddress: Address
  accounts: Address[]
  data: ReadonlyUint8Array
}

/** A signed transaction taken apart: fee payer, lifetime token (blockhash or nonce) and instructions. */
export interface DecodedTransaction {
  feePayer: Address
  /** Accounts that signed, in order (the fee payer first). */
  signers: Address[]
  lifetimeToken: string
  instructions: DecodedInstruction[]
}

/**
 * Decodes a signed transaction's message. Reading anchors and slash records from the chain goes through here:
 * from the transaction itself, never from program logs (LiteSVM's memo program logs differ from mainnet's).
 * Only legacy and v0 messages with static accounts are understood; that is all this package builds.
 */
export function decodeTransaction(transaction: Transaction): DecodedTransaction {
  let message
  try {
    message = getCompiledTransactionMessageDecoder().decode(transaction.messageBytes)
  } catch (cause) {
    throw new LedgerError('LEDGER__INVALID_INPUT', 'transaction message does not decode', {}, { cause })
  }
  if (message.version === 1) {
    throw new LedgerError('LEDGER__INVALID_INPUT', 'v1 transaction messages are not supported', {})
  }
  const accounts = message.staticAccounts
  const at = (index: number): Address => {
    const account = accounts[index]
    if (account === undefined) {
      throw new LedgerError('LEDGER__INVALID_INPUT', 'instruction refers to an account outside the message', { index })
    }
    return account
  }
  const feePayer = at(0)
  return {
    feePayer,
    signers: accounts.slice(0, message.header.numSignerAccounts),
    lifetimeToken: message.lifetimeToken,
    instructions: message.instructions.map((instruction) => ({
      programAddress: at(instruction.programAddressIndex),
      accounts: (instruction.accountIndices ?? []).map(at),
      data: instruction.data ?? new Uint8Array(),
    })),
  }
}

/** Decodes wire bytes into kit's Transaction (message bytes and signatures). */
export function transactionFromWire(bytes: Uint8Array): Transaction {
  try {
    return getTransactionDecoder().decode(bytes)
  } catch (cause) {
    throw new LedgerError('LEDGER__INVALID_INPUT', 'bytes are not a wire transaction', {}, { cause })
  }
}

/**
 * The first signer of `transaction` whose signature is missing or does not verify over its message bytes (an
 * address is its Ed25519 public key), or undefined when every one does. The chain runs only a transaction that
 * verifies in full, so one that does not was never run, whatever signature it claims.
 */
export function unverifiedSigner(transaction: Transaction): Address | undefined {
  // Verification only reads the bytes; the casts drop kit's read-only brands for core's `Uint8Array` parameters.
  const message = transaction.messageBytes as ReadonlyUint8Array as Uint8Array
  const signatures = Object.entries(transaction.signatures) as Array<[Address, SignatureBytes | null]>
  for (const [signer, signature] of signatures) {
    const key = getAddressEncoder().encode(signer) as Uint8Array
    if (signature === null || !verifySignature(key, message, signature)) return signer
  }
  return undefined
}

/** Base58 text of raw bytes (signatures, keys). */
export function base58(bytes: ReadonlyUint8Array): string {
  return getBase58Decoder().decode(bytes)
}
