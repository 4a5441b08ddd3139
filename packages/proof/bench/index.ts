import { writeFileSync } from 'node:fs'
import { seededRng, type Rng } from '@tessera/core'
import { DEFAULT_BUDGET, detectionWithin, hitProbability, honestEquilibrium, planVerification } from '../src/index.js'
import { BenchNet, deliver, makeTask, type CheaterKind, type SimPeer, type Tally } from './simulation.js'

/**
 * `npm run bench -w @tessera/proof`: verification overhead, detection and false positives of the real machines.
 *
 * 1. Steady state: one creator, five third-party verifiers/arbiters, 50 workers (45 honest on another driver, 5
 *    cheaters of four kinds wrong on 10% of their tasks), 10,000 tasks round-robin, half tensor and half image
 *    jobs. Overhead is recomputed chunks (checks and arbitration) over useful chunks, over the last 5,000 tasks.
 * 2. Detection: a trusted cheater (checked at the plan's floor p) faking the plan's minimum number of chunks (the
 *    hardest case the plan guards) on 10% of its tasks. Its cheated tasks go through the machines; lifetimes of 200
 *    tasks are cut from that sequence (at the floor, honest tasks do not change what a check finds), and the share
 *    of lifetimes with a catch is the measured detection probability.
 * 3. Per-kind catch rate per cheated task at the floor, against the formula p·d.
 */

const WITHIN = 200
const CHEAT_RATE = 0.1
const TASKS = 10_000
const WORKERS = 50
const THIRD_PARTIES = 5
const LIFETIME_CHEATED_TASKS = 20_000
const PER_KIND_TASKS = 2_000

const plan = planVerification(DEFAULT_BUDGET)
const n = plan.chunks

async function steadyState(): Promise<{ full: Tally; steady: Tally; seconds: number }> {
  const started = performance.now()
  const net = await BenchNet.create(1 + THIRD_PARTIES + WORKERS, { plan }, 1)
  const peers = [...net.peers.values()]
  const creator = peers[0] as SimPeer
  net.setVerifiers(peers.slice(1, 1 + THIRD_PARTIES).map((p) => p.id))
  const workers = peers.slice(1 + THIRD_PARTIES)
  const kinds: CheaterKind[] = workers.map((_, i) =>
    i < 45 ? 'honest' : (['wrong-output', 'fake-chunks', 'replay', 'fewer-samples', 'fake-chunks'] as const)[i - 45]!,
  )
  const r = seededRng(2)
  const previous = new Map<string, Uint8Array[]>()
  let half = net.tally
  for (let t = 0; t < TASKS; t++) {
    if (t === TASKS / 2) half = { ...net.tally }
    const w = t % WORKERS
    const worker = workers[w] as SimPeer
    const kind = kinds[w] as CheaterKind
    const image = kind === 'fewer-samples' || t % 2 === 0
    const task = makeTask(r, `job${Math.floor(t / 1000)}`, `t${t}`, n, image)
    const cheat = kind !== 'honest' && r.nextU32() / 2 ** 32 < CHEAT_RATE
    const delivered = deliver(kind, cheat, task, previous.get(worker.id), plan.badChunks, r)
    previous.set(worker.id, task.honest)
    net.run(worker, creator, task, delivered, cheat)
  }
  const full = net.tally
  const steady = Object.fromEntries(
    Object.entries(full).map(([k, v]) => [k, v - half[k as keyof Tally]]),
  ) as unknown as Tally
  return { full, steady, seconds: (performance.now() - started) / 1000 }
}

/** Catch outcomes of `count` cheated tasks of one kind, by a verifier checking at the plan's floor. */
async function cheatedAtFloor(kind: CheaterKind, count: number, seed: number): Promise<boolean[]> {
  const net = await BenchNet.create(2, { plan, sampling: { pNew: plan.p, pMin: plan.p } }, seed)
  const [creator, worker] = [...net.peers.values()] as [SimPeer, SimPeer]
  const r = seededRng(seed)
  const outcomes: boolean[] = []
  let previous: Uint8Array[] | undefined
  for (let t = 0; t < count; t++) {
    const task = makeTask(r, 'job', `t${t}`, n, kind === 'fewer-samples')
    const before = net.tally.caughtTasks
    net.run(worker, creator, task, deliver(kind, true, task, previous, plan.badChunks, r), true)
    previous = task.honest
    outcomes.push(net.tally.caughtTasks > before)
  }
  return outcomes
}

