import { isAddress, type Address } from '@solana/kit'
import { peerIdFromString } from '@libp2p/peer-id'
import { encodeCanonical, receiptSchema, verifySignature, type Receipt } from '@tessera/core'
import { RECEIPT_SIGNING_CONTEXT } from './constants.js'
import { LedgerError } from './errors.js'

/** Anything that signs bytes with an Ed25519 peer key: a core `Identity` in practice. */
export interface ReceiptSigner {
  readonly peerId: { toString(): string }
  sign(data: Uint8Array): Uint8Array
}

/** Which side of a receipt signs. */
export type ReceiptRole = 'creator' | 'worker'

/**
 * Receipts {@link parseReceipt} returned. A receipt is checked at the settlement machine's door, again for its signed
 * bytes and again as a batch leaf; the schema parse was a tenth of the simulator's settlement time, so a receipt
 * this module produced is not parsed twice. They are frozen, so they still have the shape they were checked for.
 */
const parsedReceipts = new WeakSet<object>()

/**
 * Validates a receipt's shape (core's `receiptSchema`); `LEDGER__INVALID_RECEIPT` names the first problem. Returns
 * a frozen copy without unknown keys, or `value` itself when it is such a copy already.
 */
export function parseReceipt(value: unknown): Receipt {
  if (typeof value === 'object' && value !== null && parsedReceipts.has(value)) return value as Receipt
  const parsed = receiptSchema.safeParse(value)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new LedgerError(
      'LEDGER__INVALID_RECEIPT',
      `receipt is malformed at ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
      { path: issue?.path.map(String) ?? [] },
    )
  }
  const receipt = Object.freeze(parsed.data)
  parsedReceipts.add(receipt)
  return receipt
}

/**
 * The bytes both parties sign: `[RECEIPT_SIGNING_CONTEXT, receipt without signatures]` in DAG-CBOR (one
 * deterministic encoding), so a receipt signature is valid for exactly one receipt and for nothing but receipts.
 */
export function receiptSigningBytes(receipt: Receipt): Uint8Array {
  return encodeCanonical([RECEIPT_SIGNING_CONTEXT, unsignedReceipt(parseReceipt(receipt))])
}

/** A receipt without its signatures. */
export function unsignedReceipt(receipt: Receipt): Receipt {
  const unsigned = { ...receipt }
  delete unsigned.creatorSig
  delete unsigned.workerSig
  return unsigned
}

/** Returns a copy of `receipt` signed by `signer` as `role`; the signer must be the peer the receipt names. */
export function signReceipt(receipt: Receipt, signer: ReceiptSigner, role: ReceiptRole): Receipt {
  const named = role === 'creator' ? receipt.creator : receipt.worker
  if (signer.peerId.toString() !== named) {
    throw new LedgerError(
      'LEDGER__INVALID_INPUT',
      `the receipt's ${role} is ${named}, not ${signer.peerId.toString()}`,
      {
        role,
      },
    )
  }
  const sig = new Uint8Array(signer.sign(receiptSigningBytes(receipt)))
  return Object.freeze(role === 'creator' ? { ...receipt, creatorSig: sig } : { ...receipt, workerSig: sig })
}

const publicKeys = new Map<string, Uint8Array | undefined>()
const PUBLIC_KEY_CACHE_LIMIT = 10_000

/**
 * The raw Ed25519 key inside an Ed25519 peer id; undefined for other key types or bad ids. Cached: an epoch has
 * thousands of receipts from a handful of peers, and parsing a peer id costs more than the signature check.
 */
function publicKeyOfPeerId(peerId: string): Uint8Array | undefined {
  if (publicKeys.has(peerId)) return publicKeys.get(peerId)
  let key: Uint8Array | undefined
  try {
    const id = peerIdFromString(peerId)
    key = id.type === 'Ed25519' ? id.publicKey.raw : undefined
  } catch {
    key = undefined
  }
  if (publicKeys.size >= PUBLIC_KEY_CACHE_LIMIT) publicKeys.clear()
  publicKeys.set(peerId, key)
  return key
}

/** True when both signatures are present and valid for the peers the receipt names. Never throws. */
export function verifyReceipt(receipt: Receipt): boolean {
  try {
    assertReceipt(receipt)
    return true
  } catch {
    return false
  }
}

/**
 * Checks a receipt for settlement: its shape, a payee address, and both signatures
 * (`LEDGER__INVALID_RECEIPT`, `LEDGER__INVALID_RECEIPT_SIGNATURE`). Returns the normalised receipt.
 */
export function assertReceipt(value: unknown): Receipt & { payee: Address } {
  const receipt = parseReceipt(value)
  if (receipt.payee === undefined || !isAddress(receipt.payee)) {
    throw new LedgerError('LEDGER__INVALID_RECEIPT', 'receipt has no valid payee address', {
      jobId: receipt.jobId,
      taskId: receipt.taskId,
    })
  }
  const bytes = receiptSigningBytes(receipt)
  for (const role of ['creator', 'worker'] as const) {
    const sig = role === 'creator' ? receipt.creatorSig : receipt.workerSig
    const key = publicKeyOfPeerId(role === 'creator' ? receipt.creator : receipt.worker)
    if (sig === undefined || key === undefined || !verifySignature(key, bytes, sig)) {
      throw new LedgerError('LEDGER__INVALID_RECEIPT_SIGNATURE', `receipt's ${role} signature is missing or invalid`, {
        jobId: receipt.jobId,
        taskId: receipt.taskId,
        role,
      })
    }
  }
  return receipt as Receipt & { payee: Address }
}

/** The Merkle leaf of a receipt: the whole co-signed receipt, DAG-CBOR. Proving a leaf proves both signatures. */
export function receiptLeaf(receipt: Receipt): Uint8Array {
  return encodeCanonical(parseReceipt(receipt))
}
