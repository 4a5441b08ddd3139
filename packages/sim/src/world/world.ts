import { isTesseraError, nextFloat, nextInt, type Rng } from '@tessera/core'
import { parseTolerance, planFor, type ResultShape, taskKey, type ToleranceClass } from '@tessera/proof'
import { MarketView, type JobSpec } from '@tessera/scheduler'
import { INVOLVED_RETAIN_MS } from '../constants.js'
import { bernoulli, exponential, lognormal, pickWeighted } from '../engine/distributions.js'
import type { Simulation } from '../engine/simulation.js'
import type { BurnMintConfig } from '../economics/burn-mint.js'
import { gini, lorenz } from '../economics/gini.js'
import { quantile } from '../metrics/format.js'
import { COL, MetricsRecorder, ROLES, type Role } from '../metrics/recorder.js'
import { drawProfile, type ProfileDistributions, workerAmount } from '../models/gpu.js'
import { OutputModel } from '../models/output.js'
import { NetworkModel } from '../net/network-model.js'
import { SimNetwork } from '../net/sim-network.js'
import type { Percentiles, RunReport } from '../report.js'
import type { Scenario } from '../scenario/types.js'
import { adversaryCounts, HONEST, type Behaviour } from './behaviour.js'
import type { JobRecord, WorldContext } from './context.js'
import { CreatorPeer, VerifierPeer } from './creator-peer.js'
import { Economy, type Earner } from './economy.js'
import { GroundTruth } from './ground-truth.js'
import { simJobSpec } from './job-spec.js'
import { simAddress } from './settlement.js'
import type { VerifierRole } from './verifier-role.js'
import { SIM_TOLERANCE, WorkerPeer } from './worker-peer.js'

/** Stake of creators and dedicated verifiers, token units: it weighs their gossiped verdicts. */
const SERVICE_STAKE = 1_000_000n
/** Task slots of a bid spammer: it bids for as much as it can. */
const SPAMMER_SLOTS = 16
/** Bins of the completion-time histogram. */
const COMPLETION_BINS = 30

/**
 * The simulated network: creators, workers, verifiers and adversaries as the scenario describes, each running the
 * node's own machines; job arrivals, churn, metrics rows and burn-and-mint epochs as events.
 */
export class World implements WorldContext {
  readonly sim: Simulation
  readonly scenario: Scenario
  readonly network: SimNetwork
  readonly market = new MarketView()
  readonly ordersOnlyMarket = new MarketView()
  readonly metrics: MetricsRecorder
  readonly economy: Economy
  readonly truth: GroundTruth
  readonly outputs: OutputModel
  readonly jobs = new Map<string, JobRecord>()
  readonly rng: { tasks: Rng; behaviour: Rng; verifiers: Rng; chain: Rng; divergence: Rng }
  readonly tolerance: ToleranceClass
  readonly resultShape: ResultShape
  readonly #workers = new Map<string, WorkerPeer>()
  readonly #verifierPeers = new Map<string, VerifierRole>()
  readonly #creators: CreatorPeer[] = []
  readonly #nonPaying = new Set<string>()
  /** Workers by wallet, for payouts. */
  readonly #wallets = new Map<string, Earner>()
  #epoch = 0
  readonly #involved = new Map<string, string[]>()
  readonly #forgetInvolved = (key: string): void => void this.#involved.delete(key)
  readonly #profiles: ProfileDistributions
  readonly #peersRng: Rng
  readonly #arrivalsRng: Rng
  readonly #churnRng: Rng
  readonly #verifierIds: string[] = []
  #live = 0
  #joined = 0
  #left = 0
  #crashed = 0
  #jobsOrdered = 0
  /** Where in the submit window, as a fraction of it, the latest arrival was drawn. */
  #arrivalFraction = 0
  #nextWorker = 0
  #rejected = 0
  readonly #rejectedByCode = new Map<string, number>()
  #lastDelivered = 0
  #lastDropped = 0

