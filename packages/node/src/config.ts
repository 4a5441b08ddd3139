import { isIP } from 'node:net'
import { AbortError, type AbortOptions, multiaddrProblem, readBoundedFile, throwIfAborted } from '@tessera/core'
import { peerIdFromString } from '@libp2p/peer-id'
import { DEFAULT_MIN_PSNR_DB, DEFAULT_PSNR_OUTLIER_FRACTION, MAX_PSNR_OUTLIER_FRACTION } from '@tessera/proof'
import { DEFAULT_WORK_TOLERANCE } from '@tessera/scheduler'
import { z } from 'zod'
import { MAX_CONFIG_BYTES } from './constants.js'
import { NodeError } from './errors.js'

/** A base58 Solana address: 32 bytes spell 32 to 44 characters of the Bitcoin alphabet. */
const BASE58_ADDRESS = /^[1-9A-HJ-NP-Za-km-z]{32,44}$/

const amount = z
  .union([z.string().regex(/^\d{1,20}$/), z.number().int().nonnegative(), z.bigint().nonnegative()])
  .transform((v) => BigInt(v))
  .refine((v) => v <= 0xffff_ffff_ffff_ffffn, 'amount out of u64 range')

/** A host name as DNS spells one (RFC 1123 labels), for an API bound to a name such as `host.docker.internal`. */
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i

/** A URL of one of `protocols` (`'https:'`…): `z.string().url()` alone also takes `file:` and `javascript:` URLs. */
function urlOf(...protocols: string[]) {
  return (
    z
      .string()
      .url()
      // zod runs a refinement after a failed check too: a string that is no URL must not reach `new URL`.
      .refine(
        (v) => URL.canParse(v) && protocols.includes(new URL(v).protocol),
        `expected a ${protocols.join(' or ')} URL`,
      )
  )
}

