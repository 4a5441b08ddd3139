import { dirname, resolve } from 'node:path'
import { Ajv } from 'ajv'
import { SimError } from '../errors.js'
import { MAX_SWEEP_VALUES } from '../constants.js'
import { SCHEMA_REFERENCE } from '../scenario/schema.js'
import { SWEEP_METRIC_NAMES, type SweepMetric } from './metrics.js'
import { checkParameter, type SweepParameter } from './parameters.js'
import { MAX_REPLICATIONS } from './plan.js'

/** A sweep saved as a file: which scenario, which fields over which values, how many seeds. */
export interface SweepDefinition {
  /** Absolute path of the scenario file (written relative to the sweep file). */
  scenario: string
  parameters: SweepParameter[]
  replications?: number
  seed?: number
  charts?: SweepMetric[]
}

/** The schema of a sweep file (YAML or JSON). */
export const SWEEP_FILE_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://tessera.dev/schemas/sim-sweep-1.json',
  title: 'Tessera simulation sweep',
  type: 'object',
  additionalProperties: false,
  required: ['version', 'scenario'],
  properties: {
    $schema: SCHEMA_REFERENCE,
    version: { const: 1 },
    description: { type: 'string', maxLength: 2000 },
    scenario: { type: 'string', minLength: 1, maxLength: 4096, description: 'scenario file, relative to this file' },
    parameters: {
      type: 'object',
      maxProperties: 8,
      additionalProperties: {
        type: 'array',
        minItems: 1,
        maxItems: MAX_SWEEP_VALUES,
        items: { type: ['number', 'string', 'boolean'] },
      },
    },
    replications: { type: 'integer', minimum: 1, maximum: MAX_REPLICATIONS },
    seed: { type: 'integer', minimum: 0, maximum: 4294967295 },
    charts: { type: 'array', maxItems: SWEEP_METRIC_NAMES.length, items: { enum: SWEEP_METRIC_NAMES } },
  },
} as const

let validator: ReturnType<Ajv['compile']> | undefined

/** True when a parsed file is a sweep file rather than a scenario: it names a scenario. */
export function isSweepFile(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Object.hasOwn(value, 'scenario')
}

/**
 * Validates a parsed sweep file read from `path` and resolves its scenario path against the file's directory.
 * Throws `SIM__INVALID_SWEEP` naming the failing field.
 */
export function parseSweepDefinition(value: unknown, path: string): SweepDefinition {
  validator ??= new Ajv({ allErrors: false, strict: true, strictTypes: false }).compile(SWEEP_FILE_SCHEMA)
  if (!validator(value)) {
    const e = validator.errors?.[0]
    throw new SimError('SIM__INVALID_SWEEP', `sweep file ${e?.instancePath || '/'} ${e?.message ?? 'is invalid'}`, {
      path: e?.instancePath || '/',
      file: path,
    })
  }
  const v = value as {
    scenario: string
    parameters?: Record<string, (number | string | boolean)[]>
    replications?: number
    seed?: number
    charts?: SweepMetric[]
  }
  return {
    scenario: resolve(dirname(path), v.scenario),
    parameters: Object.entries(v.parameters ?? {}).map(([p, values]) => checkParameter({ path: p, values })),
    ...(v.replications === undefined ? {} : { replications: v.replications }),
    ...(v.seed === undefined ? {} : { seed: v.seed }),
    ...(v.charts === undefined ? {} : { charts: v.charts }),
  }
}
