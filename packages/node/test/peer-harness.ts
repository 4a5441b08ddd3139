import { join } from 'node:path'
import { createEngine, type Engine } from '@tessera/gpu'
import type { Logger } from 'pino'
import { afterAll, beforeAll } from 'vitest'
import type { NodeConfigInput } from '../src/config.js'
import { type DataDir, initDataDir, resolveDataDir } from '../src/data-dir.js'
import { createLogger } from '../src/logger.js'
import { Peer, type PeerInit } from '../src/peer/peer.js'
import { tempDir } from './helpers.js'

/** How long anything may take to arrive over the network or render on lavapipe. */
export const WAIT_MS = 120_000

/** Polls `probe` until it returns a value, failing after {@link WAIT_MS} with what was awaited. */
export async function until<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  pollMs = 100,
): Promise<T> {
  const deadline = Date.now() + WAIT_MS
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, pollMs))
  }
}

/** Real peers for an end-to-end suite: one Dawn engine and one temporary directory, each peer in its own data dir. */
export interface PeerHarness {
  /** The data directory, config and identity of a new peer `name`, listening on loopback TCP. */
  init(name: string, overrides: NodeConfigInput, logger?: Logger): Promise<PeerInit>
  /** Starts a new peer `name`; it is stopped after the suite. */
  start(name: string, overrides: NodeConfigInput, logger?: Logger): Promise<Peer>
  /** The data directory of peer `name` (its paths: `ledger`, `datastore`, ...). */
  dirOf(name: string): DataDir
  /** The peers started so far. */
  readonly peers: readonly Peer[]
  /** The Dawn engine every peer renders on (set up before the suite's tests). */
  readonly engine: Engine
}

/** Registers the suite's set-up and tear-down (call it inside `describe`) and returns the harness. */
export function peerHarness(prefix: string): PeerHarness {
  let engine: Engine
  let dir: { path: string; cleanup: () => Promise<void> }
  const peers: Peer[] = []

  beforeAll(async () => {
    engine = await createEngine()
    dir = await tempDir(prefix)
  })

  afterAll(async () => {
    await Promise.allSettled(peers.map((p) => p.stop()))
    engine?.destroy()
    await dir?.cleanup()
  })

  const dirOf = (name: string) => resolveDataDir(join(dir.path, name))
  const init = async (name: string, overrides: NodeConfigInput, logger = createLogger('silent')) => {
    const dataDir = dirOf(name)
    const { identity, config } = await initDataDir(dataDir, {
      listen: ['/ip4/127.0.0.1/tcp/0'],
      logLevel: 'silent',
      ...overrides,
    })
    return { dir: dataDir, config, identity, logger, engine, score: 100 }
  }

  return {
    init,
    dirOf,
    async start(name, overrides, logger) {
      const peer = await Peer.start(await init(name, overrides, logger))
      peers.push(peer)
      return peer
    },
    peers,
    get engine() {
      return engine
    },
  }
}