/** A multiaddr in its string form, checked by parsing it; the message names the entry refused. */
function multiaddrString(maxLength: number, withPeerId = false) {
  return z
    .string()
    .max(maxLength)
    .superRefine((text, ctx) => {
      const problem = multiaddrProblem(text, { peerId: withPeerId })
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(text)}: ${problem}` })
    })
}

/** Tiers a worker serves: at least one, each once. */
const tierList = z
  .array(z.union([z.literal(1), z.literal(2), z.literal(3)]))
  .min(1, 'a worker serves at least one tier')
  .refine((tiers) => new Set(tiers).size === tiers.length, 'each tier is listed once')

/** A libp2p peer id in its string form (`12D3KooW…`), checked by parsing it. */
const peerIdString = z
  .string()
  .max(128)
  .refine((v) => {
    try {
      peerIdFromString(v)
      return true
    } catch {
      return false
    }
  }, 'not a peer id')

/** The node's config file (`<data dir>/config.json`), validated on load; every field has a default. */
export const configSchema = z
  .object({
    version: z.literal(1).default(1),
    /** libp2p listen multiaddrs. */
    listen: z.array(multiaddrString(256)).max(16).default(['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws']),
    /** Peers to join through, each a multiaddr ending in `/p2p/<peer id>`; may be empty. */
    bootstrap: z.array(multiaddrString(512, true)).max(64).default([]),
    /**
     * Loopback-friendly network settings (no IP-colocation penalty, DHT keeps private addresses). Unset, they follow
     * the listen addresses: on for loopback and private ones (the defaults), off once one is public or a wildcard.
     */
    localNetwork: z.boolean().optional(),
    /**
     * Control API and /metrics: host and port (0 picks a free port). The host is an IP address or a host name;
     * keep it loopback unless something else must reach the API, as its token travels in clear.
     */
    api: z
      .object({
        host: z
          .string()
          .refine((h) => isIP(h) !== 0 || HOST_NAME.test(h), 'expected an IP address or a host name')
          .default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(0),
      })
      .strict()
      .default({
        host: '127.0.0.1',
        port: 0,
      }),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'),
    worker: z
      .object({
        enabled: z.boolean().default(true),
        /** Asking price per benchmark-hour, token units. */
        price: amount.default(100n),
        pricing: z.enum(['fixed', 'demand']).default('fixed'),
        tiers: tierList.default([3]),
        stake: amount.default(1_000n),
        slots: z.number().int().min(1).max(64).default(1),
        /**
         * Misbehave on purpose, for demos and tests: `lazy` renders with 1 sample per pixel (verification catches
         * it); `crash-mid-job` dies by SIGKILL holding an unfinished tile once another of its tiles was receipted
         * (its lease lapses; restarted, it is paid exactly once for what it delivered).
         */
        fault: z.enum(['none', 'lazy', 'crash-mid-job']).default('none'),
        /**
         * How long a task's output stays on disk while its creator has not paid for it. A paid output is deleted
         * once its receipt is countersigned (the creator fetched it before accepting the task). At least an hour,
         * the time a worker answers challenges for a task: a check that passed after the output was gone would
         * fail on the creator's fetch.
         */
        outputRetentionHours: z
          .number()
          .min(1)
          .max(24 * 365)
          .default(24),
        /**
         * Skip an order whose task, estimated from its split, would take more than this many times what its
         * benchmark-hours pay for (`@tessera/scheduler`'s `workTolerance`): at least 1, where only orders paying for
         * all their estimated work are taken.
         */
        workTolerance: z.number().min(1).max(1_000_000).default(DEFAULT_WORK_TOLERANCE),
      })
      .strict()
      .default({
        enabled: true,
        price: 100n,
        pricing: 'fixed',
        tiers: [3],
        stake: 1_000n,
        slots: 1,
        fault: 'none',
        outputRetentionHours: 24,
        workTolerance: DEFAULT_WORK_TOLERANCE,
      }),
    verification: z
      .object({
        /**
         * Third peers (peer ids) this node may hand checks of its workers' results to, and ask to arbitrate its
         * accusations; chosen at random, weighted by reputation.
         */
        verifiers: z.array(peerIdString).max(64).default([]),
        /** Weight of checking a result itself against each verifier's reputation score; 0 always delegates. */
        selfWeight: z.number().min(0).max(1_000_000).default(1),
        /** Verify and arbitrate for other creators when they ask. */
        serve: z.boolean().default(true),
        /** Lowest PSNR (dB) a rendered chunk may have against this node's recomputation. */
        minPsnrDb: z.number().positive().max(200).default(DEFAULT_MIN_PSNR_DB),
        /**
         * Share of a rendered chunk's pixels left out of its PSNR, worst first: samples another driver's rounding
         * sent elsewhere (see `@tessera/proof`'s `DEFAULT_PSNR_OUTLIER_FRACTION`).
         */
        psnrOutlierFraction: z.number().min(0).max(MAX_PSNR_OUTLIER_FRACTION).default(DEFAULT_PSNR_OUTLIER_FRACTION),
      })
      .strict()
      .default({
        verifiers: [],
        selfWeight: 1,
        serve: true,
        minPsnrDb: DEFAULT_MIN_PSNR_DB,
        psnrOutlierFraction: DEFAULT_PSNR_OUTLIER_FRACTION,
      }),
    ledger: z
      .object({
        transport: z.enum(['litesvm', 'rpc']).default('litesvm'),
        /** Cluster JSON-RPC URL when transport is rpc. */
        url: urlOf('http:', 'https:').optional(),
        /** Cluster WebSocket URL for confirmations; polling when absent. */
        wsUrl: urlOf('ws:', 'wss:').optional(),
        /**
         * SPL mint of the payment token: required with transport rpc, as a cluster holds many; refused on LiteSVM,
         * whose chain starts empty and on which the node makes its own.
         */
        mint: z.string().regex(BASE58_ADDRESS, 'must be a base58 Solana address (32 to 44 characters)').optional(),
        /** Protocol fee in basis points. */
        feeBps: z.number().int().min(0).max(10_000).default(100),
      })
      .strict()
      // The transport decides which chain is paid on: a URL it would ignore is a mistake worth stopping for.
      .refine((l) => l.transport === 'litesvm' || l.url !== undefined, {
        message: 'transport rpc needs the cluster url',
        path: ['url'],
      })
      // Checked here, not at the first payment: a node started without it ran, and every ledger call failed.
      .refine((l) => l.transport === 'litesvm' || l.mint !== undefined, {
        message: 'transport rpc needs the payment mint: set ledger.mint in config.json, or pass --mint <address>',
        path: ['mint'],
      })
      .refine((l) => l.transport === 'rpc' || (l.url === undefined && l.wsUrl === undefined), {
        message: 'url and wsUrl name a cluster; set transport to rpc to use one',
        path: ['transport'],
      })
      // Accepted before, the node started and every ledger call failed: no such mint is on the embedded chain.
      .refine((l) => l.transport === 'rpc' || l.mint === undefined, {
        message:
          "a mint is a cluster's token, and litesvm makes its own: pass --cluster-url with it (transport rpc), or " +
          'leave it out',
        path: ['mint'],
      })
      .default({ transport: 'litesvm', feeBps: 100 }),
  })
  .strict()

/** A validated config, every default filled in. */
export type NodeConfig = z.output<typeof configSchema>
/** A config as written in the file or passed to `init`: any field may be left out. */
export type NodeConfigInput = z.input<typeof configSchema>

/**
 * Validates a config object, with a message naming the first bad field. An unknown key is named by its own path
 * (`worker.enable`), not its object's: a misspelt key would otherwise leave its setting at the default unnoticed.
 */
export function parseConfig(value: unknown, source = 'config'): NodeConfig {
  const parsed = configSchema.safeParse(value)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const unknownKey = issue?.code === 'unrecognized_keys' ? issue.keys[0] : undefined
    const path = [...(issue?.path.map(String) ?? []), ...(unknownKey === undefined ? [] : [unknownKey])]
    const why =
      unknownKey === undefined ? (issue?.message ?? 'invalid') : 'unknown key; check its spelling or remove it'
    throw new NodeError('NODE__INVALID_CONFIG', `${source}: ${path.join('.') || '(root)'}: ${why}`, { source, path })
  }
  return parsed.data
}

/** Reads and validates a JSON config file; rejects with `AbortError` when `options.signal` aborts it. */
export async function loadConfig(path: string, options: AbortOptions = {}): Promise<NodeConfig> {
  throwIfAborted(options.signal)
  let text: string
  try {
    const bytes = await readBoundedFile(
      path,
      MAX_CONFIG_BYTES,
      (why) => new NodeError('NODE__INVALID_CONFIG', `${path} cannot be a config: ${why}`, { path }),
      options,
    )
    text = new TextDecoder().decode(bytes)
  } catch (cause) {
    if (cause instanceof NodeError || cause instanceof AbortError) throw cause
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new NodeError(
        'NODE__CONFIG_NOT_FOUND',
        `no config at ${path}; run \`tessera init\` first`,
        { path },
        { cause },
      )
    }
    throw new NodeError(
      'NODE__FILE_UNREADABLE',
      `cannot read ${path}: ${(cause as Error).message}`,
      { path },
      { cause },
    )
  }
  throwIfAborted(options.signal)
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    throw new NodeError(
      'NODE__MALFORMED_CONFIG',
      `${path} is not valid JSON: ${(cause as Error).message}`,
      { path },
      { cause },
    )
  }
  return parseConfig(json, path)
}

/** The config as JSON text (bigints as decimal strings). */
export function serializeConfig(config: NodeConfig | NodeConfigInput): string {
  return `${JSON.stringify(config, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`
}
