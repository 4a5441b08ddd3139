import { peerIdFromString } from '@libp2p/peer-id'
import { type Identity, type Inbound, type MessageBus, type Receipt, verifySignature } from '@tessera/core'
import { receiptSigningBytes, signReceipt, verifyReceipt } from '@tessera/ledger'
import type { AcceptedTask } from '@tessera/scheduler'
import type { Logger } from 'pino'
import type { Datastore } from '../datastore.js'

/** How often unsigned receipts are offered again to their workers. */
const RECEIPT_RETRY_MS = 2_000

/** What a worker remembers of a result it sent, to check the receipt a creator asks it to sign. */
export interface Committed {
  jobId: string
  creator: string
  root: Uint8Array
  /** The least the receipt may pay, token units: the lowest price bid on the job times the task's benchmark-hours. */
  minAmount: bigint
}

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
  epochOf: (jobId: string) => number
  /** A receipt both sides signed: the creator settles it. */
  onCosigned: (receipt: Receipt) => void
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
  /** Receipts we signed that their worker has not countersigned yet, by task id: re-sent until it does. */
  readonly #awaiting = new Map<string, Receipt>()
  readonly #retry: ReturnType<typeof setInterval>

  constructor(components: ReceiptExchangeComponents) {
    this.#c = components
    // A worker that crashed after its task was accepted countersigns once it is back (same data directory).
    this.#retry = setInterval(() => {
      for (const receipt of this.#awaiting.values()) {
        components.bus.send(receipt.worker, { type: 'receipt', body: receipt }).catch(() => {})
      }
    }, RECEIPT_RETRY_MS)
    this.#retry.unref()
    this.#unsubscribe = components.bus.onMessage((inbound) => {
      if (inbound.message.type === 'receipt') {
        this.#onReceipt(inbound, inbound.message.body).catch((e: unknown) =>
          components.logger.warn({ err: String(e), from: inbound.from }, 'receipt:rejected'),
        )
      }
    })
  }

  stop(): void {
    clearInterval(this.#retry)
    this.#unsubscribe()
  }

  /**
   * Creator side, after a restart: the co-signed receipts on disk (to settle), and those still waiting for their
   * worker's countersignature (to {@link offer} again). A pending copy whose co-signed receipt is already kept (a
   * crash between the two writes) is done with.
   */
  async stored(): Promise<{ cosigned: Receipt[]; pending: Receipt[] }> {
    const self = this.#c.identity.peerId.toString()
    const cosigned = new Map<string, Receipt>()
    const pending: Receipt[] = []
    for await (const [key, receipt] of this.#c.datastore.entries<Receipt>('receipts')) {
      if (receipt.creator !== self) continue
      if (key.startsWith('pending/')) pending.push(receipt)
      else if (receipt.workerSig !== undefined) cosigned.set(receipt.taskId, receipt)
    }
    const waiting: Receipt[] = []
    for (const receipt of pending) {
      if (cosigned.has(receipt.taskId)) await this.#c.datastore.delete('receipts', `pending/${receipt.taskId}`)
      else waiting.push(receipt)
    }
    return { cosigned: [...cosigned.values()], pending: waiting }
  }

  /** Creator side: offers receipts we signed to their workers now, and again until each countersigns. */
  offer(receipts: readonly Receipt[]): void {
    for (const receipt of receipts) {
      this.#awaiting.set(receipt.taskId, receipt)
      this.#c.bus.send(receipt.worker, { type: 'receipt', body: receipt }).catch(() => {})
    }
  }

  /** Worker side: remember a result we committed to, so its receipt can be checked after a restart too. */
  async committed(taskId: string, committed: Committed): Promise<void> {
    await this.#c.datastore.put('leases', taskId, committed)
  }

  /** Creator side: sign the receipt of an accepted task and ask its worker to countersign. */
  async accepted(task: AcceptedTask): Promise<void> {
    const payee = this.#c.payeeOf(task.worker)
    if (payee === undefined) {
      this.#c.logger.warn({ worker: task.worker, taskId: task.taskId }, 'receipt:no-payee')
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
        epoch: this.#c.epochOf(task.jobId),
      },
      this.#c.identity,
      'creator',
    )
    await this.#c.datastore.put('receipts', `pending/${task.taskId}`, receipt)
    this.#awaiting.set(task.taskId, receipt)
    await this.#c.bus.send(task.worker, { type: 'receipt', body: receipt })
  }

  async #onReceipt(inbound: Inbound, receipt: Receipt): Promise<void> {
    const self = this.#c.identity.peerId.toString()
    if (receipt.worker === self && inbound.from === receipt.creator && receipt.workerSig === undefined) {
      return this.#countersign(receipt)
    }
    if (receipt.creator === self && inbound.from === receipt.worker && verifyReceipt(receipt)) {
      // A countersignature we already hold (the worker answered a retry twice) changes nothing: paid once.
      if ((await this.#c.datastore.get('receipts', receipt.taskId)) !== undefined) return
      const pending = await this.#c.datastore.get<Receipt>('receipts', `pending/${receipt.taskId}`)
      if (pending === undefined || !sameBytes(receiptSigningBytes(pending), receiptSigningBytes(receipt))) {
        throw new Error(`receipt for ${receipt.taskId} differs from the one we signed`)
      }
      await this.#c.datastore.put('receipts', receipt.taskId, receipt)
      await this.#c.datastore.delete('receipts', `pending/${receipt.taskId}`)
      this.#awaiting.delete(receipt.taskId)
      this.#c.onCosigned(receipt)
      return
    }
    throw new Error(`unexpected receipt for ${receipt.taskId}`)
  }

  async #countersign(receipt: Receipt): Promise<void> {
    if (!creatorSigned(receipt)) throw new Error(`receipt for ${receipt.taskId} lacks a valid creator signature`)
    const committed = await this.#c.datastore.get<Committed>('leases', receipt.taskId)
    if (
      committed === undefined ||
      committed.jobId !== receipt.jobId ||
      committed.creator !== receipt.creator ||
      !sameBytes(committed.root, receipt.commitment)
    ) {
      throw new Error(`receipt for ${receipt.taskId} names no result of ours`)
    }
    if (receipt.payee !== this.#c.payee) throw new Error(`receipt for ${receipt.taskId} pays ${receipt.payee}, not us`)
    // A co-signed receipt is the worker's whole claim on the escrow: one for less than the bid settles the task
    // for less, for good.
    if (receipt.amount < committed.minAmount) {
      throw new Error(`receipt for ${receipt.taskId} pays ${receipt.amount}, less than the ${committed.minAmount} bid`)
    }
    const signed = signReceipt(receipt, this.#c.identity, 'worker')
    await this.#c.datastore.put('receipts', receipt.taskId, signed)
    await this.#c.bus.send(receipt.creator, { type: 'receipt', body: signed })
  }
}
