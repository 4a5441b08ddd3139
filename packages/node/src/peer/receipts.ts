import { peerIdFromString } from '@libp2p/peer-id'
import {
  type AbortOptions,
  type Clock,
  type Identity,
  type Inbound,
  type MessageBus,
  type Receipt,
  SerialQueue,
  systemClock,
  throwIfAborted,
  verifySignature,
} from '@tessera/core'
import { LedgerError, parseReceipt, receiptSigningBytes, signReceipt, verifyReceipt } from '@tessera/ledger'
import type { AcceptedTask } from '@tessera/scheduler'
import type { Logger } from 'pino'
import { z } from 'zod'
import type { Datastore, DatastoreWrite } from '../datastore.js'
import { NodeError } from '../errors.js'
import {
  ACCEPT_RETRY_FIRST_MS,
  ACCEPT_RETRY_MAX_MS,
  type AcceptedRecord,
  acceptedDone,
  acceptedRecordOf,
  journalAccepted,
  journaledAccepts,
} from './accept-journal.js'
import { errorFields } from './error-fields.js'
import type { ChunkRuns } from './restored-commitment.js'

/** How often unsigned receipts are looked at, and how long a receipt waits before it is first offered again. */
export const RECEIPT_RETRY_MS = 2_000
/**
 * The longest a receipt waits between offers: each unanswered offer doubles its wait up to this, so a worker gone
 * for good costs one message an hour, not one every 2 s forever. A worker back after a long absence is paid at the
 * next offer, at most this late. The receipt itself stays on disk (`pending/`) until countersigned: dropping it would
 * cost the worker its payment.
 */
export const RECEIPT_RETRY_MAX_MS = 60 * 60 * 1000
/**
 * How long a receipt is offered before it goes dormant: it stays on disk, but is offered again only once its worker
 * is heard from (any message it sends), so a creator does not dial workers gone for good, nor hold their receipts in
 * memory, for ever. The worker is still paid when it comes back.
 */
export const RECEIPT_DORMANT_AFTER_MS = 7 * 24 * 60 * 60 * 1000

/**
 * How long a worker keeps the record of a result no receipt has paid for (`leases/<task>`) past the time it holds
 * the result's output (`worker.outputRetentionHours`). A creator signs a receipt only once it has fetched the output,
 * so while the worker still holds it, and then offers it for {@link RECEIPT_DORMANT_AFTER_MS} (and again whenever the
 * worker is heard from). The record is what that receipt is checked against: a receipt that comes after it is gone is
 * refused and the task goes unpaid, while a record costs a few hundred bytes. So this is generous, four times the
 * offers' week: a worker back from weeks away is still paid, and one whose creators never pay (gone, or rejected the
 * task) does not keep their records for good.
 */
export const UNPAID_LEASE_GRACE_MS = 4 * RECEIPT_DORMANT_AFTER_MS
/** How often records of results never paid are looked for while the peer runs. */
export const LEASE_SWEEP_MS = 60 * 60 * 1000

/** Where the index of result records by commit time starts in `leases` (no task id, hex job id first, spells it). */
const BY_TIME = 'by-time/'

/**
 * The key (namespace `leases`) of task `taskId`'s entry in the index of result records by commit time: time first
 * (zero-padded, so keys sort by time), so a sweep reads the records that are due and stops, not every record.
 */
function byTimeKey(at: number, taskId: string): string {
  return `${BY_TIME}${String(at).padStart(16, '0')}/${taskId}`
}

/** The parts of a {@link byTimeKey}, or undefined when `key` is not one. */
function parseByTimeKey(key: string): { at: number; taskId: string } | undefined {
  const rest = key.slice(BY_TIME.length)
  const slash = rest.indexOf('/')
  const at = Number(rest.slice(0, slash))
  if (!key.startsWith(BY_TIME) || slash < 0 || !Number.isSafeInteger(at)) return undefined
  return { at, taskId: rest.slice(slash + 1) }
}

/** The `meta` key set once every result record on disk has its entry in the index by commit time. */
const LEASES_INDEXED = 'leases-indexed'

/** The key (namespace `receipts`) of when a pending receipt was first offered: its dormancy counts from there. */
function offeredKey(taskId: string): string {
  return `offered/${taskId}`
}

/** The key (namespace `receipts`) marking a dormant receipt, by worker: hearing from one is one prefix read. */
function dormantKey(worker: string, taskId: string): string {
  return `dormant/${worker}/${taskId}`
}

/** A stored first-offer time, checked. */
function parseOffered(value: unknown): { at: number } {
  const at = (value as { at?: unknown } | undefined)?.at
  if (!Number.isSafeInteger(at)) throw new TypeError('an offer time is { at: integer }')
  return { at: at as number }
}

/** What a worker remembers of a result it sent, to check the receipt a creator asks it to sign. */
export interface Committed {
  jobId: string
  creator: string
  root: Uint8Array
  /** The least the receipt may pay, token units: the lowest price bid on the job times the task's benchmark-hours. */
  minAmount: bigint
  /** CID of the task's output, held until the receipt is countersigned (absent in records of older versions). */
  output?: string
  /**
   * How the output splits into its chunks, its tolerance class and when it was committed (ms): with the held
   * output, what a restarted worker needs to answer challenges (`restoreCommitment`; absent in records of older
   * versions).
   */
  chunkRuns?: ChunkRuns
  tolerance?: string
  at?: number
}

/**
 * The key (namespace `receipts`) marking a co-signed receipt of ours its settlement has not closed over: a restart
 * reads these, not every receipt ever co-signed. Written with the receipt; removed with the record of the settlement
 * that pays it (`Settlement`), in one batch each.
 */
