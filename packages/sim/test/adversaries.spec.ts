import { VerifierMachine } from '@tessera/proof'
import { CreatorMachine } from '@tessera/scheduler'
import { describe, expect, it, vi } from 'vitest'
import { runScenario } from '../src/run.js'
import type { ScenarioInput } from '../src/scenario/types.js'
import { WorkerPeer } from '../src/world/worker-peer.js'
import { smallScenario } from './helpers.js'

/** What a finishing task carries, as far as the GPU-time test reads it. */
interface RunningTaskView {
  peer: WorkerPeer
  order: { benchHoursPerTask: number }
  computeMs: number
}

/** The small scenario's jobs, arriving until its horizon: every burn-and-mint epoch, the last included, sees work. */
const JOBS_UNTIL_HORIZON = {
  count: 60,
  submitWindow: '2h',
  tasks: { min: 2, max: 4 },
  benchHoursPerTask: { median: 2, sigma: 0.3 },
  deadline: '1h',
}

async function run(overrides: Partial<ScenarioInput>, seed = 5) {
  return (await runScenario(smallScenario(overrides), { seed })).report.summary
}

describe('adversaries', () => {
  it('should catch cheaters through the proof machines and never fail an honest worker', async () => {
    const s = await run({ adversaries: { cheaters: { fraction: 0.25, wrongTaskRate: 0.5, wrongChunkFraction: 0.25 } } })
    const cheater = s.roles.cheater
    expect(cheater.workers).toBe(4)
    expect(cheater.tasksBad).toBeGreaterThan(0)
    expect(cheater.detected).toBeGreaterThan(0)
    expect(cheater.detected + cheater.escaped).toBeLessThanOrEqual(cheater.tasksBad)
    expect(cheater.slashed).toBeGreaterThan(0)
    expect(s.roles.honest.tasksBad).toBe(0)
    expect(s.detection.falsePositives).toBe(0)
    expect(s.jobs.completed).toBe(s.jobs.submitted)
  })

  it('should accuse honest workers whose drivers diverge only when verifiers count every pixel', async () => {
    // Twice the measured rate: 6% of 64-pixel chunks have a diverged pixel, 1 in 20,000 more than the 2 forgiven.
    const outputs = { divergedPixels: 0.001 }
    const plain = await run({ outputs, verifiers: { psnrOutlierFraction: 0 } })
    expect(plain.detection.falsePositives).toBeGreaterThan(0)
    const checked = await run({ outputs })
    expect(checked.detection.falsePositives).toBe(0)
    expect(checked.roles.honest.failedChecks).toBe(0)
  })

  it("should rate false positives against every check of honest output, an adversary's honest output included", async () => {
    // Cheaters who never cheat produce honest output only; noisy output makes checks of it fail often.
    const s = await run({
      outputs: { honestNoise: 30 },
      adversaries: { cheaters: { fraction: 0.75, wrongTaskRate: 0 } },
    })
    expect(s.detection.badTasks).toBe(0)
    expect(s.detection.falsePositives).toBeGreaterThan(0)
    expect(s.roles.cheater.checked).toBeGreaterThan(s.roles.honest.checked)
    expect(s.detection.falsePositiveRate).toBeLessThanOrEqual(1)
    expect(s.detection.falsePositiveRate).toBeCloseTo(s.detection.falsePositives / s.detection.checks, 12)
  })

  it('should leave the false-positive rate undefined when no honest output was checked', async () => {
    const s = await run({ jobs: { count: 0 } })
    expect(s.detection.checks).toBe(0)
    expect(s.detection.falsePositiveRate).toBeNaN()
  })

  it('should catch every task of workers who render with a tenth of the samples', async () => {
    const s = await run({ adversaries: { lazy: { fraction: 0.25, sampleFraction: 0.1 } } })
    expect(s.roles.lazy.tasksBad).toBe(s.roles.lazy.tasksCompleted)
    expect(s.roles.lazy.detected).toBeGreaterThan(0)
    expect(s.roles.lazy.earned).toBeLessThan(s.roles.honest.earned / 10)
  })

  it("should give a lazy render the share of a full render's GPU time that its samples take", async () => {
    // Without run-to-run variation a task takes exactly its benchmark-hours over the GPU's score, scaled by the share
    // of the samples rendered.
    const shares = new Map<string, number[]>()
    const finish = WorkerPeer.finish.bind(WorkerPeer)
    vi.spyOn(WorkerPeer, 'finish').mockImplementation((running) => {
      const { peer, order, computeMs } = running as unknown as RunningTaskView
      const fullMs = (order.benchHoursPerTask / peer.profile.score) * 3_600_000
      shares.set(peer.behaviour.role, [...(shares.get(peer.behaviour.role) ?? []), computeMs / fullMs])
      finish(running)
    })
    try {
      await run({
        workers: { count: 16, runVariability: 0 },
        adversaries: { lazy: { fraction: 0.5, sampleFraction: 0.1 } },
      })
    } finally {
      vi.restoreAllMocks()
    }
    for (const [role, expected] of [
      ['honest', 1],
      ['lazy', 0.1],
    ] as const) {
      const list = shares.get(role) ?? []
      expect(list.length, role).toBeGreaterThan(0)
      for (const share of list) expect(share, role).toBeCloseTo(expected, 2)
    }
  })

  it('should let through workers whose laziness stays inside the tolerance', async () => {
    const s = await run({ adversaries: { lazy: { fraction: 0.25, sampleFraction: 0.97 } } })
    expect(s.roles.lazy.tasksCompleted).toBeGreaterThan(0)
    expect(s.roles.lazy.tasksBad).toBe(0)
    expect(s.roles.lazy.failedChecks).toBe(0)
  })

  it('should let colluding verifiers pass each other some bad work that plain cheaters cannot pass', async () => {
    // One dedicated verifier: with none, the ring would be every third peer, arbitrating every accusation against its
    // own, and an accusation it overturns is accepted and paid after all.
    const colluders = await run({ adversaries: { colluders: { count: 4 } }, verifiers: { count: 1 } })
    const cheaters = await run({ adversaries: { cheaters: { fraction: 0.25 } }, verifiers: { count: 0 } })
    expect(colluders.roles.colluder.escaped).toBeGreaterThan(0)
    expect(colluders.roles.colluder.detected).toBeGreaterThan(0)
    expect(cheaters.roles.cheater.escaped).toBe(0)
  })

  it('should pay a worker an overturned accusation clears, not whoever holds its task by then', async () => {
    // Colluders arbitrating overturn accusations against fellow colluders after their tasks went to other workers.
    const cleared = new Map<string, string>()
    const accepted = new Map<string, string[]>()
    const verified: [string, string][] = []
    const verifierPoll = VerifierMachine.prototype.pollOutput
    const creatorPoll = CreatorMachine.prototype.pollOutput
    vi.spyOn(VerifierMachine.prototype, 'pollOutput').mockImplementation(function (this: VerifierMachine) {
      const out = verifierPoll.call(this)
      if (out?.kind === 'event' && out.event.name === 'task:accepted' && out.event.overturned === true) {
        cleared.set(out.event.taskId, out.event.worker)
      }
      return out
    })
    vi.spyOn(CreatorMachine.prototype, 'pollOutput').mockImplementation(function (this: CreatorMachine) {
      const out = creatorPoll.call(this)
      if (out?.kind === 'accept') accepted.set(out.taskId, [...(accepted.get(out.taskId) ?? []), out.worker])
      if (out?.kind === 'event' && out.event.type === 'task:verified' && out.event.overturned === true) {
        verified.push([out.event.taskId, out.event.worker])
      }
      return out
    })
    let summary: Awaited<ReturnType<typeof run>>
    try {
      summary = await run({ adversaries: { colluders: { count: 4 } }, verifiers: { count: 0 } })
    } finally {
      vi.restoreAllMocks()
    }
    expect(cleared.size).toBeGreaterThan(10)
    // Each overturned task is paid once, to the worker cleared, whether its task was pending, awarded again or under
    // check as another worker's result.
    for (const [taskId, worker] of cleared) expect(accepted.get(taskId), taskId).toEqual([worker])
    expect(verified.sort()).toEqual([...cleared].sort())
    // The ground truth follows: a rejection overturned is an acceptance (an escape when the output was bad).
    const paid = [...accepted.values()].flat().length
    expect(summary.tasks.accepted).toBe(paid)
    const colluder = summary.roles.colluder
    expect(colluder.detected + colluder.escaped).toBeLessThanOrEqual(colluder.tasksBad)
  })

  it('should take an overturned rejection back from the interval that counted it', async () => {
    // Fellow colluders arbitrate every accusation against a colluder (no dedicated verifiers) and overturn some of
    // them, often minutes later, in another one-minute interval.
    const scenario = smallScenario({ adversaries: { colluders: { count: 4 } }, verifiers: { count: 0 } })
    const { report } = await runScenario({ ...scenario, metricsIntervalMs: 60_000 }, { seed: 3 })
    const s = report.summary
    const sum = (column: 'detected' | 'falsePositives' | 'escaped' | 'unanswered'): number =>
      report.series.reduce((total, row) => total + row[column], 0)
    for (const column of ['detected', 'falsePositives', 'escaped', 'unanswered'] as const) {
      for (const row of report.series) expect(row[column], `${column} at ${row.hours} h`).toBeGreaterThanOrEqual(0)
      expect(sum(column), column).toBe(s.detection[column])
    }
    expect(s.roles.colluder.escaped).toBeGreaterThan(0)
  })

  it('should catch cheap Sybil identities and slash their little stake', async () => {
    const s = await run({ adversaries: { sybils: { identities: 8, stake: 1 } } })
    expect(s.roles.sybil.workers).toBe(8)
    expect(s.roles.sybil.detected).toBe(s.roles.sybil.tasksBad)
    expect(s.roles.sybil.earned).toBe(0)
    expect(s.roles.sybil.slashed).toBeLessThanOrEqual(8)
  })

  it('should reassign the tasks bid spammers win and never run', async () => {
    const s = await run({ adversaries: { bidSpammers: { count: 3 } } })
    expect(s.tasks.reassigned).toBeGreaterThan(0)
    expect(s.roles.spammer.tasksCompleted).toBe(0)
    expect(s.jobs.completed).toBe(s.jobs.submitted)
  })

  it('should leave the work of creators who never pay unpaid', async () => {
    const s = await run({ adversaries: { nonPayingCreators: { fraction: 0.5 } } })
    expect(s.economics.unpaid).toBeGreaterThan(0)
    expect(s.economics.paid).toBeGreaterThan(0)
  })

  it('should leave the verification pay of creators who never pay unpaid too', async () => {
    const cheaters = { fraction: 0.25, wrongTaskRate: 0.5 }
    const s = (await run({ adversaries: { cheaters, nonPayingCreators: { fraction: 1 } } })).economics
    expect(s.paid).toBe(0)
    expect(s.verifierPay).toBe(0)
    expect(s.verifierUnpaid).toBeGreaterThan(0)
    const paying = (await run({ adversaries: { cheaters } })).economics
    expect(paying.verifierPay).toBeGreaterThan(0)
    expect(paying.verifierUnpaid).toBe(0)
  })
})

