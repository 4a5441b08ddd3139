import { seededRng } from '@tessera/core'
import { describe, expect, it } from 'vitest'
import { ChunkKind } from '../src/models/output.js'
import { runScenario } from '../src/run.js'
import { HONEST, planTask, type Behaviour } from '../src/world/behaviour.js'
import { smallScenario } from './helpers.js'

/** How many chunks of each kind one planned task has. */
function kindsOf(behaviour: Behaviour, chunks = 32): Record<'honest' | 'lazy' | 'wrong', number> {
  const { kinds } = planTask(behaviour, chunks, seededRng(1))
  const count = (kind: ChunkKind): number => kinds.filter((k) => k === kind).length
  return { honest: count(ChunkKind.Honest), lazy: count(ChunkKind.Lazy), wrong: count(ChunkKind.Wrong) }
}

describe('planTask', () => {
  const lazy: Behaviour = { ...HONEST, role: 'lazy', badTaskRate: 1, lazyNoise: 40 }
  const cheater: Behaviour = { ...HONEST, role: 'cheater', badTaskRate: 1, wrongChunkFraction: 0.25 }

  it('should render every chunk of a lazy task lazily, and none when a lazy render has no noise', () => {
    expect(kindsOf(lazy)).toEqual({ honest: 0, lazy: 32, wrong: 0 })
    expect(kindsOf({ ...lazy, lazyNoise: 0 })).toEqual({ honest: 32, lazy: 0, wrong: 0 })
    expect(planTask({ ...lazy, lazyNoise: 0 }, 32, seededRng(1)).bad).toBe(false)
  })

  it("should get a cheater's share of the chunks wrong, at least one, and none at a share of 0", () => {
    expect(kindsOf(cheater)).toEqual({ honest: 24, lazy: 0, wrong: 8 })
    expect(kindsOf({ ...cheater, wrongChunkFraction: 0.001 })).toEqual({ honest: 31, lazy: 0, wrong: 1 })
    expect(kindsOf({ ...cheater, wrongChunkFraction: 0 })).toEqual({ honest: 32, lazy: 0, wrong: 0 })
    expect(planTask({ ...cheater, wrongChunkFraction: 0 }, 32, seededRng(1)).bad).toBe(false)
  })

  it('should leave cheaters with no wrong chunks, and lazy workers without render noise, as good as honest', async () => {
    const cheaters = await runScenario(
      smallScenario({ adversaries: { cheaters: { fraction: 0.25, wrongChunkFraction: 0 } } }),
      { seed: 5 },
    )
    expect(cheaters.report.summary.roles.cheater.tasksCompleted).toBeGreaterThan(0)
    expect(cheaters.report.summary.roles.cheater.tasksBad).toBe(0)
    const lazyWorkers = await runScenario(
      smallScenario({
        outputs: { honestNoise: 0, renderNoise: 0 },
        adversaries: { lazy: { fraction: 0.25, sampleFraction: 0.25 } },
      }),
      { seed: 5 },
    )
    expect(lazyWorkers.report.summary.roles.lazy.tasksCompleted).toBeGreaterThan(0)
    expect(lazyWorkers.report.summary.roles.lazy.tasksBad).toBe(0)
  })
})