export function unsettledKey(taskId: string): string {
  return `unsettled/${taskId}`
}

/**
 * The `meta` key of a worker's running total of the receipts it countersigned ({@link Earnings}), written in the
 * batch that keeps each; an older data directory's is summed from its receipts once.
 */
const EARNED = 'worker-earned'

/** What a worker has been receipted for: tasks whose receipts it countersigned, and their gross amount. */
export interface Earnings {
  tasks: number
  /** Token units, before the settlement's fee. */
  amount: bigint
}

/** A stored {@link Earnings}, checked; its amount a bigint again (DAG-CBOR gives a small one back as a number). */
function parseEarnings(value: unknown): Earnings {
  const { tasks, amount } = (value ?? {}) as { tasks?: unknown; amount?: unknown }
  if (!Number.isSafeInteger(tasks) || (typeof amount !== 'bigint' && !Number.isSafeInteger(amount))) {
    throw new TypeError('earnings are { tasks: integer, amount: integer }')
  }
  return { tasks: tasks as number, amount: BigInt(amount as number | bigint) }
}

/** The `meta` key set once every co-signed receipt on disk has its {@link unsettledKey} (data dirs of older versions). */
const UNSETTLED_INDEXED = 'receipts-unsettled-indexed'

/** Runs of chunk sizes a record holds at most: a bound on what is read back, above any task's chunk count. */
const MAX_CHUNK_RUNS = 65_536
/** Longest tolerance class label kept (labels are short: `psnr:rgba32f`). */
const MAX_TOLERANCE_LABEL = 64

/** A stored {@link Committed}, checked; its amount a bigint again. */
const committedSchema = z.strictObject({
  jobId: z.string(),
  creator: z.string(),
  root: z.instanceof(Uint8Array),
  minAmount: z.union([z.bigint(), z.number().int().nonnegative()]).transform((v) => BigInt(v)),
  output: z.string().optional(),
  chunkRuns: z
    .array(z.tuple([z.number().int().nonnegative(), z.number().int().positive()]))
    .max(MAX_CHUNK_RUNS)
    .optional(),
  tolerance: z.string().max(MAX_TOLERANCE_LABEL).optional(),
  at: z.number().int().nonnegative().optional(),
})

/** Reads a stored {@link Committed} (the datastore's parser for the `leases` namespace). */
function parseCommitted(value: unknown): Committed {
  return committedSchema.parse(value)
}

/** What a {@link ReceiptExchange} needs from its peer. */
export interface ReceiptExchangeComponents {
  bus: MessageBus
  identity: Identity
  datastore: Datastore
  logger: Logger
  /** Our payment address (what workers expect receipts to pay). */
  payee: string
  /** A worker's payment address, from its capacity record. */
  payeeOf: (worker: string) => string | undefined
  /** The settlement epoch a job's receipts belong to. */
  epochOf: (jobId: string) => number | Promise<number>
  /** A receipt both sides signed: the creator settles it. */
  onCosigned: (receipt: Receipt) => void
  /**
   * Worker side: we countersigned a receipt for one of our tasks, so the task is paid for and its output need not
   * be kept (to answer challenges, or for the creator to fetch) any longer. Called once per receipt, with what we
   * remembered of the result it pays for.
   */
  onCountersigned?: (receipt: Receipt, committed: Committed) => void
  /** When receipts are due to be offered again, and how old a record of a result is. @default systemClock */
  clock?: Clock
  /**
   * Worker side: how long a task's output is held while its creator has not paid (`worker.outputRetentionHours`);
   * the record of a result never paid goes {@link UNPAID_LEASE_GRACE_MS} after that.
   * @default 24 hours (the configuration's default)
   */
  outputRetentionMs?: number
}

/** The configuration's default `worker.outputRetentionHours`, in ms. */
const DEFAULT_OUTPUT_RETENTION_MS = 24 * 60 * 60 * 1000

/** A receipt we signed that its worker has not countersigned yet, and when to offer it again. */
interface Awaiting {
  receipt: Receipt
  /** When it was first offered: past {@link RECEIPT_DORMANT_AFTER_MS} it goes dormant. */
  since: number
  /** The wait before the next offer after this one; doubles each time, up to {@link RECEIPT_RETRY_MAX_MS}. */
  waitMs: number
  dueAt: number
}

/** An accepted task whose receipt could not be signed and kept yet (tried again, see {@link ACCEPT_RETRY_MAX_MS}). */
interface Unsigned {
  record: AcceptedRecord
  /** Written with each try at journaling it again (see {@link ReceiptExchange.accepted}'s `alongside`). */
  alongside: readonly DatastoreWrite[]
  /** Failed tries so far. */
  attempts: number
  dueAt: number
  /** A try is under way: the next round of retries leaves it alone. */
  trying: boolean
}

/**
 * A receipt we refuse, as a coded error naming the task. The ledger's receipt codes, which say what is wrong with a
 * receipt whoever checks it.
 */
function refused(
  code: 'LEDGER__INVALID_RECEIPT' | 'LEDGER__INVALID_RECEIPT_SIGNATURE',
  message: string,
  receipt: Receipt,
  context: Record<string, unknown> = {},
): LedgerError {
  return new LedgerError(code, message, { taskId: receipt.taskId, jobId: receipt.jobId, ...context })
}

