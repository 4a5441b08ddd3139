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
  verifySignature,
} from '@tessera/core'
import { LedgerError, parseReceipt, receiptSigningBytes, signReceipt, verifyReceipt } from '@tessera/ledger'
import type { AcceptedTask } from '@tessera/scheduler'
import type { Logger } from 'pino'
import { z } from 'zod'
import type { Datastore } from '../datastore.js'
import type { NodeError } from '../errors.js'
import { errorFields } from './error-fields.js'

/** How often unsigned receipts are looked at, and how long a receipt waits before it is first offered again. */
export const RECEIPT_RETRY_MS = 2_000
/**
 * The longest a receipt waits between offers: each unanswered offer doubles its wait up to this, so a worker gone
 * for good costs one message an hour, not one every 2 s forever. A worker back after a long absence is paid at the
 * next offer, at most this late. The receipt itself stays on disk (`pending/`) until countersigned: dropping it would
 * cost the worker its payment.
 */
export const RECEIPT_RETRY_MAX_MS = 60 * 60 * 1000

/** What a worker remembers of a result it sent, to check the receipt a creator asks it to sign. */
export interface Committed {
  jobId: string
  creator: string
  root: Uint8Array
  /** The least the receipt may pay, token units: the lowest price bid on the job times the task's benchmark-hours. */
  minAmount: bigint
  /** CID of the task's output, held until the receipt is countersigned (absent in records of older versions). */
  output?: string
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

/** A stored {@link Committed}, checked; its amount a bigint again. */
const committedSchema = z.strictObject({
  jobId: z.string(),
  creator: z.string(),
  root: z.instanceof(Uint8Array),
  minAmount: z.union([z.bigint(), z.number().int().nonnegative()]).transform((v) => BigInt(v)),
  output: z.string().optional(),
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
  /** When receipts are due to be offered again. @default systemClock */
  clock?: Clock
}

/** A receipt we signed that its worker has not countersigned yet, and when to offer it again. */
interface Awaiting {
  receipt: Receipt
  /** The wait before the next offer after this one; doubles each time, up to {@link RECEIPT_RETRY_MAX_MS}. */
  waitMs: number
  dueAt: number
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
  readonly #clock: Clock
  readonly #retry: ReturnType<typeof setInterval>
  /** Countersignatures one at a time: each reads and adds to the running total of earnings. */
  readonly #countersigning = new SerialQueue()

  constructor(components: ReceiptExchangeComponents) {
    this.#c = components
    this.#clock = components.clock ?? systemClock
    // A worker that crashed after its task was accepted countersigns once it is back (same data directory).
    this.#retry = setInterval(() => this.#offerDue(), RECEIPT_RETRY_MS)
    this.#retry.unref()
    this.#unsubscribe = components.bus.onMessage((inbound) => {
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

  /** Stops offering receipts and listening for them. */
  stop(): void {
    clearInterval(this.#retry)
    this.#unsubscribe()
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
    const cosigned = new Map<string, Receipt>()
    if ((await datastore.get('meta', UNSETTLED_INDEXED)) === undefined) {
      // One that cannot be read is marked too (it may be ours): logged at every start until an operator repairs it.
      const unreadable: string[] = []
      const onUnreadable = (key: string, error: NodeError) => {
        onCorrupt(key, error)
        if (!key.startsWith('pending/') && !key.startsWith(unsettledKey(''))) unreadable.push(key)
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
    const waiting: Receipt[] = []
    for await (const [, receipt] of datastore.entries('receipts', {
      prefix: 'pending/',
      onCorrupt,
      parse: parseReceipt,
    })) {
      if (receipt.creator !== self) continue
      let cosignedCopy: unknown
      try {
        cosignedCopy = await datastore.get('receipts', receipt.taskId)
      } catch (e) {
        // A co-signed copy is there but unreadable: not offered again (its countersignature would be refused).
        onCorrupt(receipt.taskId, e as NodeError)
        continue
      }
      if (cosignedCopy !== undefined) await datastore.delete('receipts', `pending/${receipt.taskId}`)
      else waiting.push(receipt)
    }
    return { cosigned: [...cosigned.values()], pending: waiting }
  }

  /** Creator side: offers receipts we signed to their workers now, and again until each countersigns. */
  offer(receipts: readonly Receipt[]): void {
    for (const receipt of receipts) {
      this.#await(receipt)
      this.#send(receipt)
    }
  }

  /** Waits for a receipt's countersignature, offering it again from {@link RECEIPT_RETRY_MS} from now. */
  #await(receipt: Receipt): void {
    this.#awaiting.set(receipt.taskId, {
      receipt,
      waitMs: RECEIPT_RETRY_MS,
      dueAt: this.#clock.now() + RECEIPT_RETRY_MS,
    })
  }

  /** Offers again each receipt whose wait is over, and doubles its next wait. */
  #offerDue(): void {
    const now = this.#clock.now()
    for (const awaiting of this.#awaiting.values()) {
      if (awaiting.dueAt > now) continue
      awaiting.waitMs = Math.min(awaiting.waitMs * 2, RECEIPT_RETRY_MAX_MS)
      awaiting.dueAt = now + awaiting.waitMs
      this.#send(awaiting.receipt)
    }
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
    await this.#c.datastore.put('leases', taskId, committed)
  }

  /**
   * Worker side: forget a result we committed to that will never be paid (its task failed after all), if what is
   * remembered for the task is still that result (root `root`); resolves to whether it was forgotten.
   */
  async forget(taskId: string, root: Uint8Array): Promise<boolean> {
    const committed = await this.#c.datastore.get('leases', taskId, parseCommitted)
    if (committed === undefined || !sameBytes(committed.root, root)) return false
    await this.#c.datastore.delete('leases', taskId)
    return true
  }

  /** Creator side: sign the receipt of an accepted task and ask its worker to countersign. */
  async accepted(task: AcceptedTask): Promise<void> {
    const payee = this.#c.payeeOf(task.worker)
    if (payee === undefined) {
      this.#c.logger.warn({ worker: task.worker, taskId: task.taskId }, 'receipt:unpayable')
      return
    }
    const receipt = signReceipt(
      {
        jobId: task.jobId,
        taskId: task.taskId,
        creator: this.#c.identity.peerId.toString(),
        worker: task.worker,
        payee,
        amount: task.amount,
        commitment: task.result.root,
        epoch: await this.#c.epochOf(task.jobId),
      },
      this.#c.identity,
      'creator',
    )
    await this.#c.datastore.put('receipts', `pending/${task.taskId}`, receipt)
    this.#await(receipt)
    await this.#c.bus.send(task.worker, { type: 'receipt', body: receipt })
  }

  async #onReceipt(inbound: Inbound, receipt: Receipt): Promise<void> {
    const self = this.#c.identity.peerId.toString()
    if (receipt.worker === self && inbound.from === receipt.creator && receipt.workerSig === undefined) {
      return this.#countersign(receipt)
    }
    if (receipt.creator === self && inbound.from === receipt.worker && verifyReceipt(receipt)) {
      // A countersignature we already hold (the worker answered a retry twice) changes nothing: paid once.
      if ((await this.#c.datastore.get('receipts', receipt.taskId, parseReceipt)) !== undefined) return
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
        { type: 'del', ns: 'receipts', key: `pending/${receipt.taskId}` },
      ])
      this.#awaiting.delete(receipt.taskId)
      this.#c.onCosigned(receipt)
      return
    }
    throw refused('LEDGER__INVALID_RECEIPT', `unexpected receipt for ${receipt.taskId}`, receipt, {
      reason: 'unexpected',
      from: inbound.from,
    })
  }

  async #countersign(receipt: Receipt): Promise<void> {
    // One at a time: two copies of one receipt arriving together must not both count.
    const signed = await this.#countersigning.run(() => this.#keepCountersigned(receipt))
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
    const committed = await this.#c.datastore.get('leases', receipt.taskId, parseCommitted)
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
      { type: 'del', ns: 'leases', key: receipt.taskId },
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
