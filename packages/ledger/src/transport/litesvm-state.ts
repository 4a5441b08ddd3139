import { join } from 'node:path'
import {
  decodeCanonical,
  encodeCanonical,
  readBoundedFile,
  removeTemporaries,
  replaceFile,
  sha256,
} from '@tessera/core'
import {
  MAX_JOURNAL_LINE_BYTES,
  MAX_LITESVM_KEPT_FAILURES,
  MAX_LITESVM_SNAPSHOT_BYTES,
  STATE_FILE,
  TRANSACTION_LOG_FILE,
} from '../constants.js'
import { DurableLog } from '../durable-file.js'
import { LedgerError } from '../errors.js'
import type { TransactionErrorJson } from './transport.js'

/**
 * LiteSVM's state on disk: a snapshot (LiteSVM's own serialisation of accounts, sysvars and signature history,
 * with a checksum and which transaction-log records it includes) written atomically, and a log of the transactions
 * it executed, so that recent ones can be read back and decoded after a restart.
 *
 * Every logged transaction has an absolute index, its position among all the transactions this chain ever logged,
 * which its record carries (`n`). The snapshot includes the records from index `first` up to, not including,
 * `transactions` (the number ever logged); the log holds a run of consecutive records that covers them, and
 * whatever it holds outside them is dropped on load. Indices, not line numbers, because compaction drops a prefix.
 *
 * Order on every transaction: execute in memory, append its record to the log (synced), then write the snapshot.
 * A crash before the snapshot leaves a record past the old snapshot's `transactions`; it is dropped on load,
 * exactly as the transaction's effects were lost with the process. So the snapshot alone says what happened.
 *
 * Order on compaction (dropping records older than the retention): first a snapshot with the new `first`, then
 * the log rewritten atomically without the older records. A crash between the two leaves records before `first`,
 * dropped on load as above. Never the other order: an old snapshot beside a log rewritten ahead of it would lack
 * records it includes, and would not hold what the transport changes before dropping them (see its
 * `#compact`), so such a pair is refused as corrupt.
 *
 * Before retention (snapshot version 1) nothing was ever dropped: the snapshot has no `first` (it is 0) and records
 * carry no `n` (a record's index is its line number). Such a directory loads as it is; the next snapshot written
 * is version 2 and the next compaction numbers every record.
 */

const SNAPSHOT_VERSION = 2
/** Written before retention: `first` is always 0 and absent. */
const SNAPSHOT_VERSION_UNPRUNED = 1

/** A transaction the embedded chain ran, as its log keeps it (so `getTransaction` works after a restart). */
export interface StoredTransaction {
  /** Its absolute index among all the transactions the chain logged. */
  n: number
  signature: string
  slot: string
  err: TransactionErrorJson | null
  /** Base64 wire transaction. */
  wire: string
}

/** A record as a log line holds it: one written before retention has no index. */
type LoggedTransaction = Omit<StoredTransaction, 'n'> & { n?: number }

/** The log records a snapshot includes, by absolute index: from `first` up to, not including, `transactions`. */
export interface IncludedRecords {
  first: number
  transactions: number
  /** Outcomes of failed transactions whose records were dropped, oldest first (absent: none). */
  failures?: KeptFailure[]
}

/** A failed transaction's outcome, kept after its record was dropped. */
export interface KeptFailure {
  signature: string
  slot: string
  err: TransactionErrorJson
}

interface Snapshot extends IncludedRecords {
  v: number
  checksum: Uint8Array
  svm: Uint8Array
}

/** The embedded chain's state as read from disk, and its transaction log, open for appending. */
export interface LoadedState {
  svm: Uint8Array | undefined
  /** The absolute index of `transactions[0]`. */
  first: number
  /** The records the snapshot includes, in order; the log now holds exactly these. */
  transactions: StoredTransaction[]
  /** Failed transactions' outcomes kept after their records were dropped, oldest first. */
  failures: KeptFailure[]
  log: DurableLog<StoredTransaction>
}

/** Reads the snapshot and the transaction log in `dir`, dropping log records the snapshot does not include. */
export async function loadLiteSvmState(dir: string): Promise<LoadedState> {
  const snapshotPath = join(dir, STATE_FILE)
  // A snapshot a crash cut short (one is written after every transaction) left its temporary file behind.
  await removeTemporaries(snapshotPath)
  let snapshot: Snapshot | undefined
  try {
    snapshot = parseSnapshot(await readSnapshot(snapshotPath), snapshotPath)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
  }
  const { first, transactions } = snapshot ?? { first: 0, transactions: 0 }
  const logPath = join(dir, TRANSACTION_LOG_FILE)
  const logOptions = { corruptCode: 'LEDGER__STATE_CORRUPT' as const, maxLineBytes: MAX_JOURNAL_LINE_BYTES }
  const { log, records } = await DurableLog.open<LoggedTransaction>(logPath, logOptions)
  try {
    const logged = numberRecords(records, logPath, dir)
    const logFirst = logged[0]?.n ?? first
    const logEnd = logFirst + logged.length
    if (logFirst > first || logEnd < transactions) {
      throw new LedgerError(
        'LEDGER__STATE_CORRUPT',
        `${logPath} holds transactions ${logFirst} to ${logEnd - 1} but the snapshot includes ${first} to ${transactions - 1}; restore both from a backup`,
        { dir, logFirst, logEnd, first, transactions },
      )
    }
    const kept = logged.slice(first - logFirst, transactions - logFirst)
    // Records outside the snapshot: rewrite the log without them, atomically (a crash halfway through a delete and
    // an append would leave fewer records than the snapshot includes).
    if (kept.length < logged.length) await log.replace(kept)
    return { svm: snapshot?.svm, first, transactions: kept, failures: snapshot?.failures ?? [], log }
  } catch (e) {
    await log.close()
    throw e
  }
}

