import { SerialQueue } from '@tessera/core'
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
  /**
   * Every action whose key starts with `key` (a prefix ending in `/`) is over for good: its owner keeps the outcome
   * elsewhere and will never run it again. Its records are dropped at the next compaction; this line stays, so an
   * action under it is refused rather than run again.
   */
  | { t: 'retired'; key: string }

export type IntentRecord = Extract<JournalRecord, { t: 'intent' }>

/** A record of one action's step (everything but a retirement). */
export type StepRecord = Exclude<JournalRecord, { t: 'retired' }>

/** The last record of each key. */
export class SettlementJournal {
  readonly #log: DurableLog<JournalRecord>
  readonly #latest = new Map<string, StepRecord>()
  readonly #intents = new Map<string, IntentRecord>()
  /** Keys whose latest record is an intent, kept apart so that reconciling does not walk every key ever written. */
  readonly #pending = new Map<string, IntentRecord>()
  /** Retired key prefixes (see {@link retire}). */
  readonly #retired = new Set<string>()
  /** Appends, retirements and compactions, one at a time: a compaction writes out what the maps hold. */
  readonly #queue = new SerialQueue()
  /** Lines in the file now, and right after it was last compacted: it is compacted again once it doubles. */
  #lines: number
  #compactedLines: number
  #retiredSinceCompaction = false

  private constructor(log: DurableLog<JournalRecord>, records: JournalRecord[]) {
    this.#log = log
    for (const record of records) this.#apply(record)
    this.#lines = this.#compactedLines = records.length
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

  /** The latest record for `key`; undefined for a key never written or retired. */
  get(key: string): StepRecord | undefined {
    return this.retired(key) ? undefined : this.#latest.get(key)
  }

  /** Whether `key` lies under a retired prefix: its action is over for good and must not run again. */
  retired(key: string): boolean {
    return isUnder(this.#retired, key)
  }

  /**
   * Retires every action whose key starts with one of `prefixes` (each ending in `/`): their owner holds their
   * outcome durably elsewhere (a settlement recorded as paid) and never runs them again. Their records leave the file
   * at the next compaction, so the journal stays the size of what is still in play; a retirement line stays, and an
   * action under it is refused (`LEDGER__ACTION_RETIRED`). An action still pending cannot be retired.
   */
  retire(prefixes: readonly string[]): Promise<void> {
    for (const prefix of prefixes) {
      if (!prefix.endsWith('/') || prefix.length < 2) {
        return Promise.reject(
          new LedgerError('LEDGER__INVALID_INPUT', `a retired prefix ends in '/', not ${JSON.stringify(prefix)}`, {
            prefix,
          }),
        )
      }
    }
    return this.#queue.run(async () => {
      for (const intent of this.#pending.values()) {
        const prefix = prefixes.find((p) => intent.key.startsWith(p))
        if (prefix !== undefined) {
          throw new LedgerError('LEDGER__INVALID_INPUT', `${intent.key} is still pending; it cannot be retired`, {
            key: intent.key,
            prefix,
          })
        }
      }
      for (const prefix of new Set(prefixes)) {
        if (this.#retired.has(prefix)) continue
        await this.#write({ t: 'retired', key: prefix })
      }
      await this.#compactIfDoubled()
    })
  }

  /** The intent of the latest attempt for `key` (it holds the digest and signed bytes). */
  intent(key: string): IntentRecord | undefined {
    return this.#intents.get(key)
  }

  /**
   * Whether an action other than `key` was confirmed on a transaction built on `nonce` of `nonceAccount`: a nonce
   * runs one transaction, so no other built on it ever can.
   */
  nonceSpent(nonceAccount: string, nonce: string, key: string): boolean {
    for (const [other, intent] of this.#intents) {
      if (other === key || intent.nonceAccount !== nonceAccount || intent.nonce !== nonce) continue
      if (this.get(other)?.t === 'confirmed') return true
    }
    return false
  }

  /** Keys whose latest record is an intent: submitted (or about to be) with no known outcome. None is retired. */
  pending(): IntentRecord[] {
    return [...this.#pending.values()].filter((intent) => !this.retired(intent.key))
  }

  /** Every key not retired, and its latest record. */
  *entries(): IterableIterator<[string, StepRecord]> {
    for (const entry of this.#latest) if (!this.retired(entry[0])) yield entry
  }

  /** Appends one step of an action, synced before it resolves. A retired key is refused. */
  append(record: StepRecord): Promise<void> {
    return this.#queue.run(async () => {
      if (this.retired(record.key)) {
        throw new LedgerError('LEDGER__ACTION_RETIRED', `action ${record.key} is retired`, { key: record.key })
      }
      await this.#write(record)
      await this.#compactIfDoubled()
    })
  }

  async close(): Promise<void> {
    await this.#queue.idle()
    await this.#log.close()
  }

  async #write(record: JournalRecord): Promise<void> {
    await this.#log.append(record)
    this.#apply(record)
    this.#lines++
  }

