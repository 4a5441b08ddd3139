import type { ToleranceOptions } from '@tessera/proof'
import type { Partition } from '../net/network-model.js'

/** A duration as written in a scenario: milliseconds, or a string such as `"90s"`, `"10m"`, `"6h"`. */
export type Duration = number | string

/** A lognormal distribution by median and log-space standard deviation. */
export interface Lognormal {
  median: number
  sigma: number
}

type Matrix = Record<string, Record<string, number>>

/** A scenario file as written (see `SCENARIO_SCHEMA` for every field's default). */
export interface ScenarioInput {
  version: 1
  name: string
  description?: string
  seed?: number
  duration: Duration
  metricsInterval?: Duration
  maxEvents?: number
  regions: { name: string; weight?: number }[]
  network: {
    latencyMs: Matrix
    jitter?: number
    lossRate?: number
    loss?: Matrix
    gossipLossRate?: number
    bandwidthMbps?: Partial<Lognormal>
    gossip?: { meshDegree?: number; hopDelayMs?: number; audience?: number; verdictAudience?: number }
    partitions?: { start: Duration; end: Duration; groups: string[][] }[]
  }
  workers: {
    count: number
    score?: Partial<Lognormal>
    memoryMb?: Partial<Lognormal>
    price?: Partial<Lognormal>
    stake?: Partial<Lognormal>
    slots?: number
    runVariability?: number
    pricing?: 'fixed' | 'demand'
  }
  creators: { count: number }
  jobs: {
    count: number
    arrival?: 'poisson' | 'uniform'
    submitWindow?: Duration
    kind?: 'render' | 'inference'
    tasks?: { min?: number; max?: number }
    benchHoursPerTask?: Partial<Lognormal>
    chunksPerTask?: number
    inputMb?: number
    outputMb?: number
    tier?: 1 | 2 | 3
    maxPrice?: number
    bidWindow?: Duration
    minBids?: number
    deadline?: Duration
    verification?: Partial<VerificationBudget>
  }
  scheduler?: { heartbeat?: Duration; lease?: Duration; capacityTtl?: Duration; maxReopens?: number }
  outputs?: Partial<OutputNoise>
  verifiers?: { count?: number; minPsnrDb?: number; psnrOutlierFraction?: number }
  churn?: { joinsPerHour?: number; meanUptime?: Duration; crashFraction?: number }
  adversaries?: AdversariesInput
  economics?: {
    feeBps?: number
    settlementEpoch?: Duration
    slashFraction?: number
    verifierShare?: number
    bme?: {
      epoch?: Duration
      emissionPerEpoch: number
      initialSupply?: number
      usdPerTokenUnit?: number
      price: { at: Duration; usd: number }[]
    }
  }
}

/** How task outputs are modelled (see `OutputModel`). */
export interface OutputNoise {
  pixelsPerChunk: number
  honestNoise: number
  renderNoise: number
  divergedPixels: number
}

/** The creators' verification budget (an order's `VerificationBudget`), handed to `@tessera/proof`'s planner. */
export interface VerificationBudget {
  detect: number
  withinTasks: number
  cheatRate: number
  maxOverhead: number
}

/** Adversaries as written: each kind names its size; the rest have defaults. */
export interface AdversariesInput {
  cheaters?: { fraction: number } & Partial<Adversaries['cheaters']>
  lazy?: { fraction: number } & Partial<Adversaries['lazy']>
  colluders?: { count: number } & Partial<Adversaries['colluders']>
  sybils?: { identities: number } & Partial<Adversaries['sybils']>
  nonPayingCreators?: { fraction: number }
  bidSpammers?: { count: number } & Partial<Adversaries['bidSpammers']>
}

/** Who misbehaves, how many of them, and how, once the scenario's defaults are filled in. */
export interface Adversaries {
  cheaters: { fraction: number; wrongTaskRate: number; wrongChunkFraction: number }
  lazy: { fraction: number; sampleFraction: number }
  colluders: { count: number; wrongTaskRate: number }
  sybils: { identities: number; stake: number; wrongTaskRate: number }
  nonPayingCreators: { fraction: number }
  bidSpammers: { count: number; priceFactor: number }
}

/** A validated scenario with every default applied and every duration in milliseconds. */
export interface Scenario {
  version: 1
  name: string
  description: string
  seed: number
  durationMs: number
  metricsIntervalMs: number
  maxEvents: number
  regions: { name: string; weight: number }[]
  network: {
    latencyMs: Matrix
    jitter: number
    lossRate: number
    loss?: Matrix
    gossipLossRate: number
    bandwidthMbps: Lognormal
    gossip: { meshDegree: number; hopDelayMs: number; audience: number; verdictAudience: number }
    partitions: Partition[]
  }
  workers: {
    count: number
    score: Lognormal
    memoryMb: Lognormal
    price: Lognormal
    stake: Lognormal
    slots: number
    runVariability: number
    pricing: 'fixed' | 'demand'
  }
  creators: { count: number }
  jobs: {
    count: number
    arrival: 'poisson' | 'uniform'
    submitWindowMs: number
    kind: 'render' | 'inference'
    tasks: { min: number; max: number }
    benchHoursPerTask: Lognormal
    chunksPerTask: number
    inputMb: number
    outputMb: number
    tier: 1 | 2 | 3
    maxPrice: number
    bidWindowMs: number
    minBids: number
    deadlineMs: number
    verification: VerificationBudget
  }
  scheduler: { heartbeatMs: number; leaseMs: number; capacityTtlMs: number; maxReopens: number }
  outputs: OutputNoise
  /** How many peers only verify, and the tolerance thresholds every verifying peer applies. */
  verifiers: { count: number; tolerance: Required<Pick<ToleranceOptions, 'minPsnrDb' | 'psnrOutlierFraction'>> }
  churn: { joinsPerHour: number; meanUptimeMs: number | undefined; crashFraction: number }
  adversaries: Partial<Adversaries>
  economics: {
    feeBps: number
    settlementEpochMs: number
    slashFraction: number
    verifierShare: number
    bme:
      | {
          epochMs: number
          emissionPerEpoch: number
          initialSupply: number
          usdPerTokenUnit: number
          price: { atMs: number; usd: number }[]
        }
      | undefined
  }
}
