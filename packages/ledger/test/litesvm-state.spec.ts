import { cp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPairSigner, lamports, type KeyPairSigner, type Signature } from '@solana/kit'
import { decodeCanonical, encodeCanonical } from '@tessera/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { STATE_FILE, TRANSACTION_LOG_FILE } from '../src/constants.js'
import { createLiteSvmTransport, type LiteSvmTransportOptions } from '../src/transport/litesvm-transport.js'
import { SOL, loggedTransactions, openTransactionLog, tempDir, transferSol } from './support/fixtures.js'

const RETAINED = 3
/** Enough to load a directory without compacting it, so that what it holds shows. */
const RETAIN_ALL = 1_000

describe('LiteSVM state on disk', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let chainDir: string
  let alice: KeyPairSigner
  let bob: KeyPairSigner
  /** Transfers made so far: each sends another amount, so that no two are the same transaction. */
  let transfers: number

  beforeEach(async () => {
    transfers = 0
    dir = await tempDir()
    chainDir = join(dir.path, 'chain')
    alice = await generateKeyPairSigner()
    bob = await generateKeyPairSigner()
  })

  afterEach(async () => {
    await dir.remove()
  })

  /** Runs `count` transfers to bob on the chain in `chainDir`; their signatures, and what bob then holds. */
  async function runTransfers(
    count: number,
    options: LiteSvmTransportOptions = {},
  ): Promise<{ signatures: Signature[]; balance: bigint }> {
    const transport = await createLiteSvmTransport({ dataDir: chainDir, transactionHistory: 1, ...options })
    await transport.requestAirdrop(alice.address, lamports(10n * SOL))
    const signatures: Signature[] = []
    for (let i = 0; i < count; i++) {
      signatures.push(await transferSol(transport, alice, bob.address, SOL / 10n + BigInt(transfers++)))
    }
    const balance = await transport.getBalance(bob.address)
    await transport.close()
    return { signatures, balance }
  }

  /** Opens the chain in `path` without compacting it: which of `signatures` it can read, and its state. */
  async function load(path: string, signatures: readonly Signature[]) {
    const transport = await createLiteSvmTransport({
      dataDir: path,
      transactionHistory: 1,
      retainedTransactions: RETAIN_ALL,
    })
    const readable = await Promise.all(signatures.map(async (s) => (await transport.getTransaction(s)) !== null))
    const balance = await transport.getBalance(bob.address)
    const blockhash = transport.svm.latestBlockhash()
    await transport.close()
    return { readable, balance, blockhash, logged: (await loggedTransactions(path)).map((record) => record.n) }
  }

  /** Rewrites the directory as the version before retention wrote it: snapshot version 1, records without `n`. */
  async function rewriteAsVersion1(path: string, extra: Record<string, unknown>[] = []): Promise<void> {
    const snapshot = decodeCanonical(await readFile(join(path, STATE_FILE)), 'snapshot') as Record<string, unknown>
    expect(snapshot.first).toBe(0)
    const { v: _v, first: _first, ...unpruned } = snapshot
    await writeFile(join(path, STATE_FILE), encodeCanonical({ ...unpruned, v: 1 }))
    const records = (await loggedTransactions(path)).map(({ n: _n, ...record }) => record)
    await rewriteLog(path, [...records, ...extra])
  }

  async function rewriteLog(path: string, records: Record<string, unknown>[]): Promise<void> {
    const log = await openTransactionLog(path)
    await log.replace(records)
    await log.close()
  }

  it('should load a directory written before retention as it is, and log on after its records', async () => {
    const { signatures } = await runTransfers(4, { retainedTransactions: RETAIN_ALL })
    await rewriteAsVersion1(chainDir)
    expect((await load(chainDir, signatures)).readable).toEqual([true, true, true, true])

    const { signatures: later, balance } = await runTransfers(1, { retainedTransactions: RETAIN_ALL })
    const loaded = await load(chainDir, [...signatures, ...later])
    expect(loaded.readable).toEqual([true, true, true, true, true])
    expect(loaded.logged).toEqual([undefined, undefined, undefined, undefined, 4])
    expect(loaded.balance).toBe(balance)
    const snapshot = decodeCanonical(await readFile(join(chainDir, STATE_FILE)), 'snapshot') as Record<string, unknown>
    expect(snapshot).toMatchObject({ v: 2, first: 0, transactions: 5 })
  })

  it('should cut a log written before retention down to the retention at open, dropping what its snapshot did not count', async () => {
    const { signatures, balance } = await runTransfers(5, { retainedTransactions: RETAIN_ALL })
    // A transaction logged whose effects never reached the snapshot, as the version before retention logged it.
    const orphan = { signature: '1'.repeat(64), slot: '1', err: null, wire: '' }
    await rewriteAsVersion1(chainDir, [orphan])

    const transport = await createLiteSvmTransport({ dataDir: chainDir, retainedTransactions: 2 })
    expect(await transport.getTransaction(orphan.signature as Signature)).toBeNull()
    await transport.close()
    expect((await loggedTransactions(chainDir)).map((record) => record.n)).toEqual([3, 4])
    const loaded = await load(chainDir, signatures)
    expect(loaded.readable).toEqual([false, false, false, true, true])
    expect(loaded.balance).toBe(balance)
  })

  it('should load exactly what the last snapshot says after a crash at any step of compaction', async () => {
    const before = join(dir.path, 'before-compaction')
    const afterSnapshot = join(dir.path, 'after-compaction-snapshot')
    let compactions = 0
    const { signatures, balance } = await runTransfers(2 * RETAINED + 1, {
      retainedTransactions: RETAINED,
      hooks: {
        beforeCompaction: () => cp(chainDir, before, { recursive: true }),
        afterCompactionSnapshot: async () => {
          compactions++
          await cp(chainDir, afterSnapshot, { recursive: true })
        },
      },
    })
    expect(compactions).toBe(1)
    // Its transaction logged and in the snapshot, nothing dropped: every record is there.
    const uncompacted = await load(before, signatures)
    expect(uncompacted.readable).toEqual(signatures.map(() => true))
    expect(uncompacted.logged).toEqual([0, 1, 2, 3, 4, 5, 6])
    expect(uncompacted.balance).toBe(balance)
    const blockhashBefore = uncompacted.blockhash

    // The snapshot keeps the last three, the log still holds them all (and a rewrite of it was cut off halfway):
    // the older records are dropped on load, and the blockhash they could use has expired.
    const log = await readFile(join(afterSnapshot, TRANSACTION_LOG_FILE))
    await writeFile(
      join(afterSnapshot, `.${TRANSACTION_LOG_FILE}.1.0a0b0c0d0e0f.tmp`),
      log.subarray(0, log.byteLength / 2),
    )
    expect((await loggedTransactions(afterSnapshot)).map((record) => record.n)).toEqual([0, 1, 2, 3, 4, 5, 6])
    for (const path of [afterSnapshot, chainDir]) {
      const compacted = await load(path, signatures)
      expect(compacted.readable).toEqual([false, false, false, false, true, true, true])
      expect(compacted.logged).toEqual([4, 5, 6])
      expect(compacted.balance).toBe(balance)
      expect(compacted.blockhash).not.toBe(blockhashBefore)
    }

    // Never written in this order (the log is rewritten only after the snapshot): an old snapshot beside a log that
    // lacks records it includes is refused rather than loaded without them.
    await rm(join(before, TRANSACTION_LOG_FILE))
    await cp(join(chainDir, TRANSACTION_LOG_FILE), join(before, TRANSACTION_LOG_FILE))
    await expect(load(before, signatures)).rejects.toMatchObject({
      code: 'LEDGER__STATE_CORRUPT',
      message: expect.stringMatching(/holds transactions 4 to 6 but the snapshot includes 0 to 6/),
    })
  })

  it('should refuse a log whose records skip a transaction with LEDGER__STATE_CORRUPT', async () => {
    await runTransfers(3, { retainedTransactions: RETAIN_ALL })
    const [first, , third] = await loggedTransactions(chainDir)
    await rewriteLog(chainDir, [first!, third!])
    await expect(createLiteSvmTransport({ dataDir: chainDir })).rejects.toMatchObject({
      code: 'LEDGER__STATE_CORRUPT',
      message: expect.stringMatching(/record 2 is transaction 2 where 1 was due/),
    })
  })

  it('should delete the temporary files a crash left beside its snapshot and log, and keep what they replaced', async () => {
    const { balance } = await runTransfers(2, { retainedTransactions: RETAIN_ALL })
    // A process that died mid-write (another pid each run) left these.
    const stale = [`.${STATE_FILE}.999991.0a0b0c0d0e0f.tmp`, `.${TRANSACTION_LOG_FILE}.999992.0c0d0e0f0a0b.tmp`]
    // One of a process that still runs (this one's parent) may be being written: kept.
    const live = `.${STATE_FILE}.${process.ppid}.0e0f0a0b0c0d.tmp`
    for (const name of [...stale, live]) await writeFile(join(chainDir, name), 'half a file')
    const transport = await createLiteSvmTransport({ dataDir: chainDir })
    expect(await transport.getBalance(bob.address)).toBe(balance)
    await transport.close()
    expect((await readdir(chainDir)).filter((name) => name.endsWith('.tmp'))).toEqual([live])
  })
})
