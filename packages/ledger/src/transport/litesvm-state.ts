import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { decodeCanonical, encodeCanonical, sha256 } from '@tessera/core'
import { MAX_JOURNAL_LINE_BYTES, STATE_FILE, TRANSACTION_LOG_FILE } from '../constants.js'
import { DurableLog, writeFileAtomic } from '../durable-file.js'
import { LedgerError } from '../errors.js'
import type { TransactionErrorJson } from './transport.js'

/**
 * LiteSVM's state on disk: a snapshot (LiteSVM's own serialisation of accounts, sysvars and signature history,
 * with a checksum and the number of transaction-log records it includes) written atomically, and an append-only
 * log of the transactions it executed, so that they can be read back and decoded after a restart.
 *
 * Order on every transaction: execute in memory, append its record to the log (synced), then write the snapshot.
 * A crash before the snapshot leaves a log record that the old snapshot does not count; it is dropped on load,
 * exactly as the transaction's effects were lost with the process. So the snapshot alone says what happened.
 */

const SNAPSHOT_VERSION = 1

/** A transaction the embedded chain ran, as its log keeps it (so `getTransaction` works after a restart). */
export interface StoredTransaction {
  signature: string
  slot: string
  err: TransactionErrorJson | null
  /** Base64 wire transaction. */
  wire: string
}

interface Snapshot {
  v: number
  transactions: number
  checksum: Uint8Array
  svm: Uint8Array
}

/** The embedded chain's state as read from disk, and its transaction log, open for appending. */
export interface LoadedState {
  svm: Uint8Array | undefined
  transactions: StoredTransaction[]
  log: DurableLog<StoredTransaction>
}

/** Reads the snapshot and the transaction log in `dir`, dropping log records the snapshot does not include. */
export async function loadLiteSvmState(dir: string): Promise<LoadedState> {
  const snapshotPath = join(dir, STATE_FILE)
  let snapshot: Snapshot | undefined
  try {
    snapshot = parseSnapshot(await readFile(snapshotPath), snapshotPath)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
  }
  const logPath = join(dir, TRANSACTION_LOG_FILE)
  const logOptions = { corruptCode: 'LEDGER__STATE_CORRUPT' as const, maxLineBytes: MAX_JOURNAL_LINE_BYTES }
  const { log, records } = await DurableLog.open<StoredTransaction>(logPath, logOptions)
  // Checksummed lines can still hold what no version of this code wrote: refused here, not where a field is read.
  const malformed = records.findIndex((record) => !isStoredTransaction(record))
  if (malformed >= 0) {
    await log.close()
    throw new LedgerError(
      'LEDGER__STATE_CORRUPT',
      `${logPath} record ${malformed + 1} is not a transaction record; restore the log and snapshot from a backup`,
      { dir, record: malformed + 1 },
    )
  }
  const counted = snapshot?.transactions ?? 0
  if (records.length < counted) {
    await log.close()
    throw new LedgerError(
      'LEDGER__STATE_CORRUPT',
      `${logPath} has ${records.length} transactions but the snapshot counts ${counted}; restore both from a backup`,
      { dir, logged: records.length, counted },
    )
  }
  if (records.length > counted) {
    // Records of transactions whose effects never reached the snapshot: rewrite the log without them, atomically
    // (a crash halfway through a delete-and-append would leave fewer records than the snapshot counts).
    const kept = records.slice(0, counted)
    try {
      await log.replace(kept)
    } catch (e) {
      await log.close()
      throw e
    }
    return { svm: snapshot?.svm, transactions: kept, log }
  }
  return { svm: snapshot?.svm, transactions: records, log }
}

/** Whether `value` has the shape of a {@link StoredTransaction}. */
function isStoredTransaction(value: unknown): value is StoredTransaction {
  if (value === null || typeof value !== 'object') return false
  const { signature, slot, err, wire } = value as Record<string, unknown>
  return (
    typeof signature === 'string' &&
    /^[1-9A-HJ-NP-Za-km-z]{64,88}$/.test(signature) &&
    typeof slot === 'string' &&
    /^\d{1,20}$/.test(slot) &&
    (err === null || typeof err === 'string' || (typeof err === 'object' && !Array.isArray(err))) &&
    typeof wire === 'string' &&
    /^[A-Za-z0-9+/]*={0,2}$/.test(wire)
  )
}

/** Writes a snapshot atomically. */
export async function saveLiteSvmSnapshot(dir: string, svm: Uint8Array, transactions: number): Promise<void> {
  const snapshot: Snapshot = { v: SNAPSHOT_VERSION, transactions, checksum: sha256(svm), svm }
  await writeFileAtomic(join(dir, STATE_FILE), encodeCanonical(snapshot))
}

function parseSnapshot(bytes: Uint8Array, path: string): Snapshot {
  const corrupt = (why: string) =>
    new LedgerError('LEDGER__STATE_CORRUPT', `${path} is not a LiteSVM snapshot (${why}); restore it from a backup`, {
      path,
    })
  let value: unknown
  try {
    value = decodeCanonical(bytes, 'LiteSVM snapshot')
  } catch {
    throw corrupt('not DAG-CBOR')
  }
  if (value === null || typeof value !== 'object') throw corrupt('not a map')
  const { v, transactions, checksum, svm } = value as Partial<Snapshot>
  if (v !== SNAPSHOT_VERSION) throw corrupt(`version ${String(v)}`)
  if (typeof transactions !== 'number' || !Number.isSafeInteger(transactions) || transactions < 0) {
    throw corrupt('bad transaction count')
  }
  if (!(svm instanceof Uint8Array) || !(checksum instanceof Uint8Array)) throw corrupt('missing state')
  const actual = sha256(svm)
  if (actual.byteLength !== checksum.byteLength || actual.some((b, i) => b !== checksum[i])) throw corrupt('checksum')
  return { v, transactions, checksum, svm }
}
