import { DEFAULT_MIN_PSNR_DB, DEFAULT_PSNR_OUTLIER_FRACTION, MAX_PSNR_OUTLIER_FRACTION } from '@tessera/proof'
import { MAX_MIN_BIDS, MAX_TASKS_PER_JOB } from '@tessera/scheduler'
import {
  DEFAULT_DIVERGED_PIXELS,
  DEFAULT_LOGNORMALS,
  MAX_BME_TOKENS,
  MAX_JOBS,
  MAX_PARTITIONS,
  MAX_PEERS,
  MAX_PRICE_POINTS,
  MAX_REGION_WEIGHT,
  MAX_REGIONS,
  MAX_SCORE_MEDIAN,
  MAX_TOKEN_PRICE_USD,
  MAX_USD_PER_TOKEN_UNIT,
  MAX_WORKER_AMOUNT,
  MIN_SCORE_MEDIAN,
  MIN_TOKEN_PRICE_USD,
} from '../constants.js'

/**
 * The scenario file's JSON Schema (draft-07, checked with ajv). Defaults are filled in by the validator, so a
 * scenario names only what it changes. Durations are milliseconds or strings such as `"90s"`, `"10m"`, `"6h"`, `"2d"`.
 */

const duration = {
  description: 'milliseconds, or a number with a unit: ms, s, m, h, d',
  oneOf: [
    { type: 'number', minimum: 0 },
    { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?(ms|s|m|h|d)$' },
  ],
} as const

/** A file may name the schema it follows, for editors (JSON's `$schema` key; YAML uses a modeline comment). */
export const SCHEMA_REFERENCE = {
  type: 'string',
  maxLength: 2048,
  description: 'the JSON Schema editors check this file against',
} as const

const probability = { type: 'number', minimum: 0, maximum: 1 } as const

/**
 * A lognormal distribution given by its median and the standard deviation of its logarithm, defaulting to
 * `defaults` as a whole and to its sigma when only the median is given; `bounds` narrows the median where the models
 * need it.
 */
const lognormal = (
  defaults: { median: number; sigma: number },
  description: string,
  bounds: Partial<Record<'minimum' | 'exclusiveMinimum' | 'maximum', number>> = { exclusiveMinimum: 0 },
) =>
  ({
    type: 'object',
    description,
    additionalProperties: false,
    properties: {
      median: { type: 'number', ...bounds },
      sigma: { type: 'number', minimum: 0, maximum: 5, default: defaults.sigma },
    },
    required: ['median'],
    default: { ...defaults },
  }) as const

const regionName = { type: 'string', pattern: '^[a-z][a-z0-9-]{0,31}$' } as const
/** A value per region pair, `[a][b]`; symmetric, so each pair is given in one direction (or both alike). */
const matrix = <V extends object>(value: V) =>
  ({
    type: 'object',
    propertyNames: regionName,
    additionalProperties: { type: 'object', propertyNames: regionName, additionalProperties: value },
  }) as const

export const SCENARIO_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://tessera.dev/schemas/sim-scenario-1.json',
  title: 'Tessera simulation scenario',
  type: 'object',
  additionalProperties: false,
  required: ['version', 'name', 'duration', 'regions', 'network', 'workers', 'creators', 'jobs'],
  properties: {
    $schema: SCHEMA_REFERENCE,
    version: { const: 1 },
    name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' },
    description: { type: 'string', maxLength: 2000 },
    seed: { type: 'integer', minimum: 0, maximum: 4294967295, default: 1 },
    duration: { ...duration, description: 'virtual time the run covers' },
    metricsInterval: { ...duration, default: '10m', description: 'width of one row of the time series' },
    maxEvents: { type: 'integer', minimum: 1, default: 2000000000 },
    regions: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_REGIONS,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: regionName,
          weight: { type: 'number', exclusiveMinimum: 0, maximum: MAX_REGION_WEIGHT, default: 1 },
        },
      },
    },
    network: {
      type: 'object',
      additionalProperties: false,
      required: ['latencyMs'],
      properties: {
        latencyMs: {
          ...matrix({ type: 'number', minimum: 0 }),
          description: 'one-way base latency, ms, for every region pair (symmetric)',
        },
        jitter: { type: 'number', minimum: 0, maximum: 3, default: 0.1 },
        lossRate: { ...probability, default: 0 },
        loss: { ...matrix(probability), description: 'per-pair loss probability, overriding lossRate (symmetric)' },
        gossipLossRate: { ...probability, default: 0 },
        bandwidthMbps: lognormal(DEFAULT_LOGNORMALS.bandwidthMbps, 'per-peer link speed, Mbit/s'),
        gossip: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            meshDegree: { type: 'integer', minimum: 2, maximum: 64, default: 6 },
            hopDelayMs: { type: 'number', minimum: 0, default: 15 },
            audience: { type: 'integer', minimum: 0, default: 0 },
            verdictAudience: {
              type: 'integer',
              minimum: 0,
              description:
                'with an audience: sampled subscribers per verdict beyond those that must see it; default audience',
            },
          },
        },
        partitions: {
          type: 'array',
          maxItems: MAX_PARTITIONS,
          default: [],
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['start', 'end', 'groups'],
            properties: {
              start: duration,
              end: duration,
              groups: { type: 'array', minItems: 1, items: { type: 'array', minItems: 1, items: regionName } },
            },
          },
        },
      },
    },
    workers: {
      type: 'object',
      additionalProperties: false,
      required: ['count'],
      properties: {
        count: { type: 'integer', minimum: 0, maximum: MAX_PEERS },
        score: lognormal(DEFAULT_LOGNORMALS.score, 'capacity benchmark score, benchmark units', {
          minimum: MIN_SCORE_MEDIAN,
          maximum: MAX_SCORE_MEDIAN,
        }),
        memoryMb: lognormal(DEFAULT_LOGNORMALS.memoryMb, 'GPU memory, MB'),
        price: lognormal(DEFAULT_LOGNORMALS.price, 'asking price per benchmark-hour, token units', {
          exclusiveMinimum: 0,
          maximum: MAX_WORKER_AMOUNT,
        }),
        stake: lognormal(DEFAULT_LOGNORMALS.stake, 'bonded stake, token units', {
          exclusiveMinimum: 0,
          maximum: MAX_WORKER_AMOUNT,
        }),
        slots: { type: 'integer', minimum: 1, maximum: 64, default: 1 },
        runVariability: { type: 'number', minimum: 0, maximum: 2, default: 0.1 },
        pricing: { enum: ['fixed', 'demand'], default: 'fixed' },
      },
    },
    creators: {
      type: 'object',
      additionalProperties: false,
      required: ['count'],
      properties: {
        count: { type: 'integer', minimum: 1, maximum: MAX_PEERS },
      },
    },
    jobs: {
      type: 'object',
      additionalProperties: false,
      required: ['count'],
      properties: {
        count: { type: 'integer', minimum: 0, maximum: MAX_JOBS },
        arrival: {
          enum: ['poisson', 'uniform'],
          default: 'poisson',
          description: 'how the jobs spread over the submit window',
        },
        submitWindow: {
          ...duration,
          description: 'jobs arrive within this time from the start; default: duration / 2',
        },
        kind: { enum: ['render', 'inference'], default: 'render' },
        tasks: {
          type: 'object',
          additionalProperties: false,
          default: { min: 1, max: 8 },
          properties: {
            min: { type: 'integer', minimum: 1, maximum: MAX_TASKS_PER_JOB, default: 1 },
            max: { type: 'integer', minimum: 1, maximum: MAX_TASKS_PER_JOB, default: 8 },
          },
        },
        benchHoursPerTask: lognormal(
          DEFAULT_LOGNORMALS.benchHoursPerTask,
          'work per task, benchmark-hours (a score-S GPU takes B/S hours)',
        ),
        chunksPerTask: { type: 'integer', minimum: 1, maximum: 4096, default: 64 },
        inputMb: { type: 'number', minimum: 0, default: 20 },
        outputMb: { type: 'number', minimum: 0, default: 5 },
        tier: {
          enum: [1, 2, 3],
          default: 3,
          description:
            'reputation tier of every job; only 3 (economy) is simulated: no simulated worker is admitted to 1 or 2',
        },
        maxPrice: {
          type: 'integer',
          minimum: 1,
          default: 200,
          description: 'highest price per benchmark-hour a creator accepts, whole token units (at most 2^64 - 1)',
        },
        bidWindow: { ...duration, default: '5s' },
        minBids: { type: 'integer', minimum: 1, maximum: MAX_MIN_BIDS, default: 3 },
        deadline: { ...duration, default: '1d', description: 'time from order to deadline' },
        verification: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            detect: { ...probability, default: 0.999 },
            withinTasks: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER, default: 200 },
            cheatRate: { ...probability, default: 0.1 },
            maxOverhead: { ...probability, default: 0.1 },
          },
        },
      },
    },
    scheduler: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        heartbeat: { ...duration, default: '5s', description: 'heartbeat period creators ask of workers' },
        lease: { ...duration, default: '15s', description: 'a lease with no heartbeat for this long is lost' },
        capacityTtl: { ...duration, default: '2m', description: 'capacity records expire; re-published at half' },
        maxReopens: { type: 'integer', minimum: 0, maximum: 100, default: 3 },
      },
    },
    outputs: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        pixelsPerChunk: { type: 'integer', minimum: 1, maximum: 65536, default: 64 },
        honestNoise: { type: 'number', minimum: 0, maximum: 128, default: 0.5 },
        renderNoise: { type: 'number', minimum: 0, maximum: 128, default: 26 },
        divergedPixels: {
          type: 'number',
          minimum: 0,
          maximum: 1,
          default: DEFAULT_DIVERGED_PIXELS,
          description: "share of an honest render's pixels a rounding difference sent elsewhere (unrelated values)",
        },
      },
    },
    verifiers: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        count: { type: 'integer', minimum: 0, maximum: MAX_PEERS, default: 0 },
        minPsnrDb: { type: 'number', exclusiveMinimum: 0, maximum: 200, default: DEFAULT_MIN_PSNR_DB },
        psnrOutlierFraction: {
          type: 'number',
          minimum: 0,
          maximum: MAX_PSNR_OUTLIER_FRACTION,
          default: DEFAULT_PSNR_OUTLIER_FRACTION,
          description: "share of a chunk's pixels a verifier's PSNR leaves out, worst first",
        },
      },
    },
    churn: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        joinsPerHour: { type: 'number', minimum: 0, default: 0 },
        meanUptime: { ...duration, description: 'mean time a worker stays; absent: workers never leave' },
        crashFraction: { ...probability, default: 0.5 },
      },
    },
    adversaries: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        cheaters: {
          type: 'object',
          additionalProperties: false,
          properties: {
            fraction: probability,
            wrongTaskRate: { ...probability, default: 1 },
            wrongChunkFraction: { ...probability, default: 1 },
          },
          required: ['fraction'],
        },
        lazy: {
          type: 'object',
          additionalProperties: false,
          properties: {
            fraction: probability,
            sampleFraction: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.25 },
          },
          required: ['fraction'],
        },
        colluders: {
          type: 'object',
          additionalProperties: false,
          properties: {
            count: { type: 'integer', minimum: 2, maximum: MAX_PEERS },
            wrongTaskRate: { ...probability, default: 1 },
          },
          required: ['count'],
        },
        sybils: {
          type: 'object',
          additionalProperties: false,
          properties: {
            identities: { type: 'integer', minimum: 1, maximum: MAX_PEERS },
            stake: { type: 'integer', minimum: 0, maximum: MAX_WORKER_AMOUNT, default: 1 },
            wrongTaskRate: { ...probability, default: 1 },
          },
          required: ['identities'],
        },
        nonPayingCreators: {
          type: 'object',
          additionalProperties: false,
          properties: { fraction: probability },
          required: ['fraction'],
        },
        bidSpammers: {
          type: 'object',
          additionalProperties: false,
          properties: {
            count: { type: 'integer', minimum: 1, maximum: MAX_PEERS },
            priceFactor: { type: 'number', exclusiveMinimum: 0, default: 0.1 },
          },
          required: ['count'],
        },
      },
    },
    economics: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        feeBps: { type: 'integer', minimum: 0, maximum: 10000, default: 100 },
        settlementEpoch: { ...duration, default: '1h', description: 'receipts batch, anchor and pay out per epoch' },
        slashFraction: { ...probability, default: 1 },
        verifierShare: { ...probability, default: 0.05 },
        bme: {
          type: 'object',
          additionalProperties: false,
          properties: {
            epoch: { ...duration, default: '1h' },
            emissionPerEpoch: { type: 'number', minimum: 0, maximum: MAX_BME_TOKENS },
            initialSupply: { type: 'number', minimum: 0, maximum: MAX_BME_TOKENS, default: 1e9 },
            usdPerTokenUnit: {
              description: 'what creators pay, USD per token unit of the quoted job price',
              type: 'number',
              exclusiveMinimum: 0,
              maximum: MAX_USD_PER_TOKEN_UNIT,
              default: 0.01,
            },
            price: {
              description: 'token price in USD over time (piecewise linear between points)',
              type: 'array',
              minItems: 1,
              maxItems: MAX_PRICE_POINTS,
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['at', 'usd'],
                properties: {
                  at: duration,
                  usd: { type: 'number', minimum: MIN_TOKEN_PRICE_USD, maximum: MAX_TOKEN_PRICE_USD },
                },
              },
            },
          },
          required: ['emissionPerEpoch', 'price'],
        },
      },
    },
  },
} as const
