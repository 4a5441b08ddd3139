import { JOURNAL_COMPACT_MIN_RECORDS, MAX_JOURNAL_LINE_BYTES } from './constants.js'
import { DurableLog } from './durable-file.js'
import { LedgerError } from './errors.js'

/**
 * The idempotency journal: one line per step of every on-chain action, synced before the step counts.
 * `intent` is written BEFORE a transaction is submitted and holds everything needed to find it again (its
 * signature, the durable nonce it consumes, the signed bytes); `confirmed` and `failed` are written after.
 * On restart an intent without an outcome is reconciled against the chain, never blindly re-sent.
 */
export type JournalRecord =
  | {
      t: 'intent'
      key: string
      attempt: number
      /** Digest of what the action does (payees, amounts, memo), so one key cannot be reused for another action. */
      digest: string
      signature: string
      nonceAccount: string
      nonce: string
      /** Base64 signed wire transaction: re-sent byte for byte if it never landed. */
      wire: string
      /** Facts the action keeps, e.g. addresses of accounts it creates. */
      meta: Record<string, string>
    }
  | { t: 'confirmed'; key: string; attempt: number; signature: string }
  | { t: 'failed'; key: string; attempt: number; signature: string; code: string; retryable: boolean }

export type IntentRecord = Extract<JournalRecord, { t: 'intent' }>

/** The last record of each key. */
export class SettlementJournal {
  readonly #log: DurableLog<JournalRecord>
  readonly #latest = new Map<string, JournalRecord>()
  readonly #intents = new Map<string, IntentRecord>()
  /** Keys whose latest record is an intent, kept apart so that reconciling does not walk every key ever written. */
  readonly #pending = new Map<string, IntentRecord>()

  private constructor(log: DurableLog<JournalRecord>, records: JournalRecord[]) {
    this.#log = log
    for (const record of records) this.#apply(record)
  }

  /** Opens (or creates) the journal file; `LEDGER__JOURNAL_CORRUPT` when a line other than a torn last one is bad. */
  static async open(path: string): Promise<SettlementJournal> {
    const { log, records } = await DurableLog.open<JournalRecord>(path, {
      corruptCode: 'LEDGER__JOURNAL_CORRUPT',
      maxLineBytes: MAX_JOURNAL_LINE_BYTES,
    })
    for (const [index, record] of records.entries()) {
      if (!isJournalRecord(record)) {
        await log.close()
        throw new LedgerError('LEDGER__JOURNAL_CORRUPT', `${path} record ${index + 1} is not a journal record`, {
          path,
          index,
        })
      }
    }
    const compacted = compactJournal(records)
    if (compacted.changed >= compactionThreshold(records.length)) {
      try {
        await log.replace(compacted.records)
      } catch (e) {
        await log.close()
        throw e
      }
      return new SettlementJournal(log, compacted.records)
    }
    return new SettlementJournal(log, records)
  }

  get path(): string {
    return this.#log.path
  }

  /** The latest record for `key`. */
  get(key: string): JournalRecord | undefined {
    return this.#latest.get(key)
  }

  /** The intent of the latest attempt for `key` (it holds the digest and signed bytes). */
  intent(key: string): IntentRecord | undefined {
    return this.#intents.get(key)
  }

  /** Keys whose latest record is an intent: submitted (or about to be) with no known outcome. */
  pending(): IntentRecord[] {
    return [...this.#pending.values()]
  }

  /** Every key and its latest record. */
  entries(): IterableIterator<[string, JournalRecord]> {
    return this.#latest.entries()
  }

  async append(record: JournalRecord): Promise<void> {
    await this.#log.append(record)
    this.#apply(record)
  }

  close(): Promise<void> {
    return this.#log.close()
  }

  #apply(record: JournalRecord): void {
    this.#latest.set(record.key, record)
    if (record.t === 'intent') {
      this.#intents.set(record.key, record)
      this.#pending.set(record.key, record)
    } else {
      this.#pending.delete(record.key)
    }
  }
}

/**
 * What the journal must keep, in order: for each key its latest record and, when that is an outcome, the intent of
 * the same attempt (its digest guards the key against other content; its meta is returned on replay). Earlier
 * attempts go, and so do the signed bytes of an intent with an outcome: only an intent without one is ever re-sent.
 * Confirmed keys stay forever, since they are what stops an action from running twice.
 */
export function compactJournal(records: readonly JournalRecord[]): { records: JournalRecord[]; changed: number } {
  const latest = new Map<string, JournalRecord>()
  const intents = new Map<string, IntentRecord>()
  for (const record of records) {
    latest.set(record.key, record)
    if (record.t === 'intent') intents.set(record.key, record)
  }
  const kept: JournalRecord[] = []
  let changed = 0
  for (const record of records) {
    if (record === latest.get(record.key)) {
      kept.push(record)
    } else if (record === intents.get(record.key) && record.t === 'intent') {
      kept.push({ ...record, wire: '' })
      if (record.wire !== '') changed++
    } else {
      changed++
    }
  }
  return { records: kept, changed }
}

/**
 * Compacting rewrites the whole file, so it waits until a quarter of the records (and at least
 * {@link JOURNAL_COMPACT_MIN_RECORDS}) would be dropped or stripped: the file stays within a small factor of what
 * it must keep, and a restart rewrites it rarely.
 */
function compactionThreshold(records: number): number {
  return Math.max(JOURNAL_COMPACT_MIN_RECORDS, Math.ceil(records / 4))
}

function isJournalRecord(value: unknown): value is JournalRecord {
  if (value === null || typeof value !== 'object') return false
  const r = value as Record<string, unknown>
  const common = typeof r.key === 'string' && Number.isSafeInteger(r.attempt) && typeof r.signature === 'string'
  if (!common) return false
  switch (r.t) {
    case 'intent':
      return (
        typeof r.digest === 'string' &&
        typeof r.nonceAccount === 'string' &&
        typeof r.nonce === 'string' &&
        typeof r.wire === 'string' &&
        r.meta !== null &&
        typeof r.meta === 'object' &&
        Object.values(r.meta as object).every((v) => typeof v === 'string')
      )
    case 'confirmed':
      return true
    case 'failed':
      return typeof r.code === 'string' && typeof r.retryable === 'boolean'
    default:
      return false
  }
}
