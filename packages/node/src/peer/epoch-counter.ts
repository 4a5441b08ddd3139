import type { Datastore } from '../datastore.js'

/** The key (namespace `settlement`) of the last epoch number handed out. */
const EPOCH_KEY = 'epoch'

/**
 * The counter as stored: a whole number of epochs. Anything else is refused (the datastore reports it as
 * `NODE__DATASTORE_CORRUPT`), never read as 0: counting again from 0 would hand a new job an epoch an earlier one was
 * funded under, whose vault and settlement the ledger has already journaled.
 */
function parseLastEpoch(value: unknown): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value
  throw new Error(
    `the settlement epoch counter is not a count of epochs (${typeof value}); restore the datastore from a backup`,
  )
}

/**
 * Settlement epochs, each number handed out once across restarts: a job's epoch, and a later one for receipts that
 * came back after their job's epoch closed. A number is taken synchronously (a job's receipts name its epoch from
 * the moment it is ordered) and saved before anything is funded under it.
 */
export class EpochCounter {
  readonly #datastore: Datastore
  #last: number

  private constructor(datastore: Datastore, last: number) {
    this.#datastore = datastore
    this.#last = last
  }

  /**
   * The counter as the datastore last saved it (from 0 on a fresh one); rejects with `NODE__DATASTORE_CORRUPT` when
   * its record is malformed.
   */
  static async open(datastore: Datastore): Promise<EpochCounter> {
    const last = await datastore.get('settlement', EPOCH_KEY, parseLastEpoch)
    return new EpochCounter(datastore, last ?? 0)
  }

  /** The next epoch's number, fixed now. */
  take(): number {
    return ++this.#last
  }

  /** Persists the numbers taken so far, so a restart never hands one out twice. */
  async save(): Promise<void> {
    await this.#datastore.put('settlement', EPOCH_KEY, this.#last)
  }
}
