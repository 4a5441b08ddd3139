import { generateKeyPairSigner, getTransactionSize, type Address, type Nonce } from '@solana/kit'
import { describe, expect, it } from 'vitest'
import { MAX_PAYEES_PER_TRANSACTION, TRANSACTION_SIZE_LIMIT } from '../src/constants.js'
import { isLedgerError } from '../src/errors.js'
import { memoInstruction } from '../src/memo.js'
import { payoutInstructions } from '../src/payout.js'
import { buildTransaction } from '../src/transaction.js'

describe('batched payout transactions', () => {
  async function payoutOf(payees: number) {
    const settler = await generateKeyPairSigner()
    const creator = await generateKeyPairSigner()
    const address = async (): Promise<Address> => (await generateKeyPairSigner()).address
    const vault = {
      address: await address(),
      multisig: await address(),
      mint: await address(),
      signers: [creator.address, await address(), settler.address] as const,
    }
    const transfers = await Promise.all(
      Array.from({ length: payees }, async () => ({ payee: await address(), amount: 2n ** 63n })),
    )
    const instructions = await payoutInstructions({
      vault,
      transfers,
      fee: 2n ** 63n,
      treasuryAccount: await address(),
      signers: [settler, creator],
    })
    // The worst case: a retry, which carries an attempt memo.
    return buildTransaction({
      feePayer: settler,
      instructions: [...instructions, memoInstruction('tessera:attempt:99')],
      lifetime: { nonce: '11111111111111111111111111111111' as Nonce, nonceAccount: await address() },
    })
  }

  it(`should fit ${MAX_PAYEES_PER_TRANSACTION} payees and the treasury in one transaction`, async () => {
    const transaction = await payoutOf(MAX_PAYEES_PER_TRANSACTION)
    expect(getTransactionSize(transaction)).toBeLessThanOrEqual(TRANSACTION_SIZE_LIMIT)
    expect(Object.keys(transaction.signatures)).toHaveLength(2)
  })

  it('should refuse one more payee with LEDGER__TRANSACTION_TOO_LARGE', async () => {
    const error = await payoutOf(MAX_PAYEES_PER_TRANSACTION + 1).catch((e: unknown) => e)
    expect(isLedgerError(error, 'LEDGER__TRANSACTION_TOO_LARGE')).toBe(true)
  })
})
