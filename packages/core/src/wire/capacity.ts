import { z } from 'zod'
import { MAX_ADDRS, MAX_CLASSES, MAX_FEATURES, MAX_TEXT_LENGTH } from '../constants.js'
import { amount, label, nonNegative, payeeAddress, peerId, tier, uint } from './fields.js'

/**
 * A worker's signed announcement of what it offers (DESIGN.md, "Join"): published on `/tessera/1/capacity` and
 * re-published before its envelope expires. Prices are token units per benchmark-hour.
 */
export const capacitySchema = z.object({
  peer: peerId,
  addrs: z.array(z.string().max(MAX_TEXT_LENGTH)).max(MAX_ADDRS),
  gpu: z.object({
    vendor: label,
    architecture: label,
    description: z.string().max(MAX_TEXT_LENGTH),
    backend: label,
  }),
  memoryMb: uint,
  features: z.array(label).max(MAX_FEATURES),
  /** Capacity benchmark score in benchmark units. */
  score: nonNegative,
  /** Asking price per benchmark-hour, token units. */
  price: amount,
  tiers: z.array(tier).max(3),
  stake: amount,
  /** Capability classes, also provided as DHT records (e.g. `render/wgsl`, `inference/fp32`). */
  classes: z.array(label).max(MAX_CLASSES),
  /** Task slots offered and in use. */
  slots: uint,
  busy: uint,
  issuedAt: uint,
  /** The worker's payment address on the ledger (a Solana address, base58), where receipts pay it. */
  payee: payeeAddress.optional(),
})

export type Capacity = z.output<typeof capacitySchema>
