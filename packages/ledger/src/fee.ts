import { BPS_DENOMINATOR, MAX_FEE_BPS } from './constants.js'
import { LedgerError } from './errors.js'

/** Refuses a fee outside 0…10,000 basis points or not an integer. */
export function assertFeeBps(feeBps: number): void {
  if (!Number.isInteger(feeBps) || feeBps < 0 || feeBps > MAX_FEE_BPS) {
    throw new LedgerError(
      'LEDGER__INVALID_FEE',
      `protocol fee must be an integer 0–${MAX_FEE_BPS} bps, got ${feeBps}`,
      {
        feeBps,
      },
    )
  }
}

/**
 * Splits a gross payment into what the payee gets and the protocol fee: fee = ⌊gross·bps/10,000⌋, so rounding
 * always favours the payee and `net + fee === gross` to the token unit.
 */
export function splitFee(gross: bigint, feeBps: number): { net: bigint; fee: bigint } {
  assertFeeBps(feeBps)
  if (gross < 0n) throw new LedgerError('LEDGER__INVALID_INPUT', 'a payment cannot be negative', { gross })
  const fee = (gross * BigInt(feeBps)) / BPS_DENOMINATOR
  return { net: gross - fee, fee }
}
