import type { Rng } from '@tessera/core'
import { bernoulli, lognormal } from '../engine/distributions.js'
import { SimError } from '../errors.js'

/** A time window during which only regions in the same group reach each other. */
export interface Partition {
  /** Virtual time the cut starts and heals, ms. */
  start: number
  end: number
  /** Region groups; regions named in no group form one further group together. */
  groups: readonly (readonly string[])[]
}

/** The network's parameters, resolved (times in ms). */
export interface NetworkModelConfig {
  regions: readonly string[]
  /** One-way base latency between two regions, ms; symmetric. `latencyMs[a][b]`. */
  latencyMs: Readonly<Record<string, Readonly<Record<string, number>>>>
  /** Lognormal sigma of the per-message latency factor (0 = every message takes the base latency). */
  jitter: number
  /** Probability that a direct message is lost. */
  lossRate: number
  /** Per-region-pair loss overriding `lossRate`, `loss[a][b]`; symmetric. */
  loss?: Readonly<Record<string, Readonly<Record<string, number>>>>
  /** Probability that a gossip delivery is lost (gossipsub repairs most losses, so this is lower). */
  gossipLossRate: number
  partitions: readonly Partition[]
}

/**
 * Latency, loss, bandwidth and partitions between regions. Regions are indexed once; the hot path looks up
 * typed arrays by `a * n + b`.
 */
export class NetworkModel {
  readonly regions: readonly string[]
  readonly #n: number
  readonly #latency: Float64Array
  readonly #loss: Float64Array
  readonly #jitter: number
  readonly #gossipLoss: number
  /** Partition windows with each region's group index in that window. */
  readonly #partitions: { start: number; end: number; groupOf: Int32Array }[]
  readonly #rng: Rng

  constructor(config: NetworkModelConfig, rng: Rng) {
    const n = config.regions.length
    this.regions = config.regions
    this.#n = n
    this.#rng = rng
    this.#jitter = config.jitter
    this.#gossipLoss = config.gossipLossRate
    this.#latency = new Float64Array(n * n).fill(NaN)
    this.#loss = new Float64Array(n * n).fill(config.lossRate)
    const fill = (
      table: Float64Array,
      matrix: Readonly<Record<string, Readonly<Record<string, number>>>>,
      what: string,
    ): void => {
      for (const [a, row] of Object.entries(matrix)) {
        const ia = this.regionIndex(a, `${what}.${a}`)
        for (const [b, value] of Object.entries(row)) {
          const ib = this.regionIndex(b, `${what}.${a}.${b}`)
          table[ia * n + ib] = value
          table[ib * n + ia] = value
        }
      }
    }
    fill(this.#latency, config.latencyMs, 'network.latencyMs')
    if (config.loss !== undefined) fill(this.#loss, config.loss, 'network.loss')
    for (let a = 0; a < n; a++) {
      for (let b = 0; b < n; b++) {
        if (Number.isNaN(this.#latency[a * n + b])) {
          throw new SimError(
            'SIM__INVALID_SCENARIO',
            `network.latencyMs has no entry for ${config.regions[a]} and ${config.regions[b]}: give every region pair`,
            { path: `/network/latencyMs/${config.regions[a]}/${config.regions[b]}` },
          )
        }
      }
    }
    this.#partitions = config.partitions.map((p, i) => {
      const groupOf = new Int32Array(n).fill(p.groups.length)
      p.groups.forEach((group, g) => {
        for (const region of group) groupOf[this.regionIndex(region, `network.partitions.${i}.groups`)] = g
      })
      return { start: p.start, end: p.end, groupOf }
    })
  }

  /** The index of a region name. */
  regionIndex(name: string, path = 'region'): number {
    const i = this.regions.indexOf(name)
    if (i < 0) {
      throw new SimError('SIM__REGION_NOT_FOUND', `unknown region "${name}" at ${path}: declare it under regions`, {
        region: name,
        path,
      })
    }
    return i
  }

  /** Base one-way latency between two regions, ms. */
  baseLatency(a: number, b: number): number {
    return this.#latency[a * this.#n + b] as number
  }

  /** One message's one-way latency, ms: the base times a lognormal jitter factor. */
  latency(a: number, b: number): number {
    const base = this.#latency[a * this.#n + b] as number
    return this.#jitter === 0 ? base : lognormal(this.#rng, base, this.#jitter)
  }

  /** Time to push `bytes` through the slower of two links, ms. */
  transferMs(bytes: number, mbpsA: number, mbpsB: number): number {
    const mbps = mbpsA < mbpsB ? mbpsA : mbpsB
    return (bytes * 8) / (mbps * 1000)
  }

  /** Whether the two regions can reach each other at `time` (no partition separates them). */
  reachable(a: number, b: number, time: number): boolean {
    if (a === b) return true
    for (const p of this.#partitions) {
      if (time >= p.start && time < p.end && p.groupOf[a] !== p.groupOf[b]) return false
    }
    return true
  }

  /** Draws whether one direct message between the regions is lost. */
  lost(a: number, b: number): boolean {
    return bernoulli(this.#rng, this.#loss[a * this.#n + b] as number)
  }

  /** Draws whether one gossip delivery is lost. */
  gossipLost(): boolean {
    return bernoulli(this.#rng, this.#gossipLoss)
  }
}
