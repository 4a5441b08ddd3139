import { parse as parseYaml } from 'yaml'
import { MAX_SWEEP_VALUES } from '../constants.js'
import { SimError } from '../errors.js'

/** A value a swept field takes: a YAML scalar, as it would be written in the scenario file. */
export type SweepValue = number | string | boolean

/** One swept field: a dotted path into the scenario as written, and the values it takes in turn. */
export interface SweepParameter {
  /** Dotted path, e.g. `adversaries.cheaters.fraction`; a numeric segment indexes an array (`regions.0.weight`). */
  path: string
  values: SweepValue[]
}

const SEGMENT = /^[A-Za-z0-9_-]+$/
/** Segments that would reach an object's prototype instead of a scenario field. */
const FORBIDDEN = new Set(['__proto__', 'prototype', 'constructor'])
/** Top-level fields every point of a sweep shares: the schema version, the name its outputs go by, the seed. */
const FIXED = new Set(['version', 'name', 'seed'])

function invalid(message: string, context: Record<string, unknown>): never {
  throw new SimError('SIM__INVALID_SWEEP', message, context)
}

/** Splits and checks a dotted path. */
export function pathSegments(path: string): string[] {
  const segments = path.split('.')
  for (const s of segments) {
    if (!SEGMENT.test(s) || FORBIDDEN.has(s)) invalid(`sweep path "${path}" has an invalid segment "${s}"`, { path })
  }
  if (segments.length === 1 && FIXED.has(segments[0] as string)) {
    invalid(`sweep path "${path}" names a field a sweep cannot vary (seeds come from --seed and --replications)`, {
      path,
    })
  }
  return segments
}

/** One value as YAML reads a scalar: `0.1` is a number, `true` a boolean, `90s` a string. */
function parseValue(text: string, path: string): SweepValue {
  let value: unknown
  try {
    value = parseYaml(text)
  } catch {
    value = text
  }
  if (typeof value === 'number' && Number.isFinite(value)) return value
  if (typeof value === 'boolean' || typeof value === 'string') return value
  return invalid(`sweep value "${text}" of ${path} is not a number, boolean or string`, { path, value: text })
}

/**
 * Parses `path=v1,v2,...` (the CLI's `--set`): values are YAML scalars separated by commas; at most
 * {@link MAX_SWEEP_VALUES}, none repeated.
 */
export function parseSweepParameter(text: string): SweepParameter {
  const eq = text.indexOf('=')
  if (eq <= 0) invalid(`sweep parameter "${text}" is not of the form path=value[,value...]`, { parameter: text })
  const path = text.slice(0, eq).trim()
  pathSegments(path)
  const raw = text.slice(eq + 1).split(',')
  if (raw.some((v) => v.trim() === '')) invalid(`sweep parameter "${text}" has an empty value`, { parameter: text })
  return checkParameter({ path, values: raw.map((v) => parseValue(v.trim(), path)) })
}

/** Checks a parameter given programmatically as the CLI checks `--set`. */
export function checkParameter(p: SweepParameter): SweepParameter {
  pathSegments(p.path)
  if (p.values.length === 0) invalid(`sweep parameter ${p.path} has no values`, { path: p.path })
  if (p.values.length > MAX_SWEEP_VALUES) {
    invalid(`sweep parameter ${p.path} has ${p.values.length} values; at most ${MAX_SWEEP_VALUES}`, { path: p.path })
  }
  const seen = new Set<SweepValue>()
  for (const v of p.values) {
    if (!(typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)))) {
      invalid(`sweep value ${String(v)} of ${p.path} is not a finite number, boolean or string`, { path: p.path })
    }
    if (seen.has(v)) invalid(`sweep parameter ${p.path} repeats the value ${String(v)}`, { path: p.path })
    seen.add(v)
  }
  return { path: p.path, values: [...p.values] }
}

/**
 * A deep copy of the scenario as written, with the field at `path` set to `value`. Missing objects on the way are
 * created (the schema then refuses fields it does not know, naming them); an array is indexed only within bounds.
 */
export function withOverride(input: unknown, path: string, value: SweepValue): unknown {
  const root: unknown = structuredClone(input)
  const segments = pathSegments(path)
  if (typeof root !== 'object' || root === null) invalid('a swept scenario must be an object', { path })
  let node = root as Record<string, unknown>
  for (let i = 0; i < segments.length; i++) {
    const key = segments[i] as string
    const last = i === segments.length - 1
    if (Array.isArray(node)) {
      const index = Number(key)
      if (!Number.isInteger(index) || index < 0 || index >= node.length) {
        invalid(`sweep path ${path}: "${key}" is not an index of an array of ${node.length}`, { path })
      }
    }
    if (last) {
      node[key] = value
      break
    }
    const next = Object.hasOwn(node, key) ? node[key] : undefined
    if (next === undefined) node[key] = {}
    else if (typeof next !== 'object' || next === null) {
      invalid(`sweep path ${path}: "${key}" holds a ${typeof next}, not an object`, { path })
    }
    node = node[key] as Record<string, unknown>
  }
  return root
}
