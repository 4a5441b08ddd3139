import { BurnMintModel } from '../economics/burn-mint.js'
import { COL, type MetricsRecorder, type Role, type RoleStats } from '../metrics/recorder.js'
import type { Scenario } from '../scenario/types.js'

/** A worker as the economy knows it. */
export interface Earner {
  /** Dense index over every worker that ever joined (for the earnings distribution). */
  readonly index: number
  readonly role: Role
  stake: number
}

/**
 * Token flows between the simulated parties, as the settlement outputs of the machines decide them: payments for
 * accepted tasks (less the protocol fee), verification pay, slashes, unpaid debts of creators who never pay, and
 * the optional burn-and-mint model. Amounts are token units; the machines' bigints are converted once, here.
 */
export class Economy {
  readonly #metrics: MetricsRecorder
  readonly #roles: Record<Role, RoleStats>
  readonly #feeBps: number
  readonly #slashFraction: number
  readonly bme: BurnMintModel | undefined
  /** Earnings per earner index. */
  #earned = new Float64Array(1024)
  #earners = 0
  paid = 0
  fees = 0
  verifierPay = 0
  slashed = 0
  unpaid = 0

  constructor(scenario: Scenario, metrics: MetricsRecorder) {
    this.#metrics = metrics
    this.#roles = metrics.roles
    this.#feeBps = scenario.economics.feeBps
    this.#slashFraction = scenario.economics.slashFraction
    this.bme = scenario.economics.bme === undefined ? undefined : new BurnMintModel(scenario.economics.bme)
  }

  readonly #byIndex: Earner[] = []

  /** The next earner index; pass it to {@link register} with the earner. */
  get nextIndex(): number {
    return this.#earners
  }

  /** Registers a worker under its index (which must be {@link nextIndex}). */
  register(earner: Earner): void {
    if (this.#earners === this.#earned.length) {
      const grown = new Float64Array(this.#earned.length * 2)
      grown.set(this.#earned)
      this.#earned = grown
    }
    this.#byIndex.push(earner)
    this.#earners++
  }

  /**
   * Settles an accepted task: the creator pays `amount`; the protocol keeps `feeBps`; the worker gets the rest.
   * Under burn-and-mint the payment is burned instead and the worker's reward comes from the epoch's emission.
   */
  settle(worker: Earner, amount: number, benchHours: number, creatorPays: boolean, elapsedMs: number): void {
    if (!creatorPays) {
      this.unpaid += amount
      return
    }
    const fee = Math.floor((amount * this.#feeBps) / 10_000)
    this.paid += amount
    this.fees += fee
    this.#metrics.add(COL.paid, amount)
    this.#metrics.add(COL.fees, fee)
    if (this.bme !== undefined) {
      this.#metrics.add(COL.burned, this.bme.pay(amount, elapsedMs))
      this.bme.work(worker.index, benchHours)
      return
    }
    this.#credit(worker, amount - fee)
  }

  /** Pays a third-party verifier or arbiter (not a worker's earnings: verifiers are counted apart). */
  payVerifier(amount: number): void {
    this.verifierPay += amount
  }

  /** Slashes a worker's stake after an upheld fraud proof; returns the amount. */
  slash(worker: Earner): number {
    const amount = Math.floor(worker.stake * this.#slashFraction)
    worker.stake -= amount
    this.slashed += amount
    this.#roles[worker.role].slashed += amount
    this.#metrics.add(COL.slashed, amount)
    return amount
  }

  /** Closes a burn-and-mint epoch: credits the emission to workers by their share of the epoch's work. */
  closeEpoch(elapsedMs: number): void {
    if (this.bme === undefined) return
    const epoch = this.bme.closeEpoch(elapsedMs, (index, tokens) =>
      this.#credit(this.#byIndex[index] as Earner, tokens),
    )
    this.#metrics.add(COL.minted, epoch.minted)
  }

  /** Earnings of every registered worker, by earner index. */
  earnings(): Float64Array {
    return this.#earned.subarray(0, this.#earners)
  }

  #credit(worker: Earner, amount: number): void {
    this.#earned[worker.index] = (this.#earned[worker.index] as number) + amount
    this.#roles[worker.role].earned += amount
  }
}
