import { readFileSync } from 'node:fs'
import { MAX_TILE_PIXELS } from '@tessera/core'
import { describe, expect, it } from 'vitest'
import { MAX_REGION_WEIGHT, MIN_HEARTBEAT_MS } from '../src/constants.js'
import { loadScenario, parseScenario, validateScenario } from '../src/scenario/load.js'
import { parseDuration } from '../src/scenario/duration.js'
import { drawProfile } from '../src/models/gpu.js'
import { seededRng } from '@tessera/core'
import { minimal, refusalOf as codeAndPath } from './helpers.js'

const minimalText = readFileSync(new URL('./fixtures/minimal.yaml', import.meta.url), 'utf8')

describe('scenario', () => {
  it('should fill in defaults and resolve durations', async () => {
    const s = await loadScenario(new URL('./fixtures/minimal.yaml', import.meta.url).pathname)
    expect(s.durationMs).toBe(7_200_000)
    expect(s.metricsIntervalMs).toBe(600_000)
    expect(s.jobs.submitWindowMs).toBe(3_600_000)
    expect(s.jobs.bidWindowMs).toBe(5_000)
    expect(s.workers.score).toEqual({ median: 300, sigma: 0.5 })
    expect(s.network.gossip).toEqual({ meshDegree: 6, hopDelayMs: 15, audience: 0, verdictAudience: 0 })
    expect(s.jobs.verification.detect).toBe(0.999)
    expect(s.seed).toBe(1)
  })

  it('should read the same scenario from JSON and YAML', () => {
    expect(parseScenario(JSON.stringify(minimal()), 'json')).toEqual(parseScenario(minimalText, 'yaml'))
  })

  it('should reject an unknown field with its path', () => {
    const s = minimal()
    s.workers.speed = 3
    expect(codeAndPath(() => validateScenario(s))).toEqual({ code: 'SIM__INVALID_SCENARIO', path: '/workers/speed' })
  })

  it('should reject a wrong type with its path', () => {
    const s = minimal()
    s.jobs.count = 'many'
    expect(codeAndPath(() => validateScenario(s))).toEqual({ code: 'SIM__INVALID_SCENARIO', path: '/jobs/count' })
  })

  it('should reject a malformed duration with its path', () => {
    const s = minimal()
    s.duration = '2 hours'
    expect(codeAndPath(() => validateScenario(s))).toEqual({ code: 'SIM__INVALID_SCENARIO', path: '/duration' })
  })

  it('should reject a missing required field', () => {
    const s = minimal()
    delete s.workers
    expect(codeAndPath(() => validateScenario(s)).code).toBe('SIM__INVALID_SCENARIO')
  })

  it('should bound region weights, so that the largest ones still split peers between regions', () => {
    const s = minimal()
    s.regions = [
      { name: 'eu', weight: 1e308 },
      { name: 'us', weight: 1e308 },
    ]
    expect(codeAndPath(() => validateScenario(s))).toEqual({ code: 'SIM__INVALID_SCENARIO', path: '/regions/0/weight' })
    s.regions = [
      { name: 'eu', weight: MAX_REGION_WEIGHT },
      { name: 'us', weight: MAX_REGION_WEIGHT },
    ]
    const scenario = validateScenario(s)
    const rng = seededRng(7)
    const d = {
      ...scenario.workers,
      bandwidthMbps: scenario.network.bandwidthMbps,
      regionWeights: scenario.regions.map((r) => r.weight),
    }
    const regions = Array.from({ length: 200 }, () => drawProfile(rng, d).region)
    expect(regions.filter((r) => r === 0).length).toBeGreaterThan(70)
    expect(regions.filter((r) => r === 1).length).toBeGreaterThan(70)
  })

  it('should reject an undeclared region in the latency matrix', () => {
    const s = minimal()
    s.network.latencyMs.asia = { asia: 5 }
    expect(codeAndPath(() => validateScenario(s))).toEqual({
      code: 'SIM__INVALID_SCENARIO',
      path: '/network/latencyMs/asia',
    })
  })

  it('should reject a latency matrix that misses a pair', () => {
    const s = minimal()
    delete s.network.latencyMs.us
    expect(codeAndPath(() => validateScenario(s))).toEqual({
      code: 'SIM__INVALID_SCENARIO',
      path: '/network/latencyMs/us/us',
    })
  })

  it('should reject a partition that ends before it starts', () => {
    const s = minimal()
    s.network.partitions = [{ start: '1h', end: '30m', groups: [['eu']] }]
    expect(codeAndPath(() => validateScenario(s))).toEqual({
      code: 'SIM__INVALID_SCENARIO',
      path: '/network/partitions/0/end',
    })
  })

  it('should reject a loss rate above one in the per-pair matrix', () => {
    const s = minimal()
    s.network.loss = { eu: { us: 7 } }
    expect(codeAndPath(() => validateScenario(s))).toEqual({
      code: 'SIM__INVALID_SCENARIO',
      path: '/network/loss/eu/us',
    })
    s.network.loss = { eu: { us: 0.2 } }
    expect(validateScenario(s).network.loss).toEqual({ eu: { us: 0.2 } })
  })

  it('should reject a pair given twice with two values, and take it given twice alike', () => {
    const s = minimal()
    s.network.latencyMs.us.eu = 50
    expect(codeAndPath(() => validateScenario(s))).toEqual({
      code: 'SIM__INVALID_SCENARIO',
      path: '/network/latencyMs/eu/us',
    })
    s.network.loss = { eu: { us: 0.1 }, us: { eu: 0.3 } }
    s.network.latencyMs.us.eu = 45
    expect(codeAndPath(() => validateScenario(s)).path).toBe('/network/loss/eu/us')
    s.network.loss.us.eu = 0.1
    expect(validateScenario(s).network.latencyMs.us).toEqual({ us: 12, eu: 45 })
  })

  it('should reject a region in two groups of a partition', () => {
    const s = minimal()
    s.network.partitions = [{ start: 0, end: '1h', groups: [['eu', 'us'], ['us']] }]
    expect(codeAndPath(() => validateScenario(s))).toEqual({
      code: 'SIM__INVALID_SCENARIO',
      path: '/network/partitions/0/groups/1/0',
    })
  })

  it('should reject a heartbeat period below the least a run can afford', () => {
    const s = minimal()
    s.scheduler = { heartbeat: MIN_HEARTBEAT_MS - 1, lease: '1s' }
    expect(codeAndPath(() => validateScenario(s))).toEqual({
      code: 'SIM__INVALID_SCENARIO',
      path: '/scheduler/heartbeat',
    })
    s.scheduler.heartbeat = MIN_HEARTBEAT_MS
    expect(validateScenario(s).scheduler.heartbeatMs).toBe(MIN_HEARTBEAT_MS)
  })

  it('should reject tasks whose output is larger than a tile core allows', () => {
    const s = minimal()
    s.jobs.chunksPerTask = 4096
    s.outputs = { pixelsPerChunk: MAX_TILE_PIXELS / 4096 + 1 }
    expect(codeAndPath(() => validateScenario(s))).toEqual({
      code: 'SIM__INVALID_SCENARIO',
      path: '/outputs/pixelsPerChunk',
    })
    s.outputs.pixelsPerChunk = MAX_TILE_PIXELS / 4096
    expect(validateScenario(s).outputs.pixelsPerChunk).toBe(2048)
  })

  it('should reject adversary fractions above one', () => {
    const s = minimal()
    s.adversaries = { cheaters: { fraction: 0.7 }, lazy: { fraction: 0.5 } }
    expect(codeAndPath(() => validateScenario(s)).path).toBe('/adversaries/lazy/fraction')
  })

  it('should reject text that is neither JSON nor YAML', () => {
    expect(codeAndPath(() => parseScenario('{ "version": ', 'json')).code).toBe('SIM__MALFORMED_SCENARIO')
    expect(codeAndPath(() => parseScenario('a: [1, 2\nb: :', 'yaml')).code).toBe('SIM__MALFORMED_SCENARIO')
  })

  it('should report a missing file with a coded error', async () => {
    await expect(loadScenario('/nonexistent/scenario.yaml')).rejects.toMatchObject({ code: 'SIM__SCENARIO_NOT_FOUND' })
  })

  it('should parse durations with units', () => {
    expect(parseDuration('1.5m', '/x')).toBe(90_000)
    expect(parseDuration('250ms', '/x')).toBe(250)
    expect(parseDuration(42, '/x')).toBe(42)
    expect(() => parseDuration('5 days', '/x')).toThrow(/duration/)
  })
})
