import { cryptoRng, systemClock } from '@tessera/core'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { Verification } from '../src/peer/verification.js'
import { CREATOR, idleBus } from './fixtures.js'

const bus = idleBus(CREATOR)

const components = {
  bus,
  clock: systemClock,
  rng: cryptoRng(),
  logger: pino({ level: 'silent' }),
  orderOf: () => undefined,
  shapeOf: () => undefined,
  recompute: () => Promise.resolve([]),
}

describe('verification thresholds', () => {
  it("should hand the config's tolerance thresholds to the verifier machine, which checks them", () => {
    expect(() => new Verification({ ...components, tolerance: { psnrOutlierFraction: 0.5 } })).toThrow(
      expect.objectContaining({ code: 'PROOF__INVALID_INPUT' }),
    )
    new Verification({ ...components, tolerance: { psnrOutlierFraction: 0, minPsnrDb: 40 } }).stop()
  })
})