  constructor(sim: Simulation, scenario: Scenario) {
    this.sim = sim
    this.scenario = scenario
    const model = new NetworkModel(
      {
        regions: scenario.regions.map((r) => r.name),
        latencyMs: scenario.network.latencyMs,
        jitter: scenario.network.jitter,
        lossRate: scenario.network.lossRate,
        ...(scenario.network.loss === undefined ? {} : { loss: scenario.network.loss }),
        gossipLossRate: scenario.network.gossipLossRate,
        // Scenario times count from the start of the run; the model reads the virtual clock.
        partitions: scenario.network.partitions.map((p) => ({
          ...p,
          start: sim.start + p.start,
          end: sim.start + p.end,
        })),
      },
      sim.rng('latency'),
    )
    this.network = new SimNetwork(sim, model, scenario.network.gossip)
    this.metrics = new MetricsRecorder(scenario.metricsIntervalMs)
    this.economy = new Economy(scenario, this.metrics)
    this.truth = new GroundTruth(this.metrics)
    this.outputs = new OutputModel(scenario.outputs)
    this.tolerance = parseTolerance(SIM_TOLERANCE, scenario.verifiers.tolerance)
    this.resultShape = { tolerance: SIM_TOLERANCE, chunks: scenario.jobs.chunksPerTask }
    this.rng = {
      tasks: sim.rng('tasks'),
      behaviour: sim.rng('behaviour'),
      verifiers: sim.rng('verifiers'),
      chain: sim.rng('chain'),
      divergence: sim.rng('divergence'),
    }
    this.#peersRng = sim.rng('peers')
    this.#arrivalsRng = sim.rng('arrivals')
    this.#churnRng = sim.rng('churn')
    this.#profiles = {
      ...scenario.workers,
      bandwidthMbps: scenario.network.bandwidthMbps,
      regionWeights: scenario.regions.map((r) => r.weight),
    }
    this.#populate()
  }

  // --- WorldContext -------------------------------------------------------------------------------------------

  stakeOf(peer: string): bigint | undefined {
    const worker = this.#workers.get(peer)
    if (worker !== undefined) return BigInt(worker.earner.stake)
    return this.#verifierPeers.has(peer) ? SERVICE_STAKE : undefined
  }

  pays(peer: string): boolean {
    return !this.#nonPaying.has(peer)
  }

  worker(id: string): WorkerPeer | undefined {
    return this.#workers.get(id)
  }

  verifier(id: string): VerifierRole | undefined {
    return this.#verifierPeers.get(id)
  }

  verdictAudience(jobId: string, taskId: string): readonly string[] {
    const creator = this.jobs.get(jobId)?.creator
    const involved = this.#involved.get(taskKey(jobId, taskId))
    if (involved === undefined) return creator === undefined ? [] : [creator]
    return creator === undefined || involved.includes(creator) ? involved : [creator, ...involved]
  }

  involve(jobId: string, taskId: string, peers: readonly string[]): void {
    const key = taskKey(jobId, taskId)
    let list = this.#involved.get(key)
    if (list === undefined) {
      list = []
      this.#involved.set(key, list)
      // Arbitration ends within its timeouts; forget the task's audience well after (see INVOLVED_RETAIN_MS).
      this.sim.after(INVOLVED_RETAIN_MS, this.#forgetInvolved, key)
    }
    for (const p of peers) if (!list.includes(p)) list.push(p)
  }

  rejected(error: unknown): void {
    if (!isTesseraError(error)) throw error
    this.#rejected++
    this.#rejectedByCode.set(error.code, (this.#rejectedByCode.get(error.code) ?? 0) + 1)
  }

  elapsed(): number {
    return this.sim.now - this.sim.start
  }

  epoch(): number {
    return this.#epoch
  }

  // --- set-up -------------------------------------------------------------------------------------------------

  #drawRegionPeer(): { region: number; bandwidthMbps: number; score: number } {
    const p = drawProfile(this.#peersRng, this.#profiles)
    return { region: p.region, bandwidthMbps: p.bandwidthMbps, score: p.score }
  }

  #populate(): void {
    const { scenario } = this
    const adversaries = scenario.adversaries
    const rng = this.#peersRng
    // Dedicated verifiers and colluders are the third peers creators may delegate to.
    const verifierCount = scenario.verifiers.count
    for (let i = 0; i < verifierCount; i++) this.#verifierIds.push(`v${i}`)
    const roles = this.#initialRoles(rng)
    for (let i = 0; i < roles.length; i++) if (roles[i] === 'colluder') this.#verifierIds.push(`w${i}`)
    for (let i = 0; i < verifierCount; i++) {
      const peer = new VerifierPeer(this, { id: `v${i}`, ...this.#drawRegionPeer(), verifiers: this.#verifierIds })
      this.#verifierPeers.set(peer.id, peer.verifierRole)
      peer.start()
    }
    const nonPaying = Math.round((adversaries.nonPayingCreators?.fraction ?? 0) * scenario.creators.count)
    for (let i = 0; i < scenario.creators.count; i++) {
      const creator = new CreatorPeer(
        this,
        { id: `c${i}`, ...this.#drawRegionPeer(), pays: i >= nonPaying, verifiers: this.#verifierIds },
        this.#wallets,
      )
      this.#creators.push(creator)
      if (!creator.pays) this.#nonPaying.add(creator.id)
      this.#verifierPeers.set(creator.id, creator.verifierRole)
    }
    for (const role of roles) this.#addWorker(role)
    for (let i = 0; i < (adversaries.sybils?.identities ?? 0); i++) this.#addWorker('sybil')
    for (let i = 0; i < (adversaries.bidSpammers?.count ?? 0); i++) this.#addWorker('spammer')
  }

  /** The roles of the initial workers: exact counts per adversary kind, in a seeded random order. */
  #initialRoles(rng: Rng): Role[] {
    const { workers, adversaries } = this.scenario
    const n = workers.count
    const roles: Role[] = new Array<Role>(n).fill('honest')
    const order = Array.from({ length: n }, (_, i) => i)
    for (let i = n - 1; i > 0; i--) {
      const j = nextInt(rng, i + 1)
      ;[order[i], order[j]] = [order[j] as number, order[i] as number]
    }
    let k = 0
    const assign = (role: Role, count: number): void => {
      for (let c = 0; c < count && k < n; c++) roles[order[k++] as number] = role
    }
    const counts = adversaryCounts(n, adversaries)
    assign('colluder', counts.colluder)
    assign('cheater', counts.cheater)
    assign('lazy', counts.lazy)
    return roles
  }

  /** A joiner's role: drawn with the scenario's cheater and lazy fractions. */
  #joinerRole(): Role {
    const { adversaries } = this.scenario
    const cheat = adversaries.cheaters?.fraction ?? 0
    const lazy = adversaries.lazy?.fraction ?? 0
    const i = pickWeighted(this.#churnRng, [cheat, lazy, Math.max(0, 1 - cheat - lazy)])
    return i === 0 ? 'cheater' : i === 1 ? 'lazy' : 'honest'
  }

  #behaviour(role: Role): Behaviour {
    const a = this.scenario.adversaries
    switch (role) {
      case 'honest':
        return HONEST
      case 'cheater':
        return {
          ...HONEST,
          role,
          badTaskRate: a.cheaters?.wrongTaskRate ?? 1,
          wrongChunkFraction: a.cheaters?.wrongChunkFraction ?? 1,
        }
      case 'lazy': {
        const sampleFraction = a.lazy?.sampleFraction ?? 0.25
        return { ...HONEST, role, badTaskRate: 1, lazyNoise: this.outputs.lazyNoise(sampleFraction), sampleFraction }
      }
      case 'colluder':
        return { ...HONEST, role, badTaskRate: a.colluders?.wrongTaskRate ?? 1, wrongChunkFraction: 1, colluding: true }
      case 'sybil':
        return { ...HONEST, role, badTaskRate: a.sybils?.wrongTaskRate ?? 1, wrongChunkFraction: 1 }
      case 'spammer':
        return { ...HONEST, role, spamming: true }
    }
  }

  #addWorker(role: Role): WorkerPeer {
    const { scenario } = this
    const profile = drawProfile(this.#peersRng, this.#profiles)
    if (role === 'sybil') profile.stake = scenario.adversaries.sybils?.stake ?? 1
    if (role === 'spammer')
      profile.price = workerAmount(profile.price * (scenario.adversaries.bidSpammers?.priceFactor ?? 0.1), 1)
    const index = this.economy.nextIndex
    const earner: Earner = { index, role, wallet: simAddress(index), stake: profile.stake }
    this.economy.register(earner)
    this.#wallets.set(earner.wallet, earner)
    const worker = new WorkerPeer(this, {
      id: `w${this.#nextWorker++}`,
      profile,
      behaviour: this.#behaviour(role),
      earner,
      slots: role === 'spammer' ? SPAMMER_SLOTS : scenario.workers.slots,
      verifiers: this.#verifierIds,
    })
    this.#workers.set(worker.id, worker)
    if (worker.verifierRole !== undefined) this.#verifierPeers.set(worker.id, worker.verifierRole)
    this.metrics.roles[role].workers++
    return worker
  }

  // --- running ------------------------------------------------------------------------------------------------

  /**
   * Starts every peer and schedules arrivals, churn, metrics rows, epochs and the run's end. Rows and burn-and-mint
   * epochs due before the horizon close as they fall due; the last of each closes in {@link report}, after every
   * event at the horizon, so what happens there is in them too.
   */
  start(): void {
    // First, so it fires before anything else due at the horizon.
    this.sim.at(this.sim.start + this.scenario.durationMs, finish, this)
    for (const creator of this.#creators) creator.start()
    for (const worker of this.#workers.values()) this.#startWorker(worker)
    this.#scheduleArrival()
    const { churn } = this.scenario
    if (churn.joinsPerHour > 0) this.sim.after(exponential(this.#churnRng, 3_600_000 / churn.joinsPerHour), join, this)
    this.#beforeHorizon(this.scenario.metricsIntervalMs, tick)
    const bme = this.scenario.economics.bme
    if (bme !== undefined) this.#beforeHorizon(bme.epochMs, epoch)
    else this.sim.after(this.scenario.economics.settlementEpochMs, settle, this)
  }

  /** Schedules `fn` in `delayMs` if that is before the horizon, where {@link report} closes what is left instead. */
  #beforeHorizon(delayMs: number, fn: (world: World) => void): void {
    if (this.elapsed() + delayMs < this.scenario.durationMs) this.sim.after(delayMs, fn, this)
  }

  /** @internal Closes the settlement epoch: every creator's receipts batch, anchor and pay out. */
  static settle(world: World): void {
    world.#closeSettlementEpoch()
    world.sim.after(world.scenario.economics.settlementEpochMs, settle, world)
  }

  /**
   * @internal The horizon: the last settlement epoch closes however short, and the modelled chain carries out at
   * once what is still in flight, so every task accepted by now is paid or owed (`economics.outstanding` holds
   * what still is not). Nothing else is measured after the horizon, so the chain's delay would change no figure.
   */
  static finish(world: World): void {
    world.#closeSettlementEpoch()
    for (const creator of world.#creators) creator.settlement.drain()
  }

  #closeSettlementEpoch(): void {
    const closing = this.#epoch++
    for (const creator of this.#creators) creator.settlement.closeEpoch(closing)
  }

  #startWorker(worker: WorkerPeer): void {
    worker.start()
    this.#live++
    const uptime = this.scenario.churn.meanUptimeMs
    if (uptime !== undefined) this.sim.after(exponential(this.#churnRng, uptime), depart, { world: this, worker })
  }

  /** @internal */
  static join(world: World): void {
    world.#joined++
    world.#startWorker(world.#addWorker(world.#joinerRole()))
    world.sim.after(exponential(world.#churnRng, 3_600_000 / world.scenario.churn.joinsPerHour), join, world)
  }

  /** @internal */
  static depart(world: World, worker: WorkerPeer): void {
    if (!worker.alive) return
    world.#live--
    if (bernoulli(world.#churnRng, world.scenario.churn.crashFraction)) {
      world.#crashed++
      worker.crash()
    } else {
      world.#left++
      worker.leave()
    }
  }

  /**
   * Schedules the next job's arrival, at a whole millisecond inside the submit window: strictly before its end, which
   * is never after the horizon (the scenario refuses a longer window), so every one of `jobs.count` jobs is ordered.
   *
   * Poisson arrivals are a Poisson process conditioned on its count: `count` times uniform in the window, in order.
   * Summing exponential gaps of mean window/count instead overshoots the window about half the time, and the jobs
   * past the horizon would never be ordered. The sorted times are drawn one at a time, so none is stored: the least
   * of m uniforms in [f, 1) is f + (1 - f)(1 - W^(1/m)) with W uniform in (0, 1], the next one's draw takes the
   * m - 1 left above it (the sequential method of Bentley and Saxe, "Generating sorted lists of random numbers").
   */
  #scheduleArrival(): void {
    const { jobs } = this.scenario
    const left = jobs.count - this.#jobsOrdered
    if (left <= 0) return
    if (jobs.arrival === 'uniform') {
      this.#arrivalFraction = (this.#jobsOrdered + 0.5) / jobs.count
    } else {
      // 1 - W^(1/m), through log1p and expm1 so that it keeps its precision when m is large and it is small.
      const least = -Math.expm1(Math.log1p(-nextFloat(this.#arrivalsRng)) / left)
      this.#arrivalFraction += (1 - this.#arrivalFraction) * least
    }
    const window = jobs.submitWindowMs
    // Floored and held below the window's end, where rounding of a fraction a hair below 1 would put it.
    const offset = Math.min(Math.floor(this.#arrivalFraction * window), Math.max(0, window - 1))
    this.sim.at(Math.max(this.sim.start + offset, this.sim.now), arrive, this)
  }

  /** @internal */
  static arrive(world: World): void {
    world.#jobsOrdered++
    const creator = world.#creators[nextInt(world.#arrivalsRng, world.#creators.length)] as CreatorPeer
    creator.submit(world.#jobSpec())
    world.#scheduleArrival()
  }

  #jobSpec(): JobSpec {
    const { jobs } = this.scenario
    const rng = this.#arrivalsRng
    const n = jobs.tasks.min + nextInt(rng, jobs.tasks.max - jobs.tasks.min + 1)
    const benchHours = lognormal(rng, jobs.benchHoursPerTask.median, jobs.benchHoursPerTask.sigma)
    return simJobSpec(jobs, this.#jobsOrdered, n, benchHours)
  }

  /** @internal */
  static tick(world: World): void {
    world.#closeRow()
    world.#beforeHorizon(world.scenario.metricsIntervalMs, tick)
  }

  #closeRow(): void {
    const { metrics, network, economy } = this
    const stats = network.stats
    const dropped = stats.dropped.loss + stats.dropped.partition + stats.dropped.offline + stats.dropped.unknown
    metrics.add(COL.messagesDelivered, stats.delivered - this.#lastDelivered)
    metrics.add(COL.messagesDropped, dropped - this.#lastDropped)
    this.#lastDelivered = stats.delivered
    this.#lastDropped = dropped
    metrics.set(COL.liveWorkers, this.#live)
    if (economy.bme !== undefined) {
      metrics.set(COL.supply, economy.bme.supply)
      metrics.set(COL.priceUsd, economy.bme.priceAt(this.elapsed()))
    }
    metrics.closeRow(this.elapsed())
  }

  /** @internal */
  static epoch(world: World): void {
    world.economy.closeEpoch(world.elapsed())
    world.#beforeHorizon((world.scenario.economics.bme as BurnMintConfig).epochMs, epoch)
  }

  // --- report -------------------------------------------------------------------------------------------------

  /**
   * Everything measured, as of now. Closes the last burn-and-mint epoch (minting its share of the emission by its
   * length when it is shorter), then the last row, unless nothing happened since they closed.
   */
  report(): RunReport {
    const { metrics, scenario, economy, network } = this
    const elapsed = this.elapsed()
    const bme = economy.bme
    if (bme !== undefined && (bme.openedAtMs < elapsed || bme.hasOpenFlows)) economy.closeEpoch(elapsed)
    const lastRowEndMs = metrics.lastRowEndMs
    if (lastRowEndMs === undefined || lastRowEndMs < elapsed) this.#closeRow()
    const completion = Float64Array.from(metrics.completionTimes()).sort()
    const minutes = completion.map((ms) => ms / 60_000)
    const total = (c: number): number => metrics.total(c)
    const detected = total(COL.detected)
    const escaped = total(COL.escaped)
    const falsePositives = total(COL.falsePositives)
    const unanswered = total(COL.unanswered)
    const honestChecks = this.truth.honestChecks
    const earnings = economy.earnings()
    const submitted = total(COL.jobsSubmitted)
    const completed = total(COL.jobsCompleted)
    const failed = total(COL.jobsFailed)
    const badTasks = ROLES.reduce((sum, r) => sum + metrics.roles[r].tasksBad, 0)
    return {
      scenario: scenario.name,
      seed: this.sim.seed,
      summary: {
        virtualHours: elapsed / 3_600_000,
        events: this.sim.fired,
        peers: {
          workers: this.#workers.size,
          creators: this.#creators.length,
          verifiers: scenario.verifiers.count,
          joined: this.#joined,
          left: this.#left,
          crashed: this.#crashed,
        },
        jobs: {
          submitted,
          completed,
          failed,
          unfinished: submitted - completed - failed,
          completionMinutes: percentiles(minutes),
        },
        tasks: {
          awarded: total(COL.tasksAwarded),
          completed: total(COL.tasksCompleted),
          accepted: this.truth.acceptedCount,
          rejected: detected + falsePositives + unanswered,
          unjudged: this.truth.pending,
          reassigned: total(COL.tasksReassigned),
        },
        verificationPlan: this.#verificationPlan(),
        detection: {
          badTasks,
          detected,
          escaped,
          detectionRate: detected + escaped === 0 ? Number.NaN : detected / (detected + escaped),
          checks: total(COL.checks),
          falsePositives,
          // Undefined without a check of honest output, as the detection rate is without a judged bad task.
          falsePositiveRate: honestChecks === 0 ? Number.NaN : falsePositives / honestChecks,
          unanswered,
        },
        roles: metrics.roles,
        economics: {
          // The exact totals, converted once: within 2^53 to the unit, beyond it to the nearest number.
          accepted: Number(economy.accepted),
          paid: Number(economy.paid),
          fees: Number(economy.fees),
          verifierPay: economy.verifierPay,
          verifierUnpaid: economy.verifierUnpaid,
          slashed: Number(economy.slashed),
          unpaid: Number(economy.unpaid),
          outstanding: Number(this.#creators.reduce((sum, c) => sum + c.settlement.outstanding, 0n)),
          gini: gini(earnings),
          burned: total(COL.burned),
          unburned: bme === undefined ? 0 : bme.epochs.reduce((sum, e) => sum + e.unburned, 0),
          minted: total(COL.minted),
          supply: economy.bme?.supply ?? 0,
        },
        network: structuredClone(network.stats),
        rejections: {
          total: this.#rejected,
          byCode: Object.fromEntries([...this.#rejectedByCode].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
        },
      },
      series: metrics.rows,
      completionHistogram: histogram(minutes),
      lorenz: lorenz(earnings),
      ...(economy.bme === undefined ? {} : { bme: economy.bme.epochs }),
    }
  }

  #verificationPlan(): RunReport['summary']['verificationPlan'] {
    const chunks = this.scenario.jobs.chunksPerTask
    const choice = planFor(this.scenario.jobs.verification, chunks)
    return {
      p: choice.inForce.p,
      challengeChunks: choice.inForce.challengeChunks,
      chunks,
      withinTasks: choice.inForce.budget.withinTasks,
      budgetMet: choice.infeasible === undefined,
      ...(choice.infeasible === undefined ? {} : { infeasible: choice.infeasible }),
    }
  }

  /** Inputs the machines refused (counted, as the node logs them). */
  get rejections(): number {
    return this.#rejected
  }
}

function percentiles(sorted: Float64Array): Percentiles {
  let sum = 0
  for (const x of sorted) sum += x
  return {
    count: sorted.length,
    mean: sorted.length === 0 ? Number.NaN : sum / sorted.length,
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    max: sorted.length === 0 ? Number.NaN : (sorted[sorted.length - 1] as number),
  }
}

/** Equal-width bins from 0 to the largest value (rounded up to a whole minute). */
function histogram(sorted: Float64Array): RunReport['completionHistogram'] {
  if (sorted.length === 0) return []
  const top = Math.max(1, Math.ceil(sorted[sorted.length - 1] as number))
  const width = top / COMPLETION_BINS
  const counts = new Array<number>(COMPLETION_BINS).fill(0)
  for (const x of sorted) {
    const bin = Math.min(COMPLETION_BINS - 1, Math.floor(x / width))
    counts[bin] = (counts[bin] as number) + 1
  }
  return counts.map((jobs, i) => ({ fromMinutes: i * width, toMinutes: (i + 1) * width, jobs }))
}

function settle(world: World): void {
  World.settle(world)
}

function finish(world: World): void {
  World.finish(world)
}

function join(world: World): void {
  World.join(world)
}

function depart(arg: { world: World; worker: WorkerPeer }): void {
  World.depart(arg.world, arg.worker)
}

function arrive(world: World): void {
  World.arrive(world)
}

function tick(world: World): void {
  World.tick(world)
}

function epoch(world: World): void {
  World.epoch(world)
}
