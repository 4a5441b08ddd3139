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
      /**
       * The key's earlier attempts built on this same nonce (absent when it was read fresh): each was refused by a
       * node's word while its nonce stayed put, so each may still be on its way. A nonce runs one transaction, so at
       * most one of them all lands; once the nonce has moved, the one a node knows is the action's outcome.
       */
      rivals?: NonceRival[]
    }
  | { t: 'confirmed'; key: string; attempt: number; signature: string }
  | { t: 'failed'; key: string; attempt: number; signature: string; code: string; retryable: boolean }
  /**
   * Every action whose key starts with `key` (a prefix ending in `/`) is over for good: its owner keeps the outcome
   * elsewhere and will never run it again. Its records are dropped at the next compaction; this line stays, so an
   * action under it is refused rather than run again.
   */
  | { t: 'retired'; key: string }
  /**
   * The retired action `key` was confirmed on `nonce` of `nonceAccount`, and an action still in play was tried on that
   * nonce: its attempt can never have run (a nonce runs one transaction). Only the retired action's records could
   * say so, and they leave at compaction, which writes this line in their stead for as long as it is needed.
   */
  | { t: 'spent'; key: string; nonceAccount: string; nonce: string }

export type IntentRecord = Extract<JournalRecord, { t: 'intent' }>

/** An earlier attempt of an action built on the same nonce as its latest (see {@link IntentRecord}'s `rivals`). */
export interface NonceRival {
  attempt: number
  signature: string
  meta: Record<string, string>
}

/** A record of one action's step (neither a retirement nor a spent nonce). */
export type StepRecord = Exclude<JournalRecord, { t: 'retired' } | { t: 'spent' }>

/** The last record of each key. */
export class SettlementJournal {
  readonly #log: DurableLog<JournalRecord>
  readonly #latest = new Map<string, StepRecord>()
  readonly #intents = new Map<string, IntentRecord>()
  /** Keys whose latest record is an intent, kept apart so that reconciling does not walk every key ever written. */
  readonly #pending = new Map<string, IntentRecord>()
  /** Retired key prefixes (see {@link retire}). */
  readonly #retired = new Set<string>()
  /**
   * Nonces that retired actions were confirmed on (see {@link nonceSpent}), by {@link nonceId}: at most one per action
   * in play after each compaction, since only a nonce that such an action was tried on is kept.
   */
  readonly #spentNonces = new Map<string, SpentRecord>()
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

