import { fraudProofHash } from '@tessera/proof'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { readAnchor, readSlashRecord } from '../src/anchor.js'
import { isLedgerError } from '../src/errors.js'
import { actionDigest } from '../src/executor.js'
import { bondStake, slashStake, unbondStake, type StakeBond } from '../src/stake.js'
import { getTokenBalance, mintTokens } from '../src/token.js'
import { vaultTransferInstructions } from '../src/vault.js'
import { createWorld, liteSvmChain, rpcWsChain, type Chain, type ChainFactory, type World } from './support/fixtures.js'

function stakeSuite(factory: ChainFactory): void {
  let chain: Chain
  let world: World
  let bond: StakeBond

  /** An action whose key is named here "crashes" once, after its intent is journaled and before it is sent. */
  let crashAfterIntent: string | undefined

  beforeEach(async () => {
    chain = await factory()
    crashAfterIntent = undefined
    world = await createWorld(chain.transport, {
      hooks: {
        afterIntent: (key) => {
          if (key !== crashAfterIntent) return
          crashAfterIntent = undefined
          throw new Error('crash')
        },
      },
    })
    await mintTokens(world.transport, {
      payer: world.payer,
      mint: world.mint,
      mintAuthority: world.mintAuthority,
      destination: world.accounts.worker,
      amount: 8_000n,
    })
    ;({ bond } = await bondStake(world.executor, {
      bondId: 'worker-1',
      worker: world.worker,
      source: world.accounts.worker,
      counterparty: world.creator.address,
      arbiter: world.arbiter.address,
      mint: world.mint,
      amount: 5_000n,
    }))
  })

  afterEach(async () => {
    await world.close()
    await chain.close()
  })

  /** The arbiter and the creator slash the bond for `proof`, to the treasury. */
  const slash = (proof: Uint8Array) =>
    slashStake(world.executor, {
      bond,
      fraudProofHash: proof,
      beneficiaryAccount: world.accounts.treasury,
      signers: [world.arbiter, world.creator],
    })

  it('should forfeit the bond to the beneficiary with the fraud proof hash anchored in the same transaction', async () => {
    const proofHash = fraudProofHash(new TextEncoder().encode('a fraud proof bundle'))
    const workerLamports = await world.transport.getBalance(world.worker.address)
    const result = await slashStake(world.executor, {
      bond,
      fraudProofHash: proofHash,
      beneficiaryAccount: world.accounts.treasury,
      signers: [world.arbiter, world.creator],
    })
    const record = await readSlashRecord(world.transport, result.signature)
    expect(record.fraudProofHash).toEqual(proofHash)
    expect(record).toMatchObject({ vault: bond.address, amount: 5_000n, author: world.payer.address })
    expect(await getTokenBalance(world.transport, world.accounts.treasury)).toBe(5_000n)
    expect(await getTokenBalance(world.transport, world.accounts.worker)).toBe(3_000n)
    expect(await world.transport.getAccount(bond.address)).toBeNull()
    // The bond account's rent goes back to the worker: rent is not stake.
    expect(await world.transport.getBalance(world.worker.address)).toBeGreaterThan(workerLamports)
    await expect(readAnchor(world.transport, result.signature)).rejects.toMatchObject({
      code: 'LEDGER__MALFORMED_ANCHOR',
    })
  })

  it('should refuse a slash the arbiter and counterparty did not both sign', async () => {
    const proofHash = fraudProofHash(new Uint8Array([1, 2, 3]))
    const policy = await slashStake(world.executor, {
      bond,
      fraudProofHash: proofHash,
      beneficiaryAccount: world.accounts.treasury,
      signers: [world.arbiter, world.worker],
    }).catch((e: unknown) => e)
    expect(isLedgerError(policy, 'LEDGER__INVALID_INPUT')).toBe(true)
    const onChain = await world.executor
      .execute({
        key: 'arbiter-alone',
        digest: actionDigest(['arbiter-alone']),
        instructions: () =>
          vaultTransferInstructions(bond, [{ destination: world.accounts.treasury, amount: 5_000n }], [world.arbiter]),
      })
      .catch((e: unknown) => e)
    expect(isLedgerError(onChain, 'LEDGER__TRANSACTION_REJECTED')).toBe(true)
    expect(await getTokenBalance(world.transport, bond.address)).toBe(5_000n)
  })

  it('should refuse a fraud proof hash that is not 32 bytes', async () => {
    const error = await slashStake(world.executor, {
      bond,
      fraudProofHash: new Uint8Array(16),
      beneficiaryAccount: world.accounts.treasury,
      signers: [world.arbiter, world.creator],
    }).catch((e: unknown) => e)
    expect(isLedgerError(error, 'LEDGER__INVALID_FRAUD_PROOF')).toBe(true)
  })

  it('should carry on a journaled slash with the proof it named when another proof comes to slash the bond', async () => {
    const first = fraudProofHash(new TextEncoder().encode('the first fraud proof'))
    const second = fraudProofHash(new TextEncoder().encode('a later fraud proof'))
    crashAfterIntent = `stake/${bond.address}/slash`
    await expect(slash(first)).rejects.toThrow('crash')
    const result = await slash(second)
    expect(result.meta.fraudProofHash).toBe(Buffer.from(first).toString('hex'))
    expect((await readSlashRecord(world.transport, result.signature)).fraudProofHash).toEqual(first)
    expect(await getTokenBalance(world.transport, world.accounts.treasury)).toBe(5_000n)
    // Slashed: a third proof finds it done.
    expect((await slash(fraudProofHash(new Uint8Array([3])))).signature).toBe(result.signature)
  })

  it('should carry two slashes of one bond sent at once on the first proof, not refuse the second', async () => {
    const first = fraudProofHash(new TextEncoder().encode('one fraud proof'))
    const [a, b] = await Promise.all([slash(first), slash(fraudProofHash(new TextEncoder().encode('another')))])
    expect(b.signature).toBe(a.signature)
    expect(b.meta.fraudProofHash).toBe(Buffer.from(first).toString('hex'))
    expect(await getTokenBalance(world.transport, world.accounts.treasury)).toBe(5_000n)
  })

  it('should return the bond when the worker and counterparty unbond', async () => {
    await unbondStake(world.executor, {
      bond,
      workerAccount: world.accounts.worker,
      signers: [world.worker, world.creator],
    })
    expect(await getTokenBalance(world.transport, world.accounts.worker)).toBe(8_000n)
    expect(await world.transport.getAccount(bond.address)).toBeNull()
  })
}

describe('stake and slashing on LiteSVM', () => {
  stakeSuite(liteSvmChain)
})

describe('stake and slashing over RPC', () => {
  stakeSuite(rpcWsChain)
})
