import { splitFee } from '@tessera/ledger'
import { BurnMintModel } from '../economics/burn-mint.js'
import { COL, type MetricsRecorder, type Role, type RoleStats } from '../metrics/recorder.js'
import type { Scenario } from '../scenario/types.js'

/** A worker as the economy knows it. */
export interface Earner {
  /** Dense index over every worker that ever joined (for the earnings distribution). */
  readonly index: number
  readonly role: Role
  /** The worker's wallet, the payee of its receipts. */
  readonly wallet: string
  stake: number
}

/**
 * Token flows between the simulated parties, as the machines' outputs decide them: payouts that
 * `@tessera/ledger`'s settlement machine batched and the modelled chain confirmed (net to the worker, the protocol
 * fee to the treasury), verification pay, slashes, debts of creators who never pay, and the optional burn-and-mint
 * model. Amounts are token units as jobs quote prices. The totals of the machines' amounts (accepted, paid, fees,
 * unpaid) and of slashes stay bigints, exact however large, so `accepted = paid + unpaid + outstanding` holds to the
 * unit; the report converts them once. Earnings per worker and role, the per-interval columns and verification pay
 * (a modelled share of a job's price) are numbers. Under burn-and-mint the quoted unit is a fixed USD value
 * (`usdPerTokenUnit`) and the token floats: tokens burned and minted, the supply and the workers' earnings (their
 * minted shares) are tokens.
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
  /** Gross amounts of accepted tasks (what creators owe when the task is accepted). */
  accepted = 0n
  paid = 0n
  fees = 0n
  verifierPay = 0
  /** Verification pay owed by creators who never pay (apart from `unpaid`, which pairs with `accepted`). */
  verifierUnpaid = 0
  slashed = 0n
  unpaid = 0n

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

  /** A task was accepted for `amount` (gross): it is owed until its payout confirms. */
  accept(amount: bigint): void {
    this.accepted += amount
  }

  /** A confirmed payout transfer: `net` reaches the worker. */
  pay(worker: Earner, net: bigint): void {
    this.paid += net
    this.#metrics.add(COL.paid, Number(net))
    this.#credit(worker, Number(net))
  }

  /** The protocol fee of a confirmed payout, to the treasury. */
  collectFee(fee: bigint): void {
    this.paid += fee
    this.fees += fee
    this.#metrics.add(COL.paid, Number(fee))
    this.#metrics.add(COL.fees, Number(fee))
  }

  /** A payout that failed for good: the creator never paid. */
  owe(amount: bigint): void {
    this.unpaid += amount
  }

  /**
   * Under burn-and-mint an accepted task of `amount` quoted units is paid in two parts: the protocol keeps its fee,
   * and the rest is burned as tokens worth its USD value; the worker's reward comes from the epoch's emission by its
   * share of the work. `paid` and `fees` stay in quoted units, the `burned` column counts tokens.
   */
  burnForTask(worker: Earner, amount: bigint, benchHours: number, creatorPays: boolean, elapsedMs: number): void {
    if (!creatorPays) {
      this.unpaid += amount
      return
    }
    // The ledger's own split, as a settled payout would take it.
    const { net, fee } = splitFee(amount, this.#feeBps)
    this.paid += amount
    this.fees += fee
    this.#metrics.add(COL.paid, Number(amount))
    this.#metrics.add(COL.fees, Number(fee))
    this.#metrics.add(COL.burned, (this.bme as BurnMintModel).pay(Number(net), elapsedMs))
    ;(this.bme as BurnMintModel).work(worker.index, benchHours)
  }

  /**
   * Pays a third-party verifier or arbiter (not a worker's earnings: verifiers are counted apart), or leaves the pay
   * owed when the creator who asked for the check never pays.
   */
  payVerifier(amount: number, creatorPays: boolean): void {
    if (creatorPays) this.verifierPay += amount
    else this.verifierUnpaid += amount
  }

  /** Slashes a worker's stake after an upheld fraud proof; returns the amount. */
  slash(worker: Earner): number {
    const amount = Math.floor(worker.stake * this.#slashFraction)
    worker.stake -= amount
    this.slashed += BigInt(amount)
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
