/**
 * A small Tessera network on this machine, shared by the examples: every peer is its own `tessera node start`
 * process with its own data directory, the first is the bootstrap peer and the others join through it over
 * loopback TCP. Not an example to run by itself; see local-network.ts, render-job.ts and inference-job.ts.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { AbortOptions } from '@tessera/core'
import { type NodeStatus, type PeerProcess, runTessera, spawnPeer } from '@tessera/node'

/** One peer to start: its name (also its data directory's name) and extra `tessera node start` flags. */
export interface PeerSpec {
  name: string
  /** e.g. `['--no-worker']` for a creator that only orders work, `['--price', '80']` for a cheaper worker. */
  args?: string[]
}

export interface LocalNetworkOptions extends AbortOptions {
  /** Parent of the peers' data directories. */
  dir: string
  peers: readonly PeerSpec[]
  /** Wait until the first peer holds this many capacity records (the workers it can order from). */
  capacityRecords?: number
  /** How long to wait for each peer's control API and for the capacity records. */
  timeoutMs?: number
}

export interface LocalNetwork {
  /** The running peers, in the order given; the first is the bootstrap peer. */
  peers: PeerProcess[]
  /** SIGTERM to every peer, then wait for each to exit (SIGKILL if one will not). */
  stop: () => Promise<void>
}

const DEFAULT_TIMEOUT_MS = 90_000

/** Runs `tessera init` for each peer, starts them (the first one first) and waits for the market to form. */
export async function startLocalNetwork(options: LocalNetworkOptions): Promise<LocalNetwork> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const [bootstrapSpec, ...joinerSpecs] = options.peers
  if (bootstrapSpec === undefined) throw new RangeError('a local network needs at least one peer')
  await mkdir(options.dir, { recursive: true })
  // `init` makes the identity (mode 0600), config.json and the control API token; it keeps what already exists.
  await Promise.all(options.peers.map((p) => runTessera(['--data-dir', join(options.dir, p.name), 'init'])))

  const peers: PeerProcess[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(peers.map((p) => p.stop().catch(() => p.kill())))
  }
  try {
    const start = (spec: PeerSpec, extra: string[] = []) =>
      spawnPeer({
        name: spec.name,
        dataDir: join(options.dir, spec.name),
        args: [...extra, ...(spec.args ?? [])],
        startTimeoutMs: timeoutMs,
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
      })
    const first = await start(bootstrapSpec)
    peers.push(first)
    const boot = (await first.client.status()).addrs.find((a) => a.includes('/tcp/') && !a.includes('/ws'))
    if (boot === undefined) throw new Error(`${bootstrapSpec.name} has no TCP address to bootstrap from`)
    // The others start together; whichever did start is stopped again if one fails.
    const joined = await Promise.allSettled(joinerSpecs.map((spec) => start(spec, ['--bootstrap', boot])))
    for (const result of joined) if (result.status === 'fulfilled') peers.push(result.value)
    const failed = joined.find((result) => result.status === 'rejected')
    if (failed !== undefined) throw failed.reason

    const wanted = options.capacityRecords ?? 0
    const deadline = Date.now() + timeoutMs
    while ((await first.client.status()).capacityRecords < wanted) {
      options.signal?.throwIfAborted()
      if (Date.now() > deadline)
        throw new Error(`${bootstrapSpec.name} saw fewer than ${wanted} capacity records in time`)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    return { peers, stop }
  } catch (e) {
    await stop()
    throw e
  }
}

/** A market of one creator that only orders work and workers that all ask one price, as the job examples run it. */
export interface Market {
  network: LocalNetwork
  creator: PeerProcess
  /** The workers, in the order named. */
  workers: PeerProcess[]
  /** Each worker's `status()` when the market formed: its peer id and payee wallet. */
  workerStatus: NodeStatus[]
}

/** Starts `creator` plus the named workers at `price` per benchmark-hour and waits until the creator sees them all. */
export async function startMarket(
  options: AbortOptions & { dir: string; workers: readonly string[]; price: bigint },
): Promise<Market> {
  const network = await startLocalNetwork({
    dir: options.dir,
    peers: [
      { name: 'creator', args: ['--no-worker'] },
      ...options.workers.map((name) => ({ name, args: ['--price', options.price.toString()] })),
    ],
    capacityRecords: options.workers.length,
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
  })
  try {
    const [creator, ...workers] = network.peers
    if (creator === undefined) throw new Error('the network has no creator')
    const workerStatus = await Promise.all(workers.map((w) => w.client.status()))
    return { network, creator, workers, workerStatus }
  } catch (e) {
    await network.stop()
    throw e
  }
}
