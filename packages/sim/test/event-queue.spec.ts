import { nextInt, seededRng } from '@tessera/core'
import { describe, expect, it } from 'vitest'
import { EventQueue } from '../src/engine/event-queue.js'
import { Simulation } from '../src/engine/simulation.js'
import { isSimError } from '../src/errors.js'

describe('EventQueue', () => {
  it('should pop events by time, then by insertion order', () => {
    const q = new EventQueue(2)
    const rng = seededRng(7)
    const pushed: { time: number; seq: number }[] = []
    for (let seq = 0; seq < 5000; seq++) {
      const time = nextInt(rng, 50)
      pushed.push({ time, seq })
      q.push(time, () => {}, seq)
    }
    const popped: { time: number; seq: number }[] = []
    while (q.pop()) popped.push({ time: q.poppedTime, seq: q.poppedArg as number })
    const expected = [...pushed].sort((a, b) => a.time - b.time || a.seq - b.seq)
    expect(popped).toEqual(expected)
  })

  it('should interleave pushes and pops without losing events', () => {
    const q = new EventQueue(4)
    const rng = seededRng(3)
    let last = -1
    let count = 0
    for (let round = 0; round < 2000; round++) {
      q.push(last + 1 + nextInt(rng, 100), () => {}, round)
      q.push(last + 1 + nextInt(rng, 100), () => {}, round)
      expect(q.pop()).toBe(true)
      expect(q.poppedTime).toBeGreaterThanOrEqual(last)
      last = q.poppedTime
      count++
    }
    while (q.pop()) count++
    expect(count).toBe(4000)
    expect(q.size).toBe(0)
    expect(q.peekTime()).toBe(Infinity)
  })

  it("should hand back each event's own handler and argument through growth and random interleaving", () => {
    const q = new EventQueue(2)
    const rng = seededRng(11)
    // The model: every queued event, kept sorted by (time, seq).
    const model: { time: number; seq: number; handler: () => void }[] = []
    let seq = 0
    for (let step = 0; step < 20_000; step++) {
      if (nextInt(rng, 3) > 0 || model.length === 0) {
        const time = nextInt(rng, 200)
        const handler = (): void => {}
        q.push(time, handler, seq)
        model.push({ time, seq, handler })
        model.sort((a, b) => a.time - b.time || a.seq - b.seq)
        seq++
      } else {
        const expected = model.shift() as (typeof model)[number]
        expect(q.pop()).toBe(true)
        expect([q.poppedTime, q.poppedArg]).toEqual([expected.time, expected.seq])
        expect(q.poppedHandler).toBe(expected.handler)
      }
      expect(q.size).toBe(model.length)
    }
  })
})

describe('Simulation', () => {
  it('should fire same-time events in the order they were scheduled', () => {
    const sim = new Simulation({ seed: 1, start: 0 })
    const log: string[] = []
    sim.at(10, (s: string) => log.push(s), 'a')
    sim.at(5, (s: string) => log.push(s), 'b')
    sim.at(10, (s: string) => log.push(s), 'c')
    sim.at(
      5,
      (s: string, now) => {
        log.push(s)
        // Scheduled now, at the current time: fires after everything already queued for this instant.
        sim.at(now, (x: string) => log.push(x), 'e')
      },
      'd',
    )
    sim.run(Infinity)
    expect(log).toEqual(['b', 'd', 'e', 'a', 'c'])
    expect(sim.now).toBe(10)
    expect(sim.fired).toBe(5)
  })

  it('should stop at the horizon and advance virtual time to it', () => {
    const sim = new Simulation({ seed: 1, start: 0 })
    const seen: number[] = []
    for (const t of [3, 7, 12, 20]) sim.at(t, (x: number) => seen.push(x), t)
    expect(sim.run(10)).toBe(2)
    expect(sim.now).toBe(10)
    expect(sim.pending).toBe(2)
    expect(sim.run(100, 1)).toBe(1)
    expect(seen).toEqual([3, 7, 12])
  })

  it('should round event times to whole milliseconds', () => {
    const sim = new Simulation({ seed: 1, start: 0 })
    let at = -1
    sim.after(2.6, (_: null, now) => (at = now), null)
    sim.run(Infinity)
    expect(at).toBe(3)
  })

  it('should reject an event in the past with a coded error', () => {
    const sim = new Simulation({ seed: 1, start: 100 })
    let caught: unknown
    try {
      sim.at(99, () => {}, null)
    } catch (e) {
      caught = e
    }
    expect(isSimError(caught, 'SIM__EVENT_IN_PAST')).toBe(true)
  })

  it('should derive the same random stream for the same seed and label, and a different one otherwise', () => {
    const a = new Simulation({ seed: 42 }).rng('network')
    const b = new Simulation({ seed: 42 }).rng('network')
    const c = new Simulation({ seed: 42 }).rng('gpu')
    const d = new Simulation({ seed: 43 }).rng('network')
    const draw = (r: { nextU32(): number }) => Array.from({ length: 8 }, () => r.nextU32())
    const first = draw(a)
    expect(draw(b)).toEqual(first)
    expect(draw(c)).not.toEqual(first)
    expect(draw(d)).not.toEqual(first)
  })

  it('should reject a seed outside 32 bits', () => {
    expect(() => new Simulation({ seed: -1 })).toThrow(/seed/)
    expect(() => new Simulation({ seed: 2 ** 32 })).toThrow(/seed/)
  })
})
