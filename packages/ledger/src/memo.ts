import type { Instruction } from '@solana/kit'
import { getAddMemoInstruction } from '@solana-program/memo'
import { MAX_MEMO_BYTES, MEMO_V3_PROGRAM_ADDRESS } from './constants.js'
import { LedgerError } from './errors.js'

/** A memo instruction for the pinned Memo v3 program (LiteSVM has no v4, the memo client's default). */
export function memoInstruction(memo: string): Instruction {
  if (new TextEncoder().encode(memo).byteLength > MAX_MEMO_BYTES) {
    throw new LedgerError('LEDGER__INVALID_INPUT', `memo longer than ${MAX_MEMO_BYTES} bytes`, {})
  }
  return getAddMemoInstruction({ memo }, { programAddress: MEMO_V3_PROGRAM_ADDRESS })
}
