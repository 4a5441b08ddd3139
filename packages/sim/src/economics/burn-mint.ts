import type { Scenario } from '../scenario/types.js'

/** The burn-and-mint parameters of a scenario, resolved. */
export type BurnMintConfig = NonNullable<Scenario['economics']['bme']>

/** One closed epoch of the burn-and-mint model. */
export interface BurnMintEpoch {
  epoch: number
  /** Epoch end, ms since the run's start; the last epoch of a run may end early, at its horizon. */
  endMs: number
  priceUsd: number
  /** What creators paid in the epoch, USD. */
  usd: number
  burned: number
  /**
   * Tokens the epoch's payments would have burned at its prices beyond the supply in circulation: none is burned
   * that does not exist, so a price series too low for the demand shows here instead of as a negative supply.
   */
  unburned: number
  minted: number
  supply: number
}

/**
 * A burn-and-mint equilibrium as in Render Network: creators pay for work by burning tokens worth the job's USD
 * price at the current token price, and a fixed emission per epoch is minted to the workers in proportion to the
 * work (benchmark-hours) they did in that epoch. Supply falls when the USD burned outruns the emission's value,
 * so at equilibrium `price × emission = USD spent per epoch`. The token price is an input series, not a result.
 * An epoch closed early (the run's last, at its horizon) mints its share of the emission by its length, so the
 * emission rate holds however the run ends; supply is always `initialSupply + minted − burned`.
 *
 * The tokens burned are bought in circulation, as Render's creators buy the token to burn it, so an epoch burns at
 * most the supply it opened with (its emission is minted when it closes), and supply never goes below zero. With the
 * price an input, not a result, demand can outrun what the supply is worth; what it would have burned beyond the
 * supply is counted as `unburned`, where the market would have raised the price instead.
 */
export class BurnMintModel {
  readonly config: BurnMintConfig
  readonly epochs: BurnMintEpoch[] = []
  #supply: number
  #usd = 0
  #burned = 0
  #unburned = 0
  /** Tokens in circulation left to burn in the open epoch: the supply it opened with, less what it burned. */
  #circulating: number
  /** Where the open epoch began, ms since the run's start. */
  #startMs = 0
  readonly #work = new Map<number, number>()
  readonly #mintedTo = new Map<number, number>()

  constructor(config: BurnMintConfig) {
    this.config = config
    this.#supply = config.initialSupply
    this.#circulating = config.initialSupply
  }

  get supply(): number {
    return this.#supply
  }

  /** Where the open epoch began, ms since the run's start: the last closed epoch's end. */
  get openedAtMs(): number {
    return this.#startMs
  }

  /** Whether the open epoch has burned tokens or seen work, which only closing it books into the supply. */
  get hasOpenFlows(): boolean {
    return this.#usd !== 0 || this.#burned !== 0 || this.#unburned !== 0 || this.#work.size > 0
  }

  /** Token price in USD at `atMs` since the start: linear between points, flat beyond the ends. */
  priceAt(atMs: number): number {
    const points = this.config.price
    const first = points[0] as { atMs: number; usd: number }
    if (atMs <= first.atMs) return first.usd
    for (let i = 1; i < points.length; i++) {
      const b = points[i] as { atMs: number; usd: number }
      if (atMs <= b.atMs) {
        const a = points[i - 1] as { atMs: number; usd: number }
        return a.usd + ((b.usd - a.usd) * (atMs - a.atMs)) / (b.atMs - a.atMs)
      }
    }
    return (points[points.length - 1] as { usd: number }).usd
  }

  /**
   * A creator paid `amount` token units of quoted price: burn tokens worth its USD value, as many as are still in
   * circulation. Returns tokens burned.
   */
  pay(amount: number, atMs: number): number {
    const usd = amount * this.config.usdPerTokenUnit
    const worth = usd / this.priceAt(atMs)
    const burned = Math.min(worth, this.#circulating)
    // Exactly zero once everything is burned, and never below it: rounding is monotonic.
    this.#circulating -= burned
    this.#usd += usd
    this.#burned += burned
    this.#unburned += worth - burned
    return burned
  }

  /** A worker did `benchHours` of accepted work in the current epoch. */
  work(worker: number, benchHours: number): void {
    this.#work.set(worker, (this.#work.get(worker) ?? 0) + benchHours)
  }

  /** Tokens minted to a worker so far. */
  mintedTo(worker: number): number {
    return this.#mintedTo.get(worker) ?? 0
  }

  /**
   * Closes the epoch ending at `endMs`: mints the emission, in proportion to the epoch's length when it ends early,
   * pro rata to work (none when no work was done), telling `onMint` each worker's share.
   */
  closeEpoch(endMs: number, onMint?: (worker: number, tokens: number) => void): BurnMintEpoch {
    let totalWork = 0
    for (const w of this.#work.values()) totalWork += w
    const share = Math.min(1, (endMs - this.#startMs) / this.config.epochMs)
    const minted = totalWork > 0 ? this.config.emissionPerEpoch * share : 0
    if (totalWork > 0) {
      // Sorted keys: the same credits in the same order on every run.
      for (const worker of [...this.#work.keys()].sort((a, b) => a - b)) {
        const tokens = (minted * (this.#work.get(worker) as number)) / totalWork
        this.#mintedTo.set(worker, (this.#mintedTo.get(worker) ?? 0) + tokens)
        onMint?.(worker, tokens)
      }
    }
    // Held at zero: the epoch burned at most the supply it opened with, but a sum can round a hair past it.
    this.#supply = Math.max(0, this.#supply + minted - this.#burned)
    this.#circulating = this.#supply
    const epoch: BurnMintEpoch = {
      epoch: this.epochs.length,
      endMs,
      priceUsd: this.priceAt(endMs),
      usd: this.#usd,
      burned: this.#burned,
      unburned: this.#unburned,
      minted,
      supply: this.#supply,
    }
    this.epochs.push(epoch)
    this.#usd = 0
    this.#burned = 0
    this.#unburned = 0
    this.#work.clear()
    this.#startMs = endMs
    return epoch
  }
}
