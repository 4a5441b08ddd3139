import { seededRng, type Rng } from '@tessera/core'
import { describe, expect, it } from 'vitest'
import { detectionWithin, hitProbability, planVerification, type VerificationPlan } from '../src/index.js'
import { f32, TestNet, type TestPeer } from './harness.js'

/**
 * The acceptance criteria 1 and 2, run through the real machines with real signed envelopes: honest workers
 * on "another driver" pass under tolerance, and each kind of cheater is caught as often as the planner's formula
 * says, within a 99.9% binomial interval.
 */

const Z999 = 3.29
const uniform = (r: Rng): number => r.nextU32() / 2 ** 32
const gauss = (r: Rng): number => Math.sqrt(-2 * Math.log(1 - uniform(r))) * Math.cos(2 * Math.PI * uniform(r))

/** A task's honest tensor output (`chunks` slices of 8 dot products of length 32), accumulated in one order. */
function tensorTask(seed: number, chunks: number, order: 'forward' | 'backward'): Uint8Array[] {
  const r = seededRng(seed)
  return Array.from({ length: chunks }, () =>
    f32(
      Array.from({ length: 8 }, () => {
        const terms = Array.from({ length: 32 }, () => Math.fround(Math.fround(gauss(r)) * Math.fround(gauss(r))))
        const seq = order === 'forward' ? terms : terms.reverse()
        return seq.reduce((s, t) => Math.fround(s + t), 0)
      }),
    ),
  )
}

/** A task's honest output as opaque bytes (bitwise class): `chunks` chunks of 8 bytes. */
function bytesTask(seed: number, chunks: number): Uint8Array[] {
  const r = seededRng(seed)
  return Array.from({ length: chunks }, () => Uint8Array.from({ length: 8 }, () => r.nextU32() & 0xff))
}

/** A task's honest image output: `chunks` rows of 16 rgba8 pixels. */
function imageTask(seed: number, chunks: number): Uint8Array[] {
  const r = seededRng(seed)
  return Array.from({ length: chunks }, () =>
    Uint8Array.from({ length: 64 }, (_, i) => (i % 4 === 3 ? 255 : (uniform(r) * 256) | 0)),
  )
}

/** The same image as another GPU renders it: rounding differs by up to one level in some channels. */
function otherDriverImage(chunks: Uint8Array[], r: Rng): Uint8Array[] {
  return chunks.map((c) =>
    c.map((v, i) => (i % 4 === 3 ? v : Math.min(255, Math.max(0, v + Math.round((uniform(r) - 0.5) * 2.5))))),
  )
}

/** Bounds of a 99.9% interval around the expected count of `n` trials of probability `q`. */
function expectWithinBinomial(count: number, n: number, q: number): void {
  const sd = Math.sqrt(n * q * (1 - q))
  expect(count).toBeGreaterThanOrEqual(n * q - Z999 * sd - 1)
  expect(count).toBeLessThanOrEqual(n * q + Z999 * sd + 1)
}

async function network(
  plan: Pick<VerificationPlan, 'p' | 'challengeChunks'>,
): Promise<{ net: TestNet; creator: TestPeer; worker: TestPeer }> {
  const net = new TestNet({ seed: 99, verifier: { plan, sampling: { pNew: plan.p, pMin: plan.p } } })
  const [creator, worker] = (await net.addPeers(2)) as [TestPeer, TestPeer]
  return { net, creator, worker }
}

function caught(net: TestNet): number {
  return net.eventsOf('task:rejected').length
}

