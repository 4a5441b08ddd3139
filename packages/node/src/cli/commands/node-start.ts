import { rm, writeFile } from 'node:fs/promises'
import type { AbortOptions } from '@tessera/core'
import { type Command, InvalidArgumentError, Option } from 'commander'
import type { ApiAddressRecord } from '../../api/client.js'
import { ApiServer } from '../../api/server.js'
import { type NodeConfig, parseConfig } from '../../config.js'
import { openDataDir, readApiToken } from '../../data-dir.js'
import { createLogger } from '../../logger.js'
import { Peer } from '../../peer/peer.js'
import { dataDirOf } from '../data-dir-flag.js'
import { checkFlags } from '../errors.js'
import type { CliIo } from '../io.js'
import { parseAmount, parsePositiveInt } from '../parse.js'

interface StartFlags {
  listen?: string[]
  bootstrap?: string[]
  price?: bigint
  pricing?: 'fixed' | 'demand'
  tiers?: number[]
  stake?: bigint
  slots?: number
  fault?: NodeConfig['worker']['fault']
  clusterUrl?: string
  mint?: string
  verifier?: string[]
  apiPort?: number
  worker: boolean
  logLevel?: NodeConfig['logLevel']
}

function parseTier(value: string, previous: number[] = []): number[] {
  if (!['1', '2', '3'].includes(value)) throw new InvalidArgumentError('tiers are 1, 2 or 3')
  return [...previous, Number(value)]
}

/**
 * Flags override the config file; the result is validated like the file itself. The file alone was valid, so what
 * is refused here is the flags' doing.
 */
function applyFlags(config: NodeConfig, flags: StartFlags): NodeConfig {
  return parseConfig(
    {
      ...config,
      ...(flags.listen !== undefined ? { listen: flags.listen } : {}),
      ...(flags.bootstrap !== undefined ? { bootstrap: flags.bootstrap } : {}),
      ...(flags.logLevel !== undefined ? { logLevel: flags.logLevel } : {}),
      api: { ...config.api, ...(flags.apiPort !== undefined ? { port: flags.apiPort } : {}) },
      worker: {
        ...config.worker,
        enabled: config.worker.enabled && flags.worker,
        ...(flags.price !== undefined ? { price: flags.price } : {}),
        ...(flags.pricing !== undefined ? { pricing: flags.pricing } : {}),
        ...(flags.tiers !== undefined ? { tiers: flags.tiers } : {}),
        ...(flags.stake !== undefined ? { stake: flags.stake } : {}),
        ...(flags.slots !== undefined ? { slots: flags.slots } : {}),
        ...(flags.fault !== undefined ? { fault: flags.fault } : {}),
      },
      verification: {
        ...config.verification,
        ...(flags.verifier !== undefined ? { verifiers: flags.verifier } : {}),
      },
      ledger: {
        ...config.ledger,
        ...(flags.clusterUrl !== undefined ? { transport: 'rpc', url: flags.clusterUrl } : {}),
        ...(flags.mint !== undefined ? { mint: flags.mint } : {}),
      },
    },
    'flags',
  )
}

/** What asked a running node to stop: a process signal, or the embedder's abort signal. */
type StopRequest = 'SIGTERM' | 'SIGINT' | 'abort'

/**
 * Resolves once SIGTERM or SIGINT arrives or `signal` aborts, to which one. Its listeners go once one fires: a SIGINT
 * listener left behind in an embedder's process would keep Ctrl-C from ending it.
 */
