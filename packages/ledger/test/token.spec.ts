import { generateKeyPairSigner, lamports } from '@solana/kit'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { associatedTokenAddress, createMint, ensureTokenAccount, readTokenAccount } from '../src/token.js'
import { fundedWallet, liteSvmChain, type Chain } from './support/fixtures.js'

describe('ensureTokenAccount', () => {
  let chain: Chain

  beforeEach(async () => {
    chain = await liteSvmChain()
  })

  afterEach(async () => {
    await chain.close()
  })

  it('should create a token account where someone sent lamports first, not take the lamports for one', async () => {
    const { transport } = chain
    const payer = await fundedWallet(transport)
    const mint = await createMint(transport, { payer, mintAuthority: (await generateKeyPairSigner()).address })
    const owner = (await generateKeyPairSigner()).address
    const ata = await associatedTokenAddress(owner, mint)
    // Anyone may send lamports to the address a payee's token account will have.
    await transport.requestAirdrop(ata, lamports(5_000_000n))
    expect(await ensureTokenAccount(transport, { payer, owner, mint })).toBe(ata)
    expect(await readTokenAccount(transport, ata)).toMatchObject({ owner, mint, amount: 0n })
    // Once there, it is taken as it is.
    expect(await ensureTokenAccount(transport, { payer, owner, mint })).toBe(ata)
  })
})