/** Binomial(trials, p) by inversion (trials is small). */
function binomial(r: Rng, trials: number, p: number): number {
  let k = 0
  for (let i = 0; i < trials; i++) if (r.nextU32() / 2 ** 32 < p) k++
  return k
}

/** Wilson score interval at 99.9% (z = 3.29): sound near 0 and 1, where the normal approximation is not. */
function interval(successes: number, trials: number): [number, number] {
  const z = 3.29
  const q = successes / trials
  const centre = (q + (z * z) / (2 * trials)) / (1 + (z * z) / trials)
  const half = (z / (1 + (z * z) / trials)) * Math.sqrt((q * (1 - q)) / trials + (z * z) / (4 * trials * trials))
  return [Math.max(0, centre - half), Math.min(1, centre + half)]
}

const steady = await steadyState()

const detectionStarted = performance.now()
const outcomes = await cheatedAtFloor('fake-chunks', LIFETIME_CHEATED_TASKS, 3)
const r = seededRng(4)
let lifetimes = 0
let detected = 0
for (let used = 0; ; lifetimes++) {
  const cheatedInLifetime = binomial(r, WITHIN, CHEAT_RATE)
  if (used + cheatedInLifetime > outcomes.length) break
  if (outcomes.slice(used, used + cheatedInLifetime).some(Boolean)) detected++
  used += cheatedInLifetime
}
const caught = outcomes.filter(Boolean).length
const perCheck = caught / outcomes.length
const detectionSeconds = (performance.now() - detectionStarted) / 1000

const kinds: CheaterKind[] = ['wrong-output', 'fake-chunks', 'replay', 'fewer-samples']
const perKind = []
for (const [i, kind] of kinds.entries()) {
  const o =
    kind === 'fake-chunks' ? outcomes.slice(0, PER_KIND_TASKS) : await cheatedAtFloor(kind, PER_KIND_TASKS, 10 + i)
  const hits = o.filter(Boolean).length
  const d = kind === 'fake-chunks' ? hitProbability(n, plan.badChunks, plan.challengeChunks) : 1
  const [lo, hi] = interval(hits, o.length)
  perKind.push({ kind, cheatedTasks: o.length, measured: hits / o.length, formula: plan.p * d, lo999: lo, hi999: hi })
}

const overhead = steady.steady.verifyChunks / steady.steady.usefulChunks
const equilibrium = honestEquilibrium({
  price: 100,
  stake: 1_000,
  slash: 500,
  p: plan.p,
  hitProbability: plan.hitProbability,
})
const results = {
  overhead,
  overheadWholeRun: steady.full.verifyChunks / steady.full.usefulChunks,
  detection: {
    cheatRate: CHEAT_RATE,
    probability: detected / lifetimes,
    withinTasks: WITHIN,
    lifetimes,
    formula: plan.detectionProbability,
    fromMeasuredCatchRate: detectionWithin(CHEAT_RATE * perCheck, WITHIN),
    interval999: interval(detected, lifetimes),
    perCheckCatch: {
      measured: perCheck,
      formula: plan.p * plan.hitProbability,
      interval999: interval(caught, outcomes.length),
    },
  },
  falsePositives: steady.full.falsePositives,
  plan: {
    p: plan.p,
    challengeChunks: plan.challengeChunks,
    chunks: plan.chunks,
    badChunks: plan.badChunks,
    expectedOverhead: plan.expectedOverhead,
  },
  steadyState: { ...steady.steady, window: 'last 5,000 of 10,000 tasks' },
  wholeRun: steady.full,
  perKind,
  equilibrium: { price: 100, stake: 1_000, slash: 500, ...equilibrium },
  seconds: { steadyState: steady.seconds, detection: detectionSeconds },
}

console.table({
  overhead: { value: overhead, target: '<= 0.10' },
  detection: {
    value: results.detection.probability,
    target: `>= 0.999 within ${WITHIN} tasks at cheat rate ${CHEAT_RATE}`,
  },
  'detection (formula)': { value: plan.detectionProbability, target: '' },
  'false positives': { value: results.falsePositives, target: '0' },
  'plan p / c of n': { value: `${plan.p.toFixed(4)} / ${plan.challengeChunks} of ${n}`, target: '' },
  'checks (whole run)': { value: steady.full.checks, target: '' },
})
console.table(perKind)
writeFileSync(new URL('./results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`)
