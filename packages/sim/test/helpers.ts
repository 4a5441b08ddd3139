import { PassThrough } from 'node:stream'
import { simCommand } from '../src/cli.js'
import { isSimError } from '../src/errors.js'
import { validateScenario } from '../src/scenario/load.js'
import type { Scenario, ScenarioInput } from '../src/scenario/types.js'

/** The code and the field path of the SimError `fn` throws; fails the test when it throws none. */
export function refusalOf(fn: () => unknown): { code: string; path: unknown } {
  try {
    fn()
  } catch (e) {
    if (isSimError(e)) return { code: e.code, path: e.context.path }
    throw e
  }
  throw new Error('expected a SimError')
}

/** The field path `fn` refuses with SIM__INVALID_SCENARIO; fails the test on any other outcome. */
export function invalidPathOf(fn: () => unknown): unknown {
  const { code, path } = refusalOf(fn)
  if (code !== 'SIM__INVALID_SCENARIO') throw new Error(`expected SIM__INVALID_SCENARIO, got ${code}`)
  return path
}

/**
 * The smallest scenario input the schema takes, for tests that break it at arbitrary paths (so untyped on purpose).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function minimal(): Record<string, any> {
  return {
    version: 1,
    name: 'minimal',
    duration: '2h',
    regions: [{ name: 'eu' }, { name: 'us' }],
    network: { latencyMs: { eu: { eu: 10, us: 45 }, us: { us: 12 } } },
    workers: { count: 4 },
    creators: { count: 1 },
    jobs: { count: 3 },
  }
}

/** A small two-region market; `overrides` replace top-level sections. */
export function smallScenario(overrides: Partial<ScenarioInput> = {}): Scenario {
  return validateScenario({
    version: 1,
    name: 'small',
    duration: '2h',
    metricsInterval: '10m',
    regions: [{ name: 'eu' }, { name: 'us' }],
    network: { latencyMs: { eu: { eu: 10, us: 40 }, us: { us: 12 } }, lossRate: 0 },
    workers: { count: 16 },
    creators: { count: 2 },
    verifiers: { count: 2 },
    jobs: {
      count: 60,
      submitWindow: '90m',
      tasks: { min: 2, max: 4 },
      benchHoursPerTask: { median: 2, sigma: 0.3 },
      deadline: '1h',
    },
    ...overrides,
  })
}

/** Runs `simCommand` with captured stdout and stderr. */
export async function invokeSim(argv: string[], cwd: string) {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  const out: string[] = []
  const err: string[] = []
  stdout.on('data', (d: Buffer) => out.push(d.toString()))
  stderr.on('data', (d: Buffer) => err.push(d.toString()))
  const code = await simCommand(argv, { stdout, stderr, cwd })
  return { code, stdout: out.join(''), stderr: err.join('') }
}
