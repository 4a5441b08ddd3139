import type { Rng } from '@tessera/core'
import type { ResultShape, ToleranceClass } from '@tessera/proof'
import type { MarketView } from '@tessera/scheduler'
import type { Simulation } from '../engine/simulation.js'
import type { MetricsRecorder } from '../metrics/recorder.js'
import type { OutputModel } from '../models/output.js'
import type { SimNetwork } from '../net/sim-network.js'
import type { Scenario } from '../scenario/types.js'
import type { Economy } from './economy.js'
import type { GroundTruth } from './ground-truth.js'
import type { VerifierRole } from './verifier-role.js'
import type { WorkerPeer } from './worker-peer.js'

/** What the simulator remembers of a job while it is open, for the models (not for the machines). */
export interface JobRecord {
  creator: string
  orderedAt: number
  benchHoursPerTask: number
  /** Token units per benchmark-hour the creator would pay at most, for verification pay. */
  maxPrice: number
  tasks: number
}

/** The parts of the world every simulated peer uses. */
export interface WorldContext {
  readonly sim: Simulation
  readonly scenario: Scenario
  readonly network: SimNetwork
  /** One market view shared by every machine (they all see the same gossip; see `MarketView`). */
  readonly market: MarketView
  /**
   * The view fixed-price workers read: the same orders, no capacity records. A worker reads capacity records only
   * for the market depth that demand pricing uses, and `MarketView.depth` scans every record once per second of
   * virtual time (100,000 records at the bench's scale), so workers whose price ignores depth skip the scan.
   */
  readonly ordersOnlyMarket: MarketView
  readonly metrics: MetricsRecorder
  readonly economy: Economy
  readonly truth: GroundTruth
  readonly outputs: OutputModel
  /** The class every verifying peer compares chunks under, with the scenario's thresholds; ground truth uses it too. */
  readonly tolerance: ToleranceClass
  /** What every task's honest Result looks like (label, chunk count): verifiers hold workers to it, as a node does. */
  readonly resultShape: ResultShape
  readonly jobs: Map<string, JobRecord>
  /** Random streams per component. */
  readonly rng: { tasks: Rng; behaviour: Rng; verifiers: Rng; chain: Rng; divergence: Rng }
  /** A peer's stake as the ledger knows it. */
  stakeOf(peer: string): bigint | undefined
  /** False for a creator who never pays what it owes (`adversaries.nonPayingCreators`); true for any other peer. */
  pays(peer: string): boolean
  /** A peer by id, when it is a worker. */
  worker(id: string): WorkerPeer | undefined
  /** A peer by id, when it hosts a verifier (creators, verifiers, colluders). */
  verifier(id: string): VerifierRole | undefined
  /** Peers that must receive a verdict about a task (its creator and everyone checking it). */
  verdictAudience(jobId: string, taskId: string): readonly string[]
  /** Notes that `peers` take part in checking a task, so they receive its verdicts whatever the audience. */
  involve(jobId: string, taskId: string, peers: readonly string[]): void
  /** Counts a message a machine refused (the node would log it and may penalise the sender). */
  rejected(error: unknown): void
  /** Elapsed virtual time, ms. */
  elapsed(): number
  /** The settlement epoch receipts are filed under now. */
  epoch(): number
}
