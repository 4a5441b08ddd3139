import type { Address, Signature } from '@solana/kit'
import { TOKEN_PROGRAM_ADDRESS, TRANSFER_DISCRIMINATOR, getTransferInstructionDataDecoder } from '@solana-program/token'
import type { AbortOptions } from '@tessera/core'
import type { AnchorFacts } from './batch.js'
import { ANCHOR_MEMO_PREFIX, MAX_MEMO_BYTES, MEMO_V3_PROGRAM_ADDRESS, SLASH_MEMO_PREFIX } from './constants.js'
import { LedgerError } from './errors.js'
import { decodeTransaction } from './transaction-decode.js'
import type { LedgerTransport, TransactionRecord } from './transport/transport.js'

/**
 * Anchors and slash records live in SPL Memo v3 instructions. Memos must be UTF-8, so binary values are hex:
 * `tessera:anchor:1:<epoch>:<size>:<root hex>` and `tessera:slash:1:<fraud proof hash hex>:<vault address>`.
 * They are read back by decoding the stored transaction, which is what the signer actually signed.
 */

const HEX_32 = /^[0-9a-f]{64}$/
const DECIMAL = /^(0|[1-9][0-9]{0,15})$/

/** An anchor as read back from the chain. */
export interface AnchorRecord extends AnchorFacts {
  signature: Signature
  slot: bigint
  /** The fee payer who signed the anchor. */
  author: Address
}

/** A slash record as read back from the chain. */
export interface SlashRecord {
  signature: Signature
  slot: bigint
  fraudProofHash: Uint8Array
  vault: Address
  /** Token units the same transaction moved out of the vault. */
  amount: bigint
  author: Address
}

/** The memo text that anchors an epoch's receipt root on chain (`tessera:anchor:1:<epoch>:<size>:<root hex>`). */
export function anchorMemo(anchor: AnchorFacts): string {
  if (anchor.root.byteLength !== 32) throw new LedgerError('LEDGER__INVALID_INPUT', 'an anchor root is 32 bytes', {})
  return `${ANCHOR_MEMO_PREFIX}:${anchor.epoch}:${anchor.size}:${toHex(anchor.root)}`
}

/** Parses an anchor memo; undefined when the text is not one. */
export function parseAnchorMemo(text: string): AnchorFacts | undefined {
  const parts = text.split(':')
  if (parts.length !== 6 || `${parts[0]}:${parts[1]}:${parts[2]}` !== ANCHOR_MEMO_PREFIX) return undefined
  const [, , , epoch, size, root] = parts as [string, string, string, string, string, string]
  if (!DECIMAL.test(epoch) || !DECIMAL.test(size) || !HEX_32.test(root)) return undefined
  const facts = { epoch: Number(epoch), size: Number(size), root: fromHex(root) }
  if (!Number.isSafeInteger(facts.epoch) || !Number.isSafeInteger(facts.size) || facts.size < 1) return undefined
  return facts
}

/** The memo text that records a slash: the fraud proof's hash and the vault it took from. */
export function slashMemo(fraudProofHash: Uint8Array, vault: Address): string {
  if (fraudProofHash.byteLength !== 32) {
    throw new LedgerError('LEDGER__INVALID_FRAUD_PROOF', 'a fraud proof hash is 32 bytes (SHA-256)', {
      length: fraudProofHash.byteLength,
    })
  }
  return `${SLASH_MEMO_PREFIX}:${toHex(fraudProofHash)}:${vault}`
}

/** Parses a slash memo; undefined when the text is not one. */
export function parseSlashMemo(text: string): { fraudProofHash: Uint8Array; vault: Address } | undefined {
  const parts = text.split(':')
  if (parts.length !== 5 || `${parts[0]}:${parts[1]}:${parts[2]}` !== SLASH_MEMO_PREFIX) return undefined
  const [, , , hash, vault] = parts as [string, string, string, string, string]
  if (!HEX_32.test(hash) || !/^[1-9A-HJ-NP-Za-km-z]{32,44}$/.test(vault)) return undefined
  return { fraudProofHash: fromHex(hash), vault: vault as Address }
}

/** Memo texts in a transaction's Memo v3 instructions, and who paid for it. */
function memosOf(record: TransactionRecord): { texts: string[]; author: Address } {
  const decoded = decodeTransaction(record.transaction)
  const texts: string[] = []
  for (const instruction of decoded.instructions) {
    if (instruction.programAddress !== MEMO_V3_PROGRAM_ADDRESS || instruction.data.byteLength > MAX_MEMO_BYTES) continue
    try {
      texts.push(new TextDecoder('utf-8', { fatal: true }).decode(instruction.data as Uint8Array))
    } catch {
      // Not UTF-8: the memo program would have refused it; not ours either way.
    }
  }
  return { texts, author: decoded.feePayer }
}

async function readSucceeded(
  transport: LedgerTransport,
  signature: Signature,
  what: string,
  options: AbortOptions,
): Promise<TransactionRecord> {
  const record = await transport.getTransaction(signature, options)
  if (record === null) {
    throw new LedgerError('LEDGER__ANCHOR_NOT_FOUND', `the chain has no ${what} transaction ${signature}`, {
      signature,
    })
  }
  if (record.err !== null) {
    throw new LedgerError('LEDGER__ANCHOR_NOT_FOUND', `${what} transaction ${signature} failed on chain`, {
      signature,
      err: record.err,
    })
  }
  return record
}

/**
 * Reads an epoch anchor back from the chain by decoding its transaction: `LEDGER__ANCHOR_NOT_FOUND` when there is
 * no such (successful) transaction, `LEDGER__MALFORMED_ANCHOR` when it holds no well-formed anchor memo.
 */
export async function readAnchor(
  transport: LedgerTransport,
  signature: Signature,
  options: AbortOptions = {},
): Promise<AnchorRecord> {
  const record = await readSucceeded(transport, signature, 'anchor', options)
  const { texts, author } = memosOf(record)
  const anchors = texts.map(parseAnchorMemo).filter((a): a is AnchorFacts => a !== undefined)
  if (anchors.length !== 1) {
    throw new LedgerError(
      'LEDGER__MALFORMED_ANCHOR',
      `transaction ${signature} holds ${anchors.length} anchor memos, not one`,
      {
        signature,
      },
    )
  }
  return { ...(anchors[0] as AnchorFacts), signature, slot: record.slot, author }
}

/** Reads a slash record back from the chain (see {@link readAnchor} for the errors). */
export async function readSlashRecord(
  transport: LedgerTransport,
  signature: Signature,
  options: AbortOptions = {},
): Promise<SlashRecord> {
  const record = await readSucceeded(transport, signature, 'slash', options)
  const { texts, author } = memosOf(record)
  const slashes = texts.map(parseSlashMemo).filter((s) => s !== undefined)
  if (slashes.length !== 1 || slashes[0] === undefined) {
    throw new LedgerError('LEDGER__MALFORMED_ANCHOR', `transaction ${signature} holds no single slash memo`, {
      signature,
    })
  }
  const slash = slashes[0]
  let amount = 0n
  for (const instruction of decodeTransaction(record.transaction).instructions) {
    if (instruction.programAddress !== TOKEN_PROGRAM_ADDRESS || instruction.accounts[0] !== slash.vault) continue
    if (instruction.data[0] !== TRANSFER_DISCRIMINATOR || instruction.data.byteLength !== 9) continue
    amount += getTransferInstructionDataDecoder().decode(instruction.data).amount
  }
  return { ...slash, amount, signature, slot: record.slot, author }
}

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}

function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'))
}