describe('acceptance', () => {
  it('should pass honest workers on another driver: 0 false positives in 1,200 checks', async () => {
    const { net, creator, worker } = await network({ p: 1, challengeChunks: 4 })
    const r = seededRng(5)
    for (let t = 0; t < 600; t++) {
      net.commit(worker, creator, {
        jobId: 'tensor',
        taskId: `t${t}`,
        honest: tensorTask(t, 16, 'forward'),
        delivered: tensorTask(t, 16, 'backward'),
        tolerance: 'relative',
      })
      const image = imageTask(10_000 + t, 16)
      net.commit(worker, creator, {
        jobId: 'image',
        taskId: `t${t}`,
        honest: image,
        delivered: otherDriverImage(image, r),
        tolerance: 'psnr:rgba8',
      })
    }
    const checks = net.verdicts.filter((v) => v.from === creator.id)
    expect(checks).toHaveLength(1200)
    expect(checks.filter((v) => v.verdict.outcome !== 'pass')).toHaveLength(0)
    expect(net.slashes).toHaveLength(0)
    // The drivers really differ: bitwise comparison would have failed most of these.
    const differing = [...net.reference.keys()].filter((k) => k.startsWith('tensor')).length
    expect(differing).toBe(600)
    expect(creator.verifier.sampler.streak(worker.id)).toBe(1200)
  })

  const plan = planVerification({ detect: 0.999, withinTasks: 200, cheatRate: 0.1, maxOverhead: 0.1 })
  const d = hitProbability(plan.chunks, plan.badChunks, plan.challengeChunks)

  it('should catch a worker wrong on a fraction f of tasks as often as f·p·d predicts', async () => {
    const { net, creator, worker } = await network(plan)
    const r = seededRng(6)
    const tasks = 1600
    let cheated = 0
    for (let t = 0; t < tasks; t++) {
      const honest = bytesTask(t, 64)
      const cheat = uniform(r) < 0.1
      if (cheat) cheated++
      const delivered = cheat ? honest.map(() => new Uint8Array(8)) : honest
      net.commit(worker, creator, { jobId: 'j', taskId: `t${t}`, honest, delivered })
    }
    expectWithinBinomial(caught(net), tasks, 0.1 * plan.p * 1)
    expectWithinBinomial(caught(net), cheated, plan.p)
    // Lifetimes of 200 tasks: each should see its cheater caught (1 - (1 - f·p)^200 > 0.99999).
    const rejected = new Set(
      net.eventsOf('task:rejected').map((e) => Number((e.event as { taskId: string }).taskId.slice(1))),
    )
    for (let life = 0; life < tasks / 200; life++) {
      expect([...rejected].some((t) => t >= life * 200 && t < (life + 1) * 200)).toBe(true)
    }
    expect(detectionWithin(0.1 * plan.p, 200)).toBeGreaterThan(0.999)
  })

  it('should catch a worker faking random chunks as often as p·d(n, b, c) predicts', async () => {
    const { net, creator, worker } = await network(plan)
    const r = seededRng(7)
    const tasks = 1200
    for (let t = 0; t < tasks; t++) {
      const honest = bytesTask(20_000 + t, 64)
      const fake = new Set<number>()
      while (fake.size < plan.badChunks) fake.add(Math.floor(uniform(r) * 64))
      const delivered = honest.map((c, i) => (fake.has(i) ? Uint8Array.from(c, () => r.nextU32() & 0xff) : c))
      net.commit(worker, creator, { jobId: 'j', taskId: `t${t}`, honest, delivered })
    }
    expect(d).toBeCloseTo(plan.hitProbability, 12)
    expectWithinBinomial(caught(net), tasks, plan.p * d)
  })

  it('should catch a worker replaying an old output', async () => {
    const { net, creator, worker } = await network(plan)
    const tasks = 600
    const old = bytesTask(0, 64)
    for (let t = 1; t <= tasks; t++) {
      const honest = bytesTask(30_000 + t, 64)
      net.commit(worker, creator, { jobId: 'j', taskId: `t${t}`, honest, delivered: old })
    }
    expectWithinBinomial(caught(net), tasks, plan.p)
    expect(net.slashes.length).toBe(caught(net))
  })

  it('should catch a worker rendering with fewer samples under the PSNR class', async () => {
    const { net, creator, worker } = await network(plan)
    const r = seededRng(8)
    const tasks = 600
    for (let t = 0; t < tasks; t++) {
      const honest = imageTask(40_000 + t, 64)
      // Fewer samples per pixel: the same image with Monte Carlo noise about 4x larger in deviation.
      const delivered = honest.map((c) =>
        c.map((v, i) => (i % 4 === 3 ? v : Math.min(255, Math.max(0, Math.round(v + gauss(r) * 20))))),
      )
      net.commit(worker, creator, { jobId: 'j', taskId: `t${t}`, honest, delivered, tolerance: 'psnr:rgba8' })
    }
    expectWithinBinomial(caught(net), tasks, plan.p)
  })
})