  /**
   * Whether no action was ever journaled here (none on record, none retired): no key has been used for one yet, so
   * one missing may still be made anew.
   */
  get empty(): boolean {
    return this.#latest.size === 0 && this.#retired.size === 0
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
   * runs one transaction, so no other built on it ever can. A retired action counts too: it was confirmed all the
   * same, and once its records are compacted away a `spent` line keeps the answer for the actions still in play.
   */
  nonceSpent(nonceAccount: string, nonce: string, key: string): boolean {
    const spent = this.#spentNonces.get(nonceId(nonceAccount, nonce))
    if (spent !== undefined && spent.key !== key) return true
    for (const [other, intent] of this.#intents) {
      if (other === key || intent.nonceAccount !== nonceAccount || intent.nonce !== nonce) continue
      if (this.#latest.get(other)?.t === 'confirmed') return true
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
    const inPlay = noncesInPlay(this.#latest, this.#intents, this.#retired)
    for (const [key, latest] of this.#latest) {
      if (!this.retired(key)) continue
      const spent = spentNonceOf(latest, this.#intents.get(key))
      if (spent !== undefined && inPlay.has(nonceId(spent.nonceAccount, spent.nonce))) this.#apply(spent)
      this.#latest.delete(key)
      this.#intents.delete(key)
    }
    for (const id of this.#spentNonces.keys()) if (!inPlay.has(id)) this.#spentNonces.delete(id)
    const records: JournalRecord[] = []
    for (const [key, latest] of this.#latest) {
      const intent = this.#intents.get(key)
      if (latest.t !== 'intent' && intent !== undefined) records.push({ ...intent, wire: '' })
      records.push(latest)
    }
    records.push(...this.#spentNonces.values())
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
    if (record.t === 'spent') {
      this.#spentNonces.set(nonceId(record.nonceAccount, record.nonce), record)
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
 * stops an action from running twice; a retired key's records go, and one line per retired prefix stays. So does
 * the nonce a retired action was confirmed on while an action in play (neither confirmed nor retired) was tried on
 * it: a `spent` line, one per such nonce, in place of the retired action's outcome (see
 * {@link SettlementJournal.nonceSpent}). It goes once no action in play names that nonce.
 */
export function compactJournal(records: readonly JournalRecord[]): { records: JournalRecord[]; changed: number } {
  const latest = new Map<string, StepRecord>()
  const intents = new Map<string, IntentRecord>()
  const retirements = new Map<string, JournalRecord>()
  for (const record of records) {
    if (record.t === 'spent') continue
    if (record.t === 'retired') {
      retirements.set(record.key, record)
      continue
    }
    latest.set(record.key, record)
    if (record.t === 'intent') intents.set(record.key, record)
  }
  const retired = new Set(retirements.keys())
  const inPlay = noncesInPlay(latest, intents, retired)
  const kept: JournalRecord[] = []
  let changed = 0
  const keptSpent = new Set<string>()
  /** Keeps `spent` unless no action in play needs it or it is kept already. */
  const keepSpent = (spent: SpentRecord): boolean => {
    const id = nonceId(spent.nonceAccount, spent.nonce)
    if (!inPlay.has(id) || keptSpent.has(id)) return false
    keptSpent.add(id)
    kept.push(spent)
    return true
  }
  for (const record of records) {
    if (record.t === 'retired') {
      if (record === retirements.get(record.key)) kept.push(record)
      else changed++
    } else if (record.t === 'spent') {
      if (!keepSpent(record)) changed++
    } else if (isUnder(retired, record.key)) {
      changed++
      const spent = record === latest.get(record.key) ? spentNonceOf(record, intents.get(record.key)) : undefined
      if (spent !== undefined) keepSpent(spent)
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

type SpentRecord = Extract<JournalRecord, { t: 'spent' }>

/** One string for a nonce of a nonce account, as a map key. */
function nonceId(nonceAccount: string, nonce: string): string {
  return JSON.stringify([nonceAccount, nonce])
}

/** The nonce an action whose latest record is `latest` was confirmed on, as a `spent` record; else undefined. */
function spentNonceOf(latest: StepRecord, intent: IntentRecord | undefined): SpentRecord | undefined {
  if (latest.t !== 'confirmed' || intent === undefined || intent.attempt !== latest.attempt) return undefined
  return { t: 'spent', key: latest.key, nonceAccount: intent.nonceAccount, nonce: intent.nonce }
}

/**
 * The nonces (by {@link nonceId}) of the latest attempts of the actions in play: neither confirmed nor retired, so
 * they may be looked up again, and whether another action was confirmed on their nonce may decide how.
 */
function noncesInPlay(
  latest: ReadonlyMap<string, StepRecord>,
  intents: ReadonlyMap<string, IntentRecord>,
  retired: ReadonlySet<string>,
): Set<string> {
  const ids = new Set<string>()
  for (const [key, record] of latest) {
    const intent = intents.get(key)
    if (record.t === 'confirmed' || intent === undefined || isUnder(retired, key)) continue
    ids.add(nonceId(intent.nonceAccount, intent.nonce))
  }
  return ids
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
  if (r.t === 'spent') {
    return typeof r.key === 'string' && typeof r.nonceAccount === 'string' && typeof r.nonce === 'string'
  }
  const common = typeof r.key === 'string' && Number.isSafeInteger(r.attempt) && typeof r.signature === 'string'
  if (!common) return false
  switch (r.t) {
    case 'intent':
      return (
        typeof r.digest === 'string' &&
        typeof r.nonceAccount === 'string' &&
        typeof r.nonce === 'string' &&
        typeof r.wire === 'string' &&
        isStringRecord(r.meta) &&
        (r.rivals === undefined || (Array.isArray(r.rivals) && r.rivals.every(isNonceRival)))
      )
    case 'confirmed':
      return true
    case 'failed':
      return typeof r.code === 'string' && typeof r.retryable === 'boolean'
    default:
      return false
  }
}

function isNonceRival(value: unknown): value is NonceRival {
  if (value === null || typeof value !== 'object') return false
  const r = value as Record<string, unknown>
  return Number.isSafeInteger(r.attempt) && typeof r.signature === 'string' && isStringRecord(r.meta)
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return value !== null && typeof value === 'object' && Object.values(value).every((v) => typeof v === 'string')
}
