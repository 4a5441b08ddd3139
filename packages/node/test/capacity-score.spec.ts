import { BENCHMARK_WORKLOAD, createEngine } from '@tessera/gpu'
import type { Engine } from '@tessera/gpu'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Datastore } from '../src/datastore.js'
import { capacityScore } from '../src/peer/capacity-score.js'
import { tempDir } from './helpers.js'

describe('capacity score', () => {
  let engine: Engine

  beforeAll(async () => {
    engine = await createEngine()
  })

  afterAll(() => {
    engine.destroy()
  })

  it('should measure once, keep the score, and measure again for another workload version', async () => {
    const tmp = await tempDir()
    const measured: unknown[] = []
    // A pino logger whose lines land in `measured`: the benchmark logs bench:measured each time it runs.
    const logger = pino({ level: 'info' }, { write: (line: string) => measured.push(JSON.parse(line)) })
    const db = await Datastore.open(tmp.path)
    try {
      const first = await capacityScore(engine, db, logger)
      expect(first).toBeGreaterThan(0)
      expect(measured).toHaveLength(1)
      expect(await db.get('meta', 'capacity-score')).toMatchObject({
        score: first,
        workloadVersion: BENCHMARK_WORKLOAD.version,
      })

      await expect(capacityScore(engine, db, logger)).resolves.toBe(first)
      expect(measured).toHaveLength(1)

      // A score kept by an older node, in version 1's units and without a version, is measured again.
      const { adapter } = (await db.get<{ adapter: string }>('meta', 'capacity-score'))!
      await db.put('meta', 'capacity-score', { score: 1234, adapter })
      const again = await capacityScore(engine, db, logger)
      expect(again).not.toBe(1234)
      expect(measured).toHaveLength(2)
    } finally {
      await db.close()
      await tmp.cleanup()
    }
  })
})