describe('churn', () => {
  it('should reassign the tasks of crashed workers and still complete the jobs', async () => {
    const s = await run({
      workers: { count: 24 },
      jobs: {
        count: 40,
        submitWindow: '60m',
        tasks: { min: 2, max: 4 },
        benchHoursPerTask: { median: 20, sigma: 0.2 },
        deadline: '2h',
      },
      churn: { joinsPerHour: 30, meanUptime: '30m', crashFraction: 1 },
      duration: '4h',
    })
    expect(s.peers.crashed).toBeGreaterThan(0)
    expect(s.peers.joined).toBeGreaterThan(0)
    expect(s.tasks.reassigned).toBeGreaterThan(0)
    expect(s.jobs.completed).toBeGreaterThan(s.jobs.submitted * 0.9)
  })
})

describe('economics', () => {
  it('should pay every accepted task through the settlement machine once its epoch settles', async () => {
    const s = await run({ economics: { settlementEpoch: '20m', feeBps: 250 }, duration: '3h' })
    expect(s.economics.accepted).toBeGreaterThan(0)
    expect(s.economics.paid).toBe(s.economics.accepted)
    expect(s.economics.fees).toBeGreaterThan(0)
    expect(s.economics.fees).toBeLessThanOrEqual(Math.floor(s.economics.accepted * 0.025))
    expect(s.roles.honest.earned).toBe(s.economics.paid - s.economics.fees)
  })

  it('should settle the last epoch at the horizon, so every accepted task is paid or owed', async () => {
    // Work arrives until the end, and the 2h horizon closes a 40-minute epoch early: its receipts settle there.
    const s = await run({
      economics: { settlementEpoch: '40m', feeBps: 250 },
      jobs: { count: 60, submitWindow: '2h', tasks: { min: 2, max: 4 }, benchHoursPerTask: { median: 2, sigma: 0.3 } },
      adversaries: { nonPayingCreators: { fraction: 0.5 } },
    })
    const e = s.economics
    expect(e.paid).toBeGreaterThan(0)
    expect(e.unpaid).toBeGreaterThan(0)
    expect(e.paid + e.unpaid).toBe(e.accepted)
    expect(e.outstanding).toBe(0)
    expect(s.roles.honest.earned).toBe(e.paid - e.fees)
  })

  it('should account for every accepted task to the unit at prices past 2^53 token units', async () => {
    // Jobs worth some 10^16 units each: summed one by one as numbers, their totals drifted apart by tens of units.
    for (const bme of [undefined, { emissionPerEpoch: 1000, price: [{ at: 0, usd: 1 }] }]) {
      const s = await run({
        workers: { count: 16, price: { median: 1e13, sigma: 0.3 } },
        jobs: {
          count: 30,
          submitWindow: '1h',
          tasks: { min: 1, max: 3 },
          benchHoursPerTask: { median: 50, sigma: 0 },
          maxPrice: 1e17,
          deadline: '1h',
        },
        economics: bme === undefined ? {} : { bme },
      })
      const e = s.economics
      expect(e.accepted).toBeGreaterThan(2 ** 53)
      expect(e.paid + e.unpaid + e.outstanding).toBe(e.accepted)
    }
  })

  it('should burn payments and mint the emission under burn-and-mint', async () => {
    const s = await run({
      jobs: JOBS_UNTIL_HORIZON,
      economics: {
        bme: {
          emissionPerEpoch: 1000,
          epoch: '30m',
          price: [
            { at: 0, usd: 1 },
            { at: '2h', usd: 2 },
          ],
        },
      },
    })
    expect(s.economics.burned).toBeGreaterThan(0)
    expect(s.economics.minted).toBe(4000)
    expect(s.economics.supply).toBeCloseTo(1e9 + 4000 - s.economics.burned, 3)
    expect(s.roles.honest.earned).toBeCloseTo(4000, 6)
  })

  it('should never let the supply go negative when payments outrun the tokens in circulation', async () => {
    // No supply at the start and a low price: creators' payments would burn far more tokens than are minted.
    const bme = { epoch: '30m', emissionPerEpoch: 10, initialSupply: 0, price: [{ at: 0, usd: 0.01 }] }
    const { report } = await runScenario(smallScenario({ economics: { bme } }), { seed: 5 })
    const e = report.summary.economics
    const epochs = report.bme ?? []
    expect(e.unburned).toBeGreaterThan(0)
    for (const epoch of epochs) expect(epoch.supply).toBeGreaterThanOrEqual(0)
    for (const row of report.series) expect(row.supply).toBeGreaterThanOrEqual(0)
    // What was burned came out of what was minted, and burned plus unburned is what the USD paid was worth.
    expect(e.burned).toBeLessThanOrEqual(e.minted)
    expect(e.supply).toBeCloseTo(e.minted - e.burned, 9)
    const usd = epochs.reduce((sum, x) => sum + x.usd, 0)
    expect(e.burned + e.unburned).toBeCloseTo(usd / 0.01, 6)
  })

  it('should close the last burn-and-mint epoch at the horizon, minting by its length, so tokens are conserved', async () => {
    // A 2h run: 50-minute epochs leave a 20-minute one at the end; a 3h epoch never ends before the horizon.
    for (const [epoch, epochHours] of [
      ['50m', 50 / 60],
      ['3h', 3],
    ] as const) {
      const bme = { emissionPerEpoch: 1000, initialSupply: 1e6, epoch, price: [{ at: 0, usd: 1 }] }
      const { report } = await runScenario(smallScenario({ jobs: JOBS_UNTIL_HORIZON, economics: { bme } }), { seed: 5 })
      const e = report.summary.economics
      const epochs = report.bme ?? []
      const last = epochs.at(-1)
      expect(e.burned, epoch).toBeGreaterThan(0)
      expect(last?.endMs, epoch).toBe(2 * 3_600_000)
      const lastHours = (2 * 3_600_000 - (epochs.at(-2)?.endMs ?? 0)) / 3_600_000
      expect(last?.minted, epoch).toBeCloseTo((1000 * lastHours) / epochHours, 9)
      expect(e.supply, epoch).toBeCloseTo(1e6 + e.minted - e.burned, 6)
      expect(last?.supply, epoch).toBe(e.supply)
      const sum = (f: (x: { burned: number; minted: number }) => number, xs: { burned: number; minted: number }[]) =>
        xs.reduce((a, x) => a + f(x), 0)
      expect(
        sum((x) => x.burned, epochs),
        epoch,
      ).toBeCloseTo(e.burned, 6)
      expect(
        sum((x) => x.minted, epochs),
        epoch,
      ).toBeCloseTo(e.minted, 6)
      expect(
        sum((x) => x.burned, report.series),
        epoch,
      ).toBeCloseTo(e.burned, 6)
      expect(
        sum((x) => x.minted, report.series),
        epoch,
      ).toBeCloseTo(e.minted, 6)
      expect(report.series.at(-1)?.supply, epoch).toBe(e.supply)
      expect(report.summary.roles.honest.earned, epoch).toBeCloseTo(e.minted, 6)
    }
  })
})

describe('partitions', () => {
  it('should drop traffic across a partition while it lasts', async () => {
    const network = { latencyMs: { eu: { eu: 10, us: 40 }, us: { us: 12 } }, lossRate: 0 }
    const cut = await run({
      network: { ...network, partitions: [{ start: '30m', end: '60m', groups: [['eu'], ['us']] }] },
    })
    const whole = await run({ network })
    expect(cut.network.dropped.partition).toBeGreaterThan(0)
    expect(whole.network.dropped.partition).toBe(0)
  })
})
