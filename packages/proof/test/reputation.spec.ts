import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Reputation } from '../src/index.js'
import type { Verdict } from '@tessera/core'

function verdict(worker: string, verifier: string, outcome: Verdict['outcome'], extra: Partial<Verdict> = {}): Verdict {
  return {
    jobId: 'j',
    taskId: `t-${Math.random()}`,
    worker,
    verifier,
    root: new Uint8Array(32),
    outcome,
    round: 0,
    issuedAt: 0,
    ...extra,
  }
}

describe('Reputation', () => {
  it('should start a new identity low, raise it with valid results and drop it harder on failures', () => {
    const r = new Reputation()
    expect(r.score('new')).toBeCloseTo(0.2, 12)
    for (let i = 0; i < 20; i++) r.recordLocal('w', 'pass')
    const trusted = r.score('w')
    expect(trusted).toBeCloseTo(21 / 25, 12)
    r.recordLocal('w', 'fail')
    expect(r.score('w')).toBeCloseTo(21 / 30, 12)
    r.recordLocal('w', 'refused')
    expect(r.score('w')).toBeLessThan(21 / 30)
  })

  it('should leave no gain in whitewashing: a fresh identity scores below any worker with a record', () => {
    const r = new Reputation()
    for (let i = 0; i < 3; i++) r.recordLocal('veteran', 'pass')
    r.recordLocal('cheater', 'fail')
    expect(r.score('fresh-identity')).toBeLessThan(r.score('veteran'))
    expect(r.score('fresh-identity')).toBeGreaterThan(r.score('cheater'))
  })

  it('should weigh gossiped verdicts by the issuer stake so cheap accusers cannot smear', () => {
    const stakes = new Map<string, bigint>([['whale', 10_000_000n]])
    const r = new Reputation({ stakeOf: (p) => stakes.get(p) ?? 0n, stakeHalfWeight: 1_000_000n })
    for (let i = 0; i < 20; i++) r.recordLocal('honest', 'pass')
    const before = r.score('honest')
    for (let i = 0; i < 1000; i++)
      expect(r.observe(verdict('honest', `sybil-${i}`, 'fail', { fraudProof: new Uint8Array(32) }), `sybil-${i}`)).toBe(
        0,
      )
    expect(r.score('honest')).toBe(before)
    const w = r.observe(verdict('honest', 'whale', 'fail', { fraudProof: new Uint8Array(32) }), 'whale')
    expect(w).toBeCloseTo(10 / 11, 12)
    expect(r.score('honest')).toBeLessThan(before)
  })

  it('should count a small stake a little and an arbitrated failure more', () => {
    const stakes = new Map<string, number>([
      ['small', 10_000],
      ['big', 1_000_000],
    ])
    const r = new Reputation({ stakeOf: (p) => stakes.get(p), stakeHalfWeight: 1_000_000 })
    expect(r.observe(verdict('w', 'small', 'pass'), 'small')).toBeCloseTo(10_000 / 1_010_000, 12)
    expect(r.observe(verdict('w', 'big', 'fail', { fraudProof: new Uint8Array(32), round: 1 }), 'big')).toBeCloseTo(
      1,
      12,
    )
    expect(r.observe(verdict('w', 'big', 'refused'), 'big')).toBeCloseTo(0.25, 12)
  })

  it('should ignore self-judgement, verdicts not issued by their signer, and repeats', () => {
    const r = new Reputation({ stakeOf: () => 10n ** 9n })
    expect(r.observe(verdict('w', 'w', 'pass'), 'w')).toBe(0)
    expect(r.observe(verdict('w', 'x', 'pass'), 'y')).toBe(0)
    const v = verdict('w', 'x', 'pass')
    expect(r.observe(v, 'x')).toBeGreaterThan(0)
    expect(r.observe(v, 'x')).toBe(0)
    expect(r.evidence('w').valid).toBeCloseTo(10 ** 9 / (10 ** 9 + 10 ** 6), 9)
  })

  it("should count a verdict about a re-awarded task's next worker, in the same round", () => {
    const r = new Reputation({ stakeOf: () => 10n ** 9n })
    const first = verdict('w1', 'x', 'fail', { taskId: 't' })
    expect(r.observe(first, 'x')).toBeGreaterThan(0)
    expect(r.observe({ ...verdict('w2', 'x', 'pass'), taskId: 't' }, 'x')).toBeGreaterThan(0)
    expect(r.evidence('w2').valid).toBeGreaterThan(0)
    expect(r.observe({ ...first }, 'x')).toBe(0)
  })

  it("should count one verdict per issuer about a task's result, its first, whatever rounds it names", () => {
    const r = new Reputation({ stakeOf: () => 10n ** 9n })
    const first = verdict('w', 'x', 'pass', { taskId: 't', fraudProof: new Uint8Array(32), round: 1 })
    const weight = r.observe(first, 'x')
    expect(weight).toBeGreaterThan(0)
    for (let round = 0; round <= 16; round++) {
      expect(r.observe({ ...first, round }, 'x')).toBe(0)
      expect(r.observe({ ...first, round, outcome: 'fail' }, 'x')).toBe(0)
    }
    expect(r.evidence('w')).toEqual({ valid: weight, failed: 0 })
    // Another issuer, or the same issuer about another task, still counts.
    expect(r.observe({ ...first, verifier: 'y' }, 'y')).toBeGreaterThan(0)
    expect(r.observe({ ...first, taskId: 't2', round: 2 }, 'x')).toBeGreaterThan(0)
  })

  it("should cap what one issuer's unsolicited verdicts move a peer, however many tasks they name", () => {
    // A staked issuer signing verdicts about tasks that never were: it may raise a Sybil or sink a rival only so far.
    const r = new Reputation({ stakeOf: () => 1_000_000n, maxSeenPerIssuer: 10_000 })
    let given = 0
    for (let i = 0; i < 2_000; i++) given += r.observe(verdict('sybil', 'staked', 'pass'), 'staked')
    for (let i = 0; i < 2_000; i++) given += r.observe(verdict('victim', 'staked', 'refused'), 'staked')
    expect(given).toBeCloseTo(4, 12)
    expect(r.evidence('sybil')).toEqual({ valid: 2, failed: 0 })
    expect(r.evidence('victim')).toEqual({ valid: 0, failed: 2 })
    expect(r.score('sybil')).toBeCloseTo(3 / 7, 12)
    expect(r.score('victim')).toBeCloseTo(1 / 15, 12)
    // Each issuer has its own allowance, and a cap on passes leaves room for failures.
    expect(r.observe(verdict('sybil', 'other', 'pass'), 'other')).toBeCloseTo(0.5, 12)
    expect(r.observe(verdict('sybil', 'staked', 'fail', { fraudProof: new Uint8Array(32) }), 'staked')).toBeCloseTo(
      0.5,
      12,
    )
  })

  it('should count a verdict once, and refuse new ones rather than forget old ones once its memory is full', () => {
    const r = new Reputation({ stakeOf: () => 1_000_000n, maxSeen: 3, maxIssuerWeight: 100 })
    const same = verdict('victim', 'staked', 'refused', { taskId: 'real-task' })
    expect(r.observe(same, 'staked')).toBeCloseTo(0.25, 12)
    for (let i = 0; i < 5; i++) r.observe(verdict(`filler-${i}`, 'other', 'pass'), 'other')
    expect(r.observe(same, 'staked')).toBe(0)
    expect(r.observe(verdict('victim', 'staked', 'refused'), 'staked')).toBe(0)
    expect(r.evidence('victim')).toEqual({ valid: 0, failed: 0.25 })
  })

  it("should let one issuer fill only its share of the memory, leaving the others' room", () => {
    const r = new Reputation({ stakeOf: () => 1_000_000n, maxSeenPerIssuer: 2, maxIssuerWeight: 100 })
    for (let i = 0; i < 2; i++) expect(r.observe(verdict(`w${i}`, 'chatty', 'pass'), 'chatty')).toBeGreaterThan(0)
    expect(r.observe(verdict('w2', 'chatty', 'pass'), 'chatty')).toBe(0)
    expect(r.observe(verdict('w2', 'quiet', 'pass'), 'quiet')).toBeGreaterThan(0)
  })

  it('should count a solicited verdict whole: uncapped, once, and an unproven failure as a proven one', () => {
    const r = new Reputation({ stakeOf: () => 1_000_000n, maxSeen: 1 })
    for (let i = 0; i < 10; i++) {
      expect(r.observe(verdict('w', 'delegate', 'pass'), 'delegate', { solicited: true })).toBeCloseTo(0.5, 12)
    }
    expect(r.evidence('w').valid).toBeCloseTo(5, 12)
    // A worker that refused our delegate's challenge fares no better than one it caught with a fraud proof.
    const refused = verdict('x', 'delegate', 'refused')
    const caught = verdict('y', 'delegate', 'fail', { fraudProof: new Uint8Array(32) })
    expect(r.observe(refused, 'delegate', { solicited: true })).toBeCloseTo(0.5, 12)
    expect(r.observe(caught, 'delegate', { solicited: true })).toBeCloseTo(0.5, 12)
    // Its first verdict was remembered while there was room: repeated as gossip, it does not count again.
    const first = verdict('z', 'delegate', 'pass')
    const fresh = new Reputation({ stakeOf: () => 1_000_000n })
    expect(fresh.observe(first, 'delegate', { solicited: true })).toBeCloseTo(0.5, 12)
    expect(fresh.observe(first, 'delegate')).toBe(0)
  })

  it('should forget the least recently updated peer beyond maxTracked, which then scores as new', () => {
    const r = new Reputation({ maxTracked: 2 })
    r.recordLocal('a', 'pass')
    r.recordLocal('b', 'fail')
    r.recordLocal('a', 'pass') // a is now the most recently updated
    r.recordLocal('c', 'pass') // evicts b, and c takes b's storage without its evidence
    expect(r.tracked).toBe(2)
    expect(r.evidence('a')).toEqual({ valid: 2, failed: 0 })
    expect(r.evidence('b')).toEqual({ valid: 0, failed: 0 })
    expect(r.score('b')).toBeCloseTo(0.2, 12)
    expect(r.evidence('c')).toEqual({ valid: 1, failed: 0 })
  })

  it('should score a kept list of peers as score() does, through slot reuse, repeats and list changes', () => {
    const peer = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f')
    const step = fc.oneof(
      fc.record({
        kind: fc.constant('record' as const),
        peer,
        outcome: fc.constantFrom('pass' as const, 'fail' as const),
      }),
      fc.record({ kind: fc.constant('list' as const), peers: fc.array(peer, { maxLength: 5 }) }),
    )
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        // Room for three peers of six, so slots are evicted and reused.
        const r = new Reputation({ maxTracked: 3 })
        let list: readonly string[] = ['a', 'b', 'c', 'a']
        for (const s of steps) {
          if (s.kind === 'record') r.recordLocal(s.peer, s.outcome)
          else list = s.peers
          const out = new Float64Array(list.length + 1).fill(-1)
          r.scoresOf(list, out, 1)
          expect(out[0]).toBe(-1)
          expect([...out.subarray(1)]).toEqual(list.map((p) => r.score(p)))
        }
      }),
      { numRuns: 200, seed: 3 },
    )
  })

  it('should keep the evidence of every peer as the number of peers grows', () => {
    const r = new Reputation()
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 1_000; i++) r.recordLocal(`w${i}`, i % 7 === 0 ? 'fail' : 'pass')
    }
    expect(r.tracked).toBe(1_000)
    for (let i = 0; i < 1_000; i++) {
      expect(r.evidence(`w${i}`)).toEqual(i % 7 === 0 ? { valid: 0, failed: 3 } : { valid: 3, failed: 0 })
    }
  })

  it('should report each change of evidence, and restore kept evidence in order without reporting it', () => {
    const updates: Array<[string, { valid: number; failed: number }]> = []
    const r = new Reputation({ maxTracked: 2, onUpdate: (peer, evidence) => updates.push([peer, evidence]) })
    r.recordLocal('a', 'pass')
    r.recordLocal('a', 'fail')
    expect(updates).toEqual([
      ['a', { valid: 1, failed: 0 }],
      ['a', { valid: 1, failed: 1 }],
    ])
    const again = new Reputation({ maxTracked: 2, onUpdate: (peer, evidence) => updates.push([peer, evidence]) })
    // Oldest first: the last restored is the most recently updated, so `c` pushes out `a`, not `b`.
    again.restore('a', { valid: 1, failed: 1 })
    again.restore('b', { valid: 4, failed: 0 })
    again.restore('a', { valid: 2, failed: 1 })
    again.restore('c', { valid: 0, failed: 2 })
    expect(updates).toHaveLength(2)
    expect(again.evidence('a')).toEqual({ valid: 2, failed: 1 })
    expect(again.evidence('b')).toEqual({ valid: 0, failed: 0 })
    expect(again.evidence('c')).toEqual({ valid: 0, failed: 2 })
    expect(again.score('c')).toBeLessThan(again.score('unknown'))
    expect(() => again.restore('d', { valid: Number.NaN, failed: 0 })).toThrow(
      expect.objectContaining({ code: 'PROOF__INVALID_INPUT' }),
    )
    expect(() => again.restore('d', { valid: 0, failed: -1 })).toThrow(
      expect.objectContaining({ code: 'PROOF__INVALID_INPUT' }),
    )
  })
})
