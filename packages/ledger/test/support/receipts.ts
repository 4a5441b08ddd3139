import { generateKeyPairSigner, type Address } from '@solana/kit'
import { generateIdentity, type Identity, type Receipt } from '@tessera/core'
import { signReceipt } from '../../src/receipt.js'

/** A creator and workers with peer identities (for receipts) and Solana wallets (payees). */
export interface Parties {
  creator: Identity
  workers: Array<{ identity: Identity; payee: Address }>
}

export async function makeParties(workers: number): Promise<Parties> {
  const creator = await generateIdentity()
  const list = await Promise.all(
    Array.from({ length: workers }, async () => ({
      identity: await generateIdentity(),
      payee: (await generateKeyPairSigner()).address,
    })),
  )
  return { creator, workers: list }
}

/** `count` co-signed receipts spread round-robin over the workers; amounts vary so rounding is exercised. */
export function makeReceipts(parties: Parties, count: number, epoch: number, jobPrefix = 'job'): Receipt[] {
  const receipts: Receipt[] = []
  for (let i = 0; i < count; i++) {
    const worker = parties.workers[i % parties.workers.length]!
    const unsigned: Receipt = {
      jobId: `${jobPrefix}-${Math.floor(i / 100)}`,
      taskId: `tile-${i}`,
      creator: parties.creator.peerId.toString(),
      worker: worker.identity.peerId.toString(),
      payee: worker.payee,
      amount: 1_000n + BigInt(i % 97),
      commitment: new Uint8Array(32).fill(i % 251),
      epoch,
    }
    receipts.push(signReceipt(signReceipt(unsigned, parties.creator, 'creator'), worker.identity, 'worker'))
  }
  return receipts
}