/** True when the receipt carries a valid signature by the creator it names. */
function creatorSigned(receipt: Receipt): boolean {
  if (receipt.creatorSig === undefined) return false
  try {
    const key = peerIdFromString(receipt.creator).publicKey?.raw
    return key !== undefined && verifySignature(key, receiptSigningBytes(receipt), receipt.creatorSig)
  } catch {
    return false
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((v, i) => v === b[i])
}

/**
 * Receipts signed by both sides (DESIGN.md, "Settle"). The creator signs a receipt for each accepted task and
 * sends it to the worker; the worker checks that it names a result it committed to, pays its own address and at
 * least the price it bid, countersigns and sends it back; the creator keeps the co-signed receipt (persisted
 * before it is settled, so a restart loses none) and hands it to settlement. Both sides are idempotent: a repeated
 * receipt changes nothing.
 */
export class ReceiptExchange {
  readonly #c: ReceiptExchangeComponents
  readonly #unsubscribe: () => void
  /** Receipts we signed that their worker has not countersigned yet, by task id: offered again until it does. */
  readonly #awaiting = new Map<string, Awaiting>()
  /** Workers with dormant receipts: a message from one offers them again. */
  readonly #dormantWorkers = new Set<string>()
  /** First-offer times of the pending receipts {@link stored} read, for {@link offer} to go on from. */
  readonly #restoredSince = new Map<string, number>()
  /** Accepted tasks whose receipts failed to be signed and kept, by task id: tried again, a bounded number of times. */
  readonly #unsigned = new Map<string, Unsigned>()
  /** Tries at signing under way: {@link stop} waits for them, so none writes to a closed datastore. */
  readonly #signing = new Set<Promise<void>>()
  /** {@link stop} was called: no try at signing begins, and none that ends offers its receipt. */
  #stopped = false
  readonly #clock: Clock
  readonly #retry: ReturnType<typeof setInterval>
  /** Countersignatures one at a time: each reads and adds to the running total of earnings. */
  readonly #countersigning = new SerialQueue()
  /**
   * A creator's receipt changes one at a time (a countersignature kept, a receipt gone dormant, a worker's woken):
   * each reads what the others write, so a countersignature racing a wake can neither be offered again nor leave
   * keys behind.
   */
  readonly #receiving = new SerialQueue()
  /**
   * A worker's records of results change one at a time (one written, forgotten, swept for its age, or deleted with
   * its countersignature): a sweep never deletes a record written again after it read it, nor writes back one a
   * countersignature deleted. Taken inside `#countersigning`, never the other way round.
   */
  readonly #leases = new SerialQueue()
  #leaseSweep: ReturnType<typeof setInterval> | undefined
  /** The index by commit time covers every result record on disk (see {@link #indexLeases}). */
  #leasesIndexed = false
  /** The sweep under way, if any: {@link stop} waits for it, so it never writes to a closed datastore. */
  #sweeping: Promise<unknown> = Promise.resolve()
  /** Aborted by {@link stop}: a sweep under way (the first of an older data directory reads every record) ends. */
  readonly #sweepLifetime = new AbortController()

  constructor(components: ReceiptExchangeComponents) {
    this.#c = components
    this.#clock = components.clock ?? systemClock
    // A worker that crashed after its task was accepted countersigns once it is back (same data directory).
    this.#retry = setInterval(() => {
      this.#offerDue()
      this.#signDue()
    }, RECEIPT_RETRY_MS)
    this.#retry.unref()
    this.#unsubscribe = components.bus.onMessage((inbound) => {
      if (this.#dormantWorkers.has(inbound.from)) {
        this.#wake(inbound.from).catch((e: unknown) =>
          components.logger.error({ ...errorFields(e), worker: inbound.from }, 'receipt:wake-failed'),
        )
      }
      if (inbound.message.type === 'receipt') {
        const { taskId } = inbound.message.body
        this.#onReceipt(inbound, inbound.message.body).catch((e: unknown) =>
          components.logger.warn({ ...errorFields(e), from: inbound.from, taskId }, 'receipt:rejected'),
        )
      }
    })
  }

  /** Worker side: what this node has countersigned receipts for, from a running total (summed once if absent). */
  async earnings(options: AbortOptions = {}): Promise<Earnings> {
    return this.#countersigning.run(() => this.#earned(), options)
  }

  /**
   * The running total; summed from the receipts on disk (and kept) when there is none or it cannot be read, so a
   * damaged total never stands in the way of a countersignature.
   */
  async #earned(): Promise<Earnings> {
    const onCorrupt = (key: string, error: NodeError) =>
      this.#c.logger.error({ ...errorFields(error), ns: 'receipts', key }, 'record:skipped')
    try {
      const stored = await this.#c.datastore.get('meta', EARNED, parseEarnings)
      if (stored !== undefined) return stored
    } catch (e) {
      this.#c.logger.error({ ...errorFields(e), ns: 'meta', key: EARNED }, 'record:skipped')
    }
    const self = this.#c.identity.peerId.toString()
    const earned: Earnings = { tasks: 0, amount: 0n }
    for await (const [key, receipt] of this.#c.datastore.entries('receipts', { onCorrupt, parse: parseReceipt })) {
      // Countersigned receipts of ours sit under their task id (`pending/` and `unsettled/` keys are a creator's).
      if (key !== receipt.taskId || receipt.worker !== self || receipt.workerSig === undefined) continue
      earned.tasks++
      earned.amount += receipt.amount
    }
    await this.#c.datastore.put('meta', EARNED, earned)
    return earned
  }

  /** Receipts waiting for their worker's countersignature (held in memory; all of them are on disk too). */
  get awaiting(): number {
    return this.#awaiting.size
  }

  /**
   * Stops offering receipts, listening for them, signing them again and sweeping records; resolves once a sweep and the
   * tries at signing under way are done.
   */
  async stop(): Promise<void> {
    clearInterval(this.#retry)
    clearInterval(this.#leaseSweep)
    this.#leaseSweep = undefined
    this.#unsubscribe()
    this.#sweepLifetime.abort()
    this.#stopped = true
    await Promise.all([this.#sweeping, ...this.#signing])
  }

  /** Worker side: deletes records of results never paid now (see {@link pruneLeases}) and every {@link LEASE_SWEEP_MS}. */
  sweepLeases(): void {
    if (this.#leaseSweep !== undefined) return
    const sweep = () => {
      const signal = this.#sweepLifetime.signal
      this.#sweeping = this.pruneLeases({ signal }).catch((e: unknown) => {
        if (!signal.aborted) this.#c.logger.error(errorFields(e), 'leases:sweep-failed')
      })
    }
    sweep()
    this.#leaseSweep = setInterval(sweep, LEASE_SWEEP_MS)
    this.#leaseSweep.unref()
  }

  /**
   * Worker side: deletes the records of results committed more than the output retention and
   * {@link UNPAID_LEASE_GRACE_MS} ago, whose receipts never came; resolves to how many. It reads the index by commit
   * time up to then, not every record. A record of an older version (no commit time) counts from the first sweep,
   * which writes that time into it as it indexes the data directory; one that cannot be read is logged then and left
   * on disk for an operator.
   */
  async pruneLeases(options: AbortOptions = {}): Promise<number> {
    const retentionMs = (this.#c.outputRetentionMs ?? DEFAULT_OUTPUT_RETENTION_MS) + UNPAID_LEASE_GRACE_MS
    const skip = (key: string, error: unknown) =>
      this.#c.logger.error({ ...errorFields(error), ns: 'leases', key }, 'record:skipped')
    // In the records' queue, as every change to them: a record written again since it was indexed is not swept.
    return this.#leases.run(async () => {
      await this.#indexLeases(options)
      const dueBy = this.#clock.now() - retentionMs
      const writes: DatastoreWrite[] = []
      let pruned = 0
      for await (const [key] of this.#c.datastore.entries('leases', { ...options, prefix: BY_TIME, onCorrupt: skip })) {
        const entry = parseByTimeKey(key)
        if (entry === undefined) {
          skip(key, new TypeError('not a key of the index by commit time'))
          continue
        }
        if (entry.at > dueBy) break
        writes.push({ type: 'del', ns: 'leases', key })
        let committed: Committed | undefined
        try {
          committed = await this.#c.datastore.get('leases', entry.taskId, parseCommitted)
        } catch (e) {
          skip(entry.taskId, e)
          continue
        }
        // Gone, or committed again at another time (which has its own entry): only this entry goes.
        if (committed?.at === entry.at) {
          writes.push({ type: 'del', ns: 'leases', key: entry.taskId })
          pruned++
        }
      }
      if (writes.length > 0) await this.#c.datastore.batch(writes, options)
      if (pruned > 0) this.#c.logger.info({ records: pruned }, 'leases:pruned')
      return pruned
    }, options)
  }

  /**
   * Gives every result record its entry in the index by commit time, once per data directory: records written before
   * the index existed would otherwise never be swept. A record of an older version, which has no commit time, counts
   * from now. Runs in the records' queue. Aborted, it writes nothing: the next sweep indexes from the start.
   */
  async #indexLeases(options: AbortOptions): Promise<void> {
    if (this.#leasesIndexed) return
    if ((await this.#c.datastore.get('meta', LEASES_INDEXED, undefined, options)) === undefined) {
      const now = this.#clock.now()
      const writes: DatastoreWrite[] = []
      // The index's own entries (of records committed since this start) are not records.
      const onCorrupt = (key: string, error: NodeError) => {
        if (key.startsWith(BY_TIME)) return
        this.#c.logger.error({ ...errorFields(error), ns: 'leases', key }, 'record:skipped')
      }
      for await (const [taskId, committed] of this.#c.datastore.entries('leases', {
        ...options,
        onCorrupt,
        parse: parseCommitted,
      })) {
        if (committed.at === undefined) {
          writes.push({ type: 'put', ns: 'leases', key: taskId, value: { ...committed, at: now } })
        }
        writes.push({ type: 'put', ns: 'leases', key: byTimeKey(committed.at ?? now, taskId), value: {} })
      }
      await this.#c.datastore.batch([...writes, { type: 'put', ns: 'meta', key: LEASES_INDEXED, value: 1 }], options)
    }
    this.#leasesIndexed = true
  }

  /**
   * Creator side, after a restart: the co-signed receipts on disk no settlement has closed over yet (to settle), and
   * those still waiting for their worker's countersignature (to {@link offer} again). It reads only those, so a
   * restart costs what is outstanding, not every receipt ever co-signed; the first start of a data directory from
   * before that index reads every receipt once and marks ours (the settlements' resume then unmarks those already
   * paid). A pending copy whose co-signed receipt is already kept (a crash between the two writes of an older
   * version) is done with. A record that cannot be read is logged (`record:skipped`) and left on disk for an operator;
   * the others are returned.
   */
  async stored(): Promise<{ cosigned: Receipt[]; pending: Receipt[] }> {
    const { datastore } = this.#c
    const self = this.#c.identity.peerId.toString()
    const onCorrupt = (key: string, error: NodeError) =>
      this.#c.logger.error({ ...errorFields(error), ns: 'receipts', key }, 'record:skipped')
    // Tasks accepted before the stop whose receipts were never kept (the stop came first, or signing failed): signed
    // now, so the scan of pending receipts below offers them with the rest.
    const onCorruptAccept = (key: string, error: NodeError) =>
      this.#c.logger.error({ ...errorFields(error), ns: 'accepts', key }, 'record:skipped')
    for (const record of await journaledAccepts(datastore, onCorruptAccept)) {
      await this.#signUnlessKept(record).catch((e: unknown) => this.#signLater(record, e))
    }
    const cosigned = new Map<string, Receipt>()
    if ((await datastore.get('meta', UNSETTLED_INDEXED)) === undefined) {
      // One that cannot be read is marked too (it may be ours): logged at every start until an operator repairs it.
      const unreadable: string[] = []
      const onUnreadable = (key: string, error: NodeError) => {
        onCorrupt(key, error)
        // Only a key a co-signed receipt could sit under: not the offers' bookkeeping.
        if (!['pending/', 'offered/', 'dormant/', unsettledKey('')].some((p) => key.startsWith(p))) unreadable.push(key)
      }
      for await (const [key, receipt] of datastore.entries('receipts', {
        onCorrupt: onUnreadable,
        parse: parseReceipt,
      })) {
        // Co-signed receipts sit under their task id; `pending/` and `unsettled/` keys are not those.
        if (key === receipt.taskId && receipt.creator === self && receipt.workerSig !== undefined) {
          cosigned.set(receipt.taskId, receipt)
        }
      }
      await datastore.batch([
        ...[...cosigned.keys(), ...unreadable].map((taskId) => ({
          type: 'put' as const,
          ns: 'receipts' as const,
          key: unsettledKey(taskId),
          value: {},
        })),
        { type: 'put', ns: 'meta', key: UNSETTLED_INDEXED, value: 1 },
      ])
    } else {
      for await (const [key] of datastore.entries('receipts', { prefix: unsettledKey(''), onCorrupt })) {
        const taskId = key.slice(unsettledKey('').length)
        try {
          const receipt = await datastore.get('receipts', taskId, parseReceipt)
          if (receipt !== undefined) cosigned.set(taskId, receipt)
          else this.#c.logger.error({ ns: 'receipts', key, taskId }, 'receipt:missing')
        } catch (e) {
          onCorrupt(taskId, e as NodeError)
        }
      }
    }
    // Dormant receipts stay on disk, out of memory, until their worker is heard from (see RECEIPT_DORMANT_AFTER_MS).
    const dormant = new Set<string>()
    for await (const [key] of datastore.entries('receipts', { prefix: 'dormant/', onCorrupt })) {
      // `dormant/<worker>/<task id>`: a peer id has no slash, a task id has several.
      const slash = key.indexOf('/', 'dormant/'.length)
      const [worker, taskId] = [key.slice('dormant/'.length, slash), key.slice(slash + 1)]
      this.#dormantWorkers.add(worker)
      dormant.add(taskId)
    }
    const waiting: Receipt[] = []
    const now = this.#clock.now()
    const untimed: DatastoreWrite[] = []
    for await (const [, receipt] of datastore.entries('receipts', {
      prefix: 'pending/',
      onCorrupt,
      parse: parseReceipt,
    })) {
      if (receipt.creator !== self || dormant.has(receipt.taskId)) continue
      let cosignedCopy: unknown
      try {
        cosignedCopy = await datastore.get('receipts', receipt.taskId)
      } catch (e) {
        // A co-signed copy is there but unreadable: not offered again (its countersignature would be refused).
        onCorrupt(receipt.taskId, e as NodeError)
        continue
      }
      if (cosignedCopy !== undefined) {
        await datastore.batch([
          { type: 'del', ns: 'receipts', key: `pending/${receipt.taskId}` },
          { type: 'del', ns: 'receipts', key: offeredKey(receipt.taskId) },
        ])
        continue
      }
      // Offered since then; a receipt an older version wrote counts from this start, written so it counts once.
      const offered = await datastore.get('receipts', offeredKey(receipt.taskId), parseOffered).catch(() => undefined)
      if (offered === undefined) {
        untimed.push({ type: 'put', ns: 'receipts', key: offeredKey(receipt.taskId), value: { at: now } })
      }
      this.#restoredSince.set(receipt.taskId, offered?.at ?? now)
      waiting.push(receipt)
    }
    if (untimed.length > 0) await datastore.batch(untimed)
    return { cosigned: [...cosigned.values()], pending: waiting }
  }

  /** Creator side: offers receipts we signed to their workers now, and again until each countersigns. */
  offer(receipts: readonly Receipt[]): void {
    for (const receipt of receipts) {
      const since = this.#restoredSince.get(receipt.taskId)
      this.#restoredSince.delete(receipt.taskId)
      this.#await(receipt, since)
      this.#send(receipt)
    }
  }

  /** Waits for a receipt's countersignature, offering it again from {@link RECEIPT_RETRY_MS} from now. */
  #await(receipt: Receipt, since = this.#clock.now()): void {
    this.#awaiting.set(receipt.taskId, {
      receipt,
      since,
      waitMs: RECEIPT_RETRY_MS,
      dueAt: this.#clock.now() + RECEIPT_RETRY_MS,
    })
  }

  /** Offers again each receipt whose wait is over, and doubles its next wait; lets go of those offered too long. */
  #offerDue(): void {
    const now = this.#clock.now()
    for (const awaiting of this.#awaiting.values()) {
      if (now - awaiting.since >= RECEIPT_DORMANT_AFTER_MS) {
        this.#sleep(awaiting.receipt).catch((e: unknown) =>
          this.#c.logger.error({ ...errorFields(e), taskId: awaiting.receipt.taskId }, 'receipt:sleep-failed'),
        )
        continue
      }
      if (awaiting.dueAt > now) continue
      awaiting.waitMs = Math.min(awaiting.waitMs * 2, RECEIPT_RETRY_MAX_MS)
      awaiting.dueAt = now + awaiting.waitMs
      this.#send(awaiting.receipt)
    }
  }

  /**
   * Lets a receipt offered for {@link RECEIPT_DORMANT_AFTER_MS} go dormant: marked on disk by its worker, out of
   * memory, offered again once the worker is heard from.
   */
  async #sleep(receipt: Receipt): Promise<void> {
    // Out of the offers at once: the next round of offers must not sleep it twice.
    this.#awaiting.delete(receipt.taskId)
    await this.#receiving.run(async () => {
      // Countersigned while it waited in the queue: nothing to mark.
      if ((await this.#c.datastore.get('receipts', `pending/${receipt.taskId}`)) === undefined) return
      await this.#c.datastore.put('receipts', dormantKey(receipt.worker, receipt.taskId), {})
      this.#dormantWorkers.add(receipt.worker)
      this.#c.logger.warn({ taskId: receipt.taskId, worker: receipt.worker }, 'receipt:dormant')
    })
  }

  /** A worker with dormant receipts is back: offers them again, each for another {@link RECEIPT_DORMANT_AFTER_MS}. */
  async #wake(worker: string): Promise<void> {
    this.#dormantWorkers.delete(worker)
    await this.#receiving.run(() => this.#wakeNow(worker))
  }

  async #wakeNow(worker: string): Promise<void> {
    const prefix = dormantKey(worker, '')
    const onCorrupt = (key: string, error: NodeError) =>
      this.#c.logger.error({ ...errorFields(error), ns: 'receipts', key }, 'record:skipped')
    const taskIds: string[] = []
    for await (const [key] of this.#c.datastore.entries('receipts', { prefix, onCorrupt })) {
      taskIds.push(key.slice(prefix.length))
    }
    const now = this.#clock.now()
    for (const taskId of taskIds) {
      let receipt: Receipt | undefined
      try {
        receipt = await this.#c.datastore.get('receipts', `pending/${taskId}`, parseReceipt)
      } catch (e) {
        // One record that cannot be read must not keep the worker's other receipts dormant: left for an operator.
        onCorrupt(`pending/${taskId}`, e as NodeError)
        continue
      }
      await this.#c.datastore.batch([
        { type: 'del', ns: 'receipts', key: dormantKey(worker, taskId) },
        ...(receipt === undefined
          ? []
          : [{ type: 'put' as const, ns: 'receipts' as const, key: offeredKey(taskId), value: { at: now } }]),
      ])
      if (receipt === undefined) continue
      this.#await(receipt, now)
      this.#send(receipt)
    }
    if (taskIds.length > 0) this.#c.logger.info({ worker, receipts: taskIds.length }, 'receipt:woken')
  }

  /** Sends a receipt we signed to its worker; one that does not arrive is offered again when due. */
  #send(receipt: Receipt): void {
    this.#c.bus.send(receipt.worker, { type: 'receipt', body: receipt }).catch(() => {})
  }

  /**
   * Worker side: remember a result we committed to, so its receipt can be checked after a restart too. The record
   * goes once the receipt is countersigned: the countersigned receipt answers the creator from then on.
   */
  async committed(taskId: string, committed: Committed): Promise<void> {
    await this.#leases.run(async () => {
      // Its commit time is what the sweep finds it by; one committed without (as older versions did) counts from now.
      const at = committed.at ?? this.#clock.now()
      const writes: DatastoreWrite[] = [
        { type: 'put', ns: 'leases', key: taskId, value: { ...committed, at } },
        { type: 'put', ns: 'leases', key: byTimeKey(at, taskId), value: {} },
      ]
      // Committed again at another time: the first time's index entry goes with it.
      const before = await this.#leaseRecord(taskId).catch(() => undefined)
      if (before?.at !== undefined && before.at !== at) {
        writes.push({ type: 'del', ns: 'leases', key: byTimeKey(before.at, taskId) })
      }
      await this.#c.datastore.batch(writes)
    })
  }

  /** Worker side: what we remembered of a result we committed to, until its receipt is countersigned. */
  async committedRecord(taskId: string, options: AbortOptions = {}): Promise<Committed | undefined> {
    throwIfAborted(options.signal)
    return this.#leaseRecord(taskId)
  }

  /** The record of task `taskId`'s result; undefined for a task id that names an index entry (from a peer). */
  async #leaseRecord(taskId: string): Promise<Committed | undefined> {
    if (taskId.startsWith(BY_TIME)) return undefined
    return this.#c.datastore.get('leases', taskId, parseCommitted)
  }

  /** The writes that delete task `taskId`'s result record `committed`, with its index entry. */
  #deleteLease(taskId: string, committed: Committed): DatastoreWrite[] {
    return [
      { type: 'del', ns: 'leases', key: taskId },
      ...(committed.at === undefined
        ? []
        : [{ type: 'del' as const, ns: 'leases' as const, key: byTimeKey(committed.at, taskId) }]),
    ]
  }

  /**
   * Worker side: forget a result we committed to that will never be paid (its task failed after all), if what is
   * remembered for the task is still that result (root `root`); resolves to whether it was forgotten.
   */
  async forget(taskId: string, root: Uint8Array): Promise<boolean> {
    return this.#leases.run(async () => {
      const committed = await this.#leaseRecord(taskId)
      if (committed === undefined || !sameBytes(committed.root, root)) return false
      await this.#c.datastore.batch(this.#deleteLease(taskId, committed))
      return true
    })
  }

  /**
   * Creator side: sign the receipt of an accepted task and ask its worker to countersign. It pays the address the
   * worker's signed Result names, else (a worker of an older version) its capacity record's. The task is journaled
   * first (`accepts/`), in a write issued before this call first awaits, and leaves the journal only in the batch that
   * keeps its signed receipt: a receipt that cannot be signed or kept now (the epoch not known yet, no payee in view,
   * the datastore failing) rejects this call and is tried again later ({@link ACCEPT_RETRY_MAX_MS}), and one a crash
   * cut short is signed at the next start ({@link stored}). Rejects too when the first offer is not delivered; the
   * receipt is on disk then, and offered again. `alongside` goes in the journal's batch: on disk exactly when the
   * task is (its job's record of the result).
   */
  async accepted(task: AcceptedTask, alongside: readonly DatastoreWrite[] = []): Promise<void> {
    const record = acceptedRecordOf(task)
    let receipt: Receipt
    try {
      await journalAccepted(this.#c.datastore, record, alongside)
      receipt = await this.#signAndKeep(record)
    } catch (e) {
      this.#signLater(record, e, alongside)
      throw e
    }
    this.#await(receipt)
    await this.#c.bus.send(task.worker, { type: 'receipt', body: receipt })
  }

  /**
   * {@link #signAndKeep} for a task journaled earlier (at a start, or tried again), unless a receipt for it is kept
   * already: then the journal entry is all that was left of it, and it goes (resolves to undefined).
   */
  async #signUnlessKept(record: AcceptedRecord): Promise<Receipt | undefined> {
    const { datastore } = this.#c
    if (
      (await datastore.get('receipts', `pending/${record.taskId}`)) !== undefined ||
      (await datastore.get('receipts', record.taskId)) !== undefined
    ) {
      await datastore.batch([acceptedDone(record.taskId)])
      return undefined
    }
    return this.#signAndKeep(record)
  }

  /**
   * Signs a journaled task's receipt and keeps it (`pending/`), taking the task out of the journal in the same
   * batch; resolves to the receipt to offer.
   */
  async #signAndKeep(record: AcceptedRecord): Promise<Receipt> {
    const { datastore } = this.#c
    const payee = record.payee ?? this.#c.payeeOf(record.worker)
    if (payee === undefined) {
      throw new NodeError(
        'NODE__PAYEE_NOT_FOUND',
        `worker ${record.worker} named no payee for task ${record.taskId} and no capacity record of it is in view`,
        { worker: record.worker, taskId: record.taskId },
      )
    }
    const receipt = signReceipt(
      {
        jobId: record.jobId,
        taskId: record.taskId,
        creator: this.#c.identity.peerId.toString(),
        worker: record.worker,
        payee,
        amount: record.amount,
        commitment: Uint8Array.from(record.root),
        epoch: await this.#c.epochOf(record.jobId),
      },
      this.#c.identity,
      'creator',
    )
    await datastore.batch([
      { type: 'put', ns: 'receipts', key: `pending/${record.taskId}`, value: receipt },
      { type: 'put', ns: 'receipts', key: offeredKey(record.taskId), value: { at: this.#clock.now() } },
      acceptedDone(record.taskId),
    ])
    return receipt
  }

  /**
   * A journaled task whose receipt could not be signed and kept: tried again after a pause doubling from
   * {@link ACCEPT_RETRY_FIRST_MS} up to {@link ACCEPT_RETRY_MAX_MS}, until it is kept or the exchange stops (the
   * journal entry, where its write went through, has the next start try again). Reaching the longest pause is logged
   * as an error, once.
   */
  #signLater(record: AcceptedRecord, error: unknown, alongside: readonly DatastoreWrite[] = []): void {
    const { taskId } = record
    const unsigned = this.#unsigned.get(taskId) ?? { record, alongside, attempts: 0, dueAt: 0, trying: false }
    unsigned.attempts++
    unsigned.trying = false
    const doubled = ACCEPT_RETRY_FIRST_MS * 2 ** (unsigned.attempts - 1)
    const retryInMs = Math.min(doubled, ACCEPT_RETRY_MAX_MS)
    unsigned.dueAt = this.#clock.now() + retryInMs
    this.#unsigned.set(taskId, unsigned)
    const fields = { ...errorFields(error), taskId, attempt: unsigned.attempts, retryInMs }
    // The first failure to reach the longest pause is an error (something is wrong for minutes); the rest only warn.
    if (doubled >= ACCEPT_RETRY_MAX_MS && doubled / 2 < ACCEPT_RETRY_MAX_MS) {
      this.#c.logger.error(fields, 'receipt:sign-failing')
    } else this.#c.logger.warn(fields, 'receipt:sign-failed')
  }

  /** Tries again each accepted task whose receipt is due to be signed, and offers the receipts kept. */
  #signDue(): void {
    const now = this.#clock.now()
    for (const unsigned of this.#unsigned.values()) {
      if (this.#stopped) return
      if (unsigned.trying || unsigned.dueAt > now) continue
      unsigned.trying = true
      const { record, alongside } = unsigned
      // Journaled again first: the try that failed may have been the journal's own write.
      const trying = journalAccepted(this.#c.datastore, record, alongside)
        .then(() => this.#signUnlessKept(record))
        .then(
          (receipt) => {
            this.#unsigned.delete(record.taskId)
            if (receipt === undefined || this.#stopped) return
            this.#await(receipt)
            this.#send(receipt)
          },
          (e: unknown) => {
            if (!this.#stopped) this.#signLater(record, e)
          },
        )
        .finally(() => this.#signing.delete(trying))
      this.#signing.add(trying)
    }
  }

  async #onReceipt(inbound: Inbound, receipt: Receipt): Promise<void> {
    const self = this.#c.identity.peerId.toString()
    if (receipt.worker === self && inbound.from === receipt.creator && receipt.workerSig === undefined) {
      return this.#countersign(receipt)
    }
    if (receipt.creator === self && inbound.from === receipt.worker && verifyReceipt(receipt)) {
      return this.#receiving.run(() => this.#keepCosigned(receipt))
    }
    throw refused('LEDGER__INVALID_RECEIPT', `unexpected receipt for ${receipt.taskId}`, receipt, {
      reason: 'unexpected',
      from: inbound.from,
    })
  }

  /** Creator side: keeps a countersigned receipt of ours, once, and lets go of everything that offered it. */
  async #keepCosigned(receipt: Receipt): Promise<void> {
    // Whatever offered it is done with: no more offers, no offer time, no dormant mark.
    const offering: DatastoreWrite[] = [
      { type: 'del', ns: 'receipts', key: `pending/${receipt.taskId}` },
      { type: 'del', ns: 'receipts', key: offeredKey(receipt.taskId) },
      { type: 'del', ns: 'receipts', key: dormantKey(receipt.worker, receipt.taskId) },
    ]
    // A countersignature we already hold (the worker answered a retry twice) changes nothing: paid once.
    if ((await this.#c.datastore.get('receipts', receipt.taskId, parseReceipt)) !== undefined) {
      this.#awaiting.delete(receipt.taskId)
      await this.#c.datastore.batch(offering)
      return
    }
    const pending = await this.#c.datastore.get('receipts', `pending/${receipt.taskId}`, parseReceipt)
    if (pending === undefined || !sameBytes(receiptSigningBytes(pending), receiptSigningBytes(receipt))) {
      throw refused(
        'LEDGER__INVALID_RECEIPT',
        `receipt for ${receipt.taskId} differs from the one we signed`,
        receipt,
        {
          reason: pending === undefined ? 'not-signed' : 'altered',
        },
      )
    }
    await this.#c.datastore.batch([
      { type: 'put', ns: 'receipts', key: receipt.taskId, value: receipt },
      { type: 'put', ns: 'receipts', key: unsettledKey(receipt.taskId), value: {} },
      ...offering,
    ])
    this.#awaiting.delete(receipt.taskId)
    this.#c.onCosigned(receipt)
  }

  async #countersign(receipt: Receipt): Promise<void> {
    // One at a time: two copies of one receipt arriving together must not both count. In the records' queue too, as
    // it reads and deletes the task's record: a sweep stamping that record must not write it back once it is paid.
    const signed = await this.#countersigning.run(() => this.#leases.run(() => this.#keepCountersigned(receipt)))
    await this.#c.bus.send(receipt.creator, { type: 'receipt', body: signed })
  }

  /**
   * Checks a receipt the creator signed and keeps it countersigned, adding it to the earnings; resolves to what to
   * send back (the copy signed before, for a receipt offered again).
   */
  async #keepCountersigned(receipt: Receipt): Promise<Receipt> {
    // The creator offers a receipt again until our countersignature reaches it: send the one we signed.
    const signedBefore = await this.#c.datastore.get('receipts', receipt.taskId, parseReceipt)
    if (
      signedBefore?.workerSig !== undefined &&
      sameBytes(receiptSigningBytes(signedBefore), receiptSigningBytes(receipt)) &&
      creatorSigned(receipt)
    ) {
      return signedBefore
    }
    if (!creatorSigned(receipt)) {
      throw refused(
        'LEDGER__INVALID_RECEIPT_SIGNATURE',
        `receipt for ${receipt.taskId} lacks a valid creator signature`,
        receipt,
        { creator: receipt.creator },
      )
    }
    const committed = await this.#leaseRecord(receipt.taskId)
    if (
      committed === undefined ||
      committed.jobId !== receipt.jobId ||
      committed.creator !== receipt.creator ||
      !sameBytes(committed.root, receipt.commitment)
    ) {
      throw refused('LEDGER__INVALID_RECEIPT', `receipt for ${receipt.taskId} names no result of ours`, receipt, {
        reason: 'unknown-result',
      })
    }
    if (receipt.payee !== this.#c.payee) {
      throw refused('LEDGER__INVALID_RECEIPT', `receipt for ${receipt.taskId} pays ${receipt.payee}, not us`, receipt, {
        reason: 'wrong-payee',
        payee: receipt.payee,
      })
    }
    // A co-signed receipt is the worker's whole claim on the escrow: one for less than the bid settles the task
    // for less, for good.
    if (receipt.amount < committed.minAmount) {
      throw refused(
        'LEDGER__INVALID_RECEIPT',
        `receipt for ${receipt.taskId} pays ${receipt.amount}, less than the ${committed.minAmount} bid`,
        receipt,
        { reason: 'underpaid', amount: receipt.amount.toString(), minAmount: committed.minAmount.toString() },
      )
    }
    const signed = signReceipt(receipt, this.#c.identity, 'worker')
    const earned = await this.#earned()
    await this.#c.datastore.batch([
      { type: 'put', ns: 'receipts', key: receipt.taskId, value: signed },
      ...this.#deleteLease(receipt.taskId, committed),
      {
        type: 'put',
        ns: 'meta',
        key: EARNED,
        value: { tasks: earned.tasks + 1, amount: earned.amount + signed.amount },
      },
    ])
    this.#c.onCountersigned?.(signed, committed)
    return signed
  }
}