  /**
   * Rewrites the file from what the maps hold once it has doubled since it was last compacted (and holds at least
   * {@link JOURNAL_COMPACT_MIN_RECORDS} lines) and something was retired since: a node that runs for months without a
   * restart keeps it bounded too, at a cost of one rewrite per doubling. Runs in the queue, so no append is in flight.
   */
  async #compactIfDoubled(): Promise<void> {
    if (!this.#retiredSinceCompaction) return
    if (this.#lines < Math.max(JOURNAL_COMPACT_MIN_RECORDS, 2 * this.#compactedLines)) return
    for (const key of this.#latest.keys()) {
      if (!this.retired(key)) continue
      this.#latest.delete(key)
      this.#intents.delete(key)
    }
    const records: JournalRecord[] = []
    for (const [key, latest] of this.#latest) {
      const intent = this.#intents.get(key)
      if (latest.t !== 'intent' && intent !== undefined) records.push({ ...intent, wire: '' })
      records.push(latest)
    }
    for (const prefix of this.#retired) records.push({ t: 'retired', key: prefix })
    try {
      await this.#log.replace(records)
    } catch {
      // Only the file's size is at stake (the record that led here is on disk already): try again once it has
      // doubled from here. A disk that refuses writes refuses the next append too, which reports it.
      this.#compactedLines = this.#lines
      return
    }
    this.#lines = this.#compactedLines = records.length
    this.#retiredSinceCompaction = false
  }

  #apply(record: JournalRecord): void {
    if (record.t === 'retired') {
      this.#retired.add(record.key)
      this.#retiredSinceCompaction = true
      return
    }
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
 * Confirmed keys stay until their owner retires them (see {@link SettlementJournal.retire}), since they are what
 * stops an action from running twice; a retired key's records go, and one line per retired prefix stays.
 */
export function compactJournal(records: readonly JournalRecord[]): { records: JournalRecord[]; changed: number } {
  const latest = new Map<string, JournalRecord>()
  const intents = new Map<string, IntentRecord>()
  const retired = new Set<string>()
  for (const record of records) {
    if (record.t === 'retired') retired.add(record.key)
    latest.set(record.key, record)
    if (record.t === 'intent') intents.set(record.key, record)
  }
  const kept: JournalRecord[] = []
  let changed = 0
  for (const record of records) {
    if (record.t === 'retired') {
      if (record === latest.get(record.key)) kept.push(record)
      else changed++
    } else if (isUnder(retired, record.key)) {
      changed++
    } else if (record === latest.get(record.key)) {
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

/** Whether `key` starts with one of `prefixes` (each ending in `/`), looked up once per slash of the key. */
function isUnder(prefixes: ReadonlySet<string>, key: string): boolean {
  if (prefixes.size === 0) return false
  for (let slash = key.indexOf('/'); slash >= 0; slash = key.indexOf('/', slash + 1)) {
    if (prefixes.has(key.slice(0, slash + 1))) return true
  }
  return false
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
  if (r.t === 'retired') return typeof r.key === 'string' && r.key.endsWith('/')
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