/**
 * Checks each record and gives it its absolute index, refusing a gap or a repeat. Records without one were written
 * before retention, when nothing was dropped: they start the log at index 0 and come before any numbered record.
 */
function numberRecords(records: readonly unknown[], path: string, dir: string): StoredTransaction[] {
  const numbered: StoredTransaction[] = []
  let base = 0
  let seenNumbered = false
  for (const [line, record] of records.entries()) {
    // Checksummed lines can still hold what no version of this code wrote: refused here, not where a field is read.
    if (!isLoggedTransaction(record)) {
      throw new LedgerError(
        'LEDGER__STATE_CORRUPT',
        `${path} record ${line + 1} is not a transaction record; restore the log and snapshot from a backup`,
        { dir, record: line + 1 },
      )
    }
    if (line === 0) base = record.n ?? 0
    const expected = base + line
    const n = record.n ?? (seenNumbered ? undefined : expected)
    if (n !== expected) {
      throw new LedgerError(
        'LEDGER__STATE_CORRUPT',
        `${path} record ${line + 1} is transaction ${String(record.n)} where ${expected} was due; restore the log and snapshot from a backup`,
        { dir, record: line + 1, expected },
      )
    }
    seenNumbered ||= record.n !== undefined
    const { signature, slot, err, wire } = record
    numbered.push({ n, signature, slot, err, wire })
  }
  return numbered
}

/** Whether `value` has the shape of a {@link LoggedTransaction}. */
function isLoggedTransaction(value: unknown): value is LoggedTransaction {
  if (value === null || typeof value !== 'object') return false
  const { n, signature, slot, err, wire } = value as Record<string, unknown>
  return (
    (n === undefined || (typeof n === 'number' && Number.isSafeInteger(n) && n >= 0)) &&
    typeof signature === 'string' &&
    /^[1-9A-HJ-NP-Za-km-z]{64,88}$/.test(signature) &&
    typeof slot === 'string' &&
    /^\d{1,20}$/.test(slot) &&
    (err === null || typeof err === 'string' || (typeof err === 'object' && !Array.isArray(err))) &&
    typeof wire === 'string' &&
    /^[A-Za-z0-9+/]*={0,2}$/.test(wire)
  )
}

/** Writes a snapshot that includes the log records `included`, atomically. */
export async function saveLiteSvmSnapshot(dir: string, svm: Uint8Array, included: IncludedRecords): Promise<void> {
  const { first, transactions, failures } = included
  const snapshot: Snapshot = {
    v: SNAPSHOT_VERSION,
    first,
    transactions,
    ...(failures !== undefined && failures.length > 0 ? { failures } : {}),
    checksum: sha256(svm),
    svm,
  }
  await replaceFile(join(dir, STATE_FILE), encodeCanonical(snapshot))
}

/**
 * The snapshot's bytes: from a regular file only, read no further than {@link MAX_LITESVM_SNAPSHOT_BYTES} (a link to
 * /dev/zero never ends, a named pipe never answers), else `LEDGER__STATE_CORRUPT`. No such file is thrown as it is.
 */
function readSnapshot(path: string): Promise<Uint8Array> {
  return readBoundedFile(
    path,
    MAX_LITESVM_SNAPSHOT_BYTES,
    (why) =>
      new LedgerError('LEDGER__STATE_CORRUPT', `${path} cannot be read (${why}); restore it from a backup`, { path }),
  )
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
  const { v, transactions, checksum, svm, ...rest } = value as Partial<Snapshot>
  if (v !== SNAPSHOT_VERSION && v !== SNAPSHOT_VERSION_UNPRUNED) throw corrupt(`version ${String(v)}`)
  const first = v === SNAPSHOT_VERSION_UNPRUNED ? 0 : rest.first
  const isIndex = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0
  if (!isIndex(transactions) || !isIndex(first) || first > transactions) throw corrupt('bad transaction range')
  if (!(svm instanceof Uint8Array) || !(checksum instanceof Uint8Array)) throw corrupt('missing state')
  const actual = sha256(svm)
  if (actual.byteLength !== checksum.byteLength || actual.some((b, i) => b !== checksum[i])) throw corrupt('checksum')
  const failures = rest.failures ?? []
  if (!Array.isArray(failures) || failures.length > MAX_LITESVM_KEPT_FAILURES || !failures.every(isKeptFailure)) {
    throw corrupt('bad kept failures')
  }
  return { v, first, transactions, failures, checksum, svm }
}

/** Whether `value` has the shape of a {@link KeptFailure}. */
function isKeptFailure(value: unknown): value is KeptFailure {
  if (value === null || typeof value !== 'object') return false
  const { signature, slot, err } = value as Record<string, unknown>
  return isLoggedTransaction({ signature, slot, err, wire: '' }) && err !== null && Object.keys(value).length === 3
}
