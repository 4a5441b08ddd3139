import { z } from 'zod'
import {
  HASH_BYTES,
  MAX_CID_LENGTH,
  MAX_ID_LENGTH,
  MAX_LABEL_LENGTH,
  MAX_PEER_ID_LENGTH,
  SIGNATURE_BYTES,
} from '../constants.js'

/**
 * Field schemas shared by the wire messages. DAG-CBOR decodes small integers as numbers and large ones as bigints,
 * so token amounts accept either and come out as bigint.
 */

/** A non-negative safe integer (counts, milliseconds, indices). */
export const uint = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)
/** A positive safe integer. */
export const posInt = z.number().int().positive().max(Number.MAX_SAFE_INTEGER)
/** A finite non-negative number (scores, estimates). */
export const nonNegative = z.number().nonnegative().finite()
/** A probability in [0, 1]. */
export const probability = z.number().min(0).max(1)
/** A token amount in the smallest unit, as bigint (u64 on chain). */
export const amount = z
  .union([z.bigint(), z.number().int()])
  .transform((v) => BigInt(v))
  .refine((v) => v >= 0n && v <= 0xffff_ffff_ffff_ffffn, 'amount out of u64 range')

export const id = z.string().min(1).max(MAX_ID_LENGTH)
export const peerId = z.string().min(1).max(MAX_PEER_ID_LENGTH)
export const cid = z.string().min(1).max(MAX_CID_LENGTH)
export const label = z.string().max(MAX_LABEL_LENGTH)
/**
 * A payment address on the ledger: a base58 Solana address (32 bytes encode to 32 to 44 characters). The ledger
 * checks it is a valid ed25519 point before paying it.
 */
export const payeeAddress = z.string().regex(/^[1-9A-HJ-NP-Za-km-z]{32,44}$/, 'expected a base58 Solana address')

/** Bytes of exactly `length`. */
export const fixedBytes = (length: number) =>
  z.instanceof(Uint8Array).refine((b) => b.byteLength === length, `expected ${length} bytes`)
/** Bytes of at most `max`. */
export const boundedBytes = (max: number) =>
  z.instanceof(Uint8Array).refine((b) => b.byteLength <= max, `expected at most ${max} bytes`)

export const hash = fixedBytes(HASH_BYTES)
export const signature = fixedBytes(SIGNATURE_BYTES)
/** A reputation tier: 1 trusted partners, 2 priority, 3 economy (Render Network's tiers). */
export const tier = z.union([z.literal(1), z.literal(2), z.literal(3)])