function stopRequested(signal: AbortSignal | undefined): Promise<StopRequest> {
  return new Promise((resolve) => {
    const onSigterm = (): void => stop('SIGTERM')
    const onSigint = (): void => stop('SIGINT')
    const onAbort = (): void => stop('abort')
    const stop = (request: StopRequest): void => {
      process.off('SIGTERM', onSigterm)
      process.off('SIGINT', onSigint)
      signal?.removeEventListener('abort', onAbort)
      resolve(request)
    }
    process.once('SIGTERM', onSigterm)
    process.once('SIGINT', onSigint)
    if (signal?.aborted === true) stop('abort')
    else signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * `tessera node start`: libp2p, engine, market and ledger until SIGTERM, SIGINT or `options.signal` aborts. An abort
 * before the node runs fails the command with `AbortError`; once it runs, it stops the node as SIGTERM does.
 */
export function registerNodeStart(node: Command, program: Command, io: CliIo, options: AbortOptions = {}): void {
  node
    .command('start')
    .description('run this peer: libp2p, the GPU engine, the market and the ledger; JSON logs; stops on SIGTERM')
    .option('--listen <multiaddr...>', 'libp2p listen addresses')
    .option('--bootstrap <multiaddr...>', 'peers to join through')
    .option('--price <units>', 'asking price per benchmark-hour, token units', parseAmount)
    .addOption(new Option('--pricing <strategy>', 'worker pricing strategy').choices(['fixed', 'demand']))
    .option('--tiers <tier>', 'tiers this worker serves (repeatable)', parseTier)
    .option('--stake <units>', 'stake bonded, token units', parseAmount)
    .option('--slots <n>', 'tasks run at once', parsePositiveInt)
    .addOption(
      new Option(
        '--fault <kind>',
        'misbehave on purpose, for demos: lazy (1 sample per pixel) or crash-mid-job (SIGKILL holding an unfinished tile once another was receipted)',
      ).choices(['none', 'lazy', 'crash-mid-job']),
    )
    .option('--verifier <peer-id...>', 'third peers that may check results for this creator and arbitrate')
    .option('--cluster-url <url>', 'Solana JSON-RPC URL (default: embedded LiteSVM); needs the payment mint')
    .option('--mint <address>', 'SPL mint payments use on the cluster (base58); required with --cluster-url')
    .option('--api-port <port>', 'control API and /metrics port (0 picks one)', (v) => {
      const n = Number(v)
      if (!/^\d+$/.test(v) || n > 65535) throw new InvalidArgumentError('expected a port number')
      return n
    })
    .option('--no-worker', 'do not work for others')
    .addOption(
      new Option('--log-level <level>', 'log level').choices(['trace', 'debug', 'info', 'warn', 'error', 'silent']),
    )
    .action(async (flags: StartFlags) => {
      const dir = dataDirOf(program)
      const opened = await openDataDir(dir, options)
      const config = checkFlags(() => applyFlags(opened.config, flags))
      // Read before the peer starts: a damaged token found after would stop a node that had announced itself.
      const token = await readApiToken(dir, options)
      const logger = createLogger(config.logLevel)
      const peer = await Peer.start({ dir, config, identity: opened.identity, logger }, options)
      if (config.worker.fault === 'crash-mid-job') {
        // Die holding unfinished tiles once at least one delivered tile has been receipted: the lease lapses and the
        // tiles are reassigned, and the restarted peer must still be paid exactly once for what it delivered. Both
        // orders count (the receipt while a tile is in hand, or an award after the receipt): a loaded machine
        // delays receipts until no award is left to come.
        let receipted = false
        let unfinished = 0
        const crash = (): void => {
          if (receipted && unfinished > 0) process.kill(process.pid, 'SIGKILL')
        }
        peer.node.bus.onMessage(({ message }) => {
          if (message.type !== 'receipt' || message.body.worker !== peer.node.peerId.toString()) return
          receipted = true
          crash()
        })
        peer.scheduler.on('award:received', (e) => {
          unfinished += e.taskIds.length
          crash()
        })
        peer.scheduler.on('result:sent', () => unfinished--)
        peer.scheduler.on('task:aborted', () => unfinished--)
      }
      let api: ApiServer | undefined
      let address: { host: string; port: number }
      try {
        api = new ApiServer(peer, { ...config.api, token, logger })
        address = await api.listen(options)
        // Not handed the signal: the node runs now, so an abort is a stop request (seen below), not a torn file. The
        // pid and the API's instance let a client tell this node from a process that takes its port once it is gone.
        const record: ApiAddressRecord = { ...address, pid: process.pid, instance: api.instance }
        await writeFile(dir.apiAddress, JSON.stringify(record), { mode: 0o600 })
      } catch (e) {
        // The peer runs timers and sockets: left running, the command would never exit after the error.
        await api?.close()
        await peer.stop()
        throw e
      }
      logger.info({ api: `http://${address.host}:${address.port}` }, 'api:listening')
      io.stdout('')
      logger.info({ signal: await stopRequested(options.signal) }, 'peer:stopping')
      await rm(dir.apiAddress, { force: true })
      await api.close()
      await peer.stop()
    })
}
