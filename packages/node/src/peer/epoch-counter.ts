import type { Datastore } from '../datastore.js'

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

  /** The counter as the datastore last saved it (from 0 on a fresh one). */
  static async open(datastore: Datastore): Promise<EpochCounter> {
    const last = await datastore.get<number>('settlement', 'epoch')
    return new EpochCounter(datastore, typeof last === 'number' && Number.isSafeInteger(last) ? last : 0)
  }

  /** The next epoch's number, fixed now. */
  take(): number {
    return ++this.#last
  }

  /** Persists the numbers taken so far, so a restart never hands one out twice. */
  async save(): Promise<void> {
    await this.#datastore.put('settlement', 'epoch', this.#last)
  }
}
