import { rm, writeFile } from 'node:fs/promises'
import { createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { delay, isTesseraError } from '@tessera/core'
import { DEFAULT_RPC_REQUEST_TIMEOUT_MS } from '@tessera/ledger'
import { Counter, register } from 'prom-client'
import { describe, expect, it, vi } from 'vitest'
import { AssemblyCache } from '../src/peer/assembly-cache.js'
import { Peer, type PeerInit } from '../src/peer/peer.js'
import { peerHarness, until } from './peer-harness.js'

/** A TCP server on loopback that accepts every connection and never answers: a cluster that hangs. */
async function silentServer(): Promise<{ url: string; open: Set<Socket>; close: () => Promise<void> }> {
  const open = new Set<Socket>()
  const server = createServer((socket) => {
    open.add(socket)
    socket.on('close', () => open.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}`,
    open,
    close: () => {
      for (const socket of open) socket.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

/**
 * A real peer's start and stop (loopback libp2p, LiteSVM or a cluster URL): a start refuses what it cannot do with a
 * code and a message of one line; a stop, whatever fails or hangs on the way, closes libp2p and the stores, so the
 * process can exit and the data directory start again.
 */
describe("a peer's start and stop", () => {
  const { init, start } = peerHarness('tessera-start-stop-')

  it('should refuse a listen address whose port is taken with NODE__LISTEN_FAILED, naming that address only', async () => {
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    const address = `/ip4/127.0.0.1/tcp/${(taken.address() as { port: number }).port}`
    try {
      const parts = await init('port-taken', { worker: { enabled: false }, listen: ['/ip4/127.0.0.1/tcp/0', address] })
      const starting = Peer.start(parts)
      await expect(starting).rejects.toMatchObject({
        code: 'NODE__LISTEN_FAILED',
        context: { addresses: [address], reasons: [expect.stringContaining('EADDRINUSE')] },
      })
      const { message } = (await starting.catch((e: unknown) => e)) as Error
      expect(message).toContain(address)
      expect(message).not.toContain('\n')
    } finally {
      await new Promise((resolve) => taken.close(resolve))
    }
  }, 60_000)

  it('should validate a config built by hand as a config file is, filling in its defaults', async () => {
    const parts = await init('hand-built', { worker: { enabled: false } })
    const refused = async (init: unknown, path: string) =>
      expect(Peer.start(init as PeerInit)).rejects.toMatchObject({
        code: 'NODE__INVALID_CONFIG',
        message: expect.stringContaining(path),
      })
    await refused(
      { ...parts, config: { ...parts.config, ledger: { ...parts.config.ledger, feeBps: 20_000 } } },
      'feeBps',
    )
    await refused({ ...parts, config: { ...parts.config, worker: { ...parts.config.worker, price: 'abc' } } }, 'price')
    await refused({ ...parts, config: null }, '(root)')
    await refused({ ...parts, logger: undefined }, 'logger')
    // What a file may leave out, an embedder may too.
    const peer = await Peer.start({
      ...parts,
      config: { listen: ['/ip4/127.0.0.1/tcp/0'], worker: { enabled: false } } as PeerInit['config'],
    })
    try {
      expect(peer.node.status).toBe('started')
    } finally {
      await peer.stop()
    }
  }, 60_000)

  it('should close libp2p and the stores when a step before them fails, and reject with that failure', async () => {
    const parts = await init('unwritable-ledger', { worker: { enabled: false } })
    const peer = await Peer.start(parts)
    // The embedded chain is opened, and its state, written back on close, can no longer be written.
    await peer.wallet()
    const chain = join(parts.dir.ledger, 'chain')
    await rm(chain, { recursive: true, force: true })
    await writeFile(chain, 'not a directory')

    await expect(peer.stop()).rejects.toMatchObject({ code: 'ENOTDIR' })
    expect(peer.node.libp2p.status).toBe('stopped')
    // The datastore's lock was let go: the same directory starts again, as the same peer.
    await rm(chain, { force: true })
    const again = await start('unwritable-ledger', { worker: { enabled: false } })
    expect((await again.status()).peerId).toBe(parts.identity.peerId.toString())
  }, 60_000)

  // Before, the open was not wrapped: `error: Error: Database failed to open`, uncoded and without a reason.
  it("should refuse a libp2p store that cannot be opened with the datastore's codes, and why", async () => {
    const parts = await init('bad-libp2p-store', { worker: { enabled: false } })
    await (await Peer.start(parts)).stop()
    const store = join(parts.dir.datastore, 'libp2p')
    await writeFile(join(store, 'CURRENT'), '')
    await expect(Peer.start(parts)).rejects.toMatchObject({
      code: 'NODE__DATASTORE_CORRUPT',
      message: expect.stringContaining('CURRENT file does not end with newline'),
      context: { dir: store },
    })
    await rm(store, { recursive: true })
    await writeFile(store, 'a file where the store should be')
    // The datastore opened before it was closed again: this start gets as far as the libp2p store too.
    await expect(Peer.start(parts)).rejects.toMatchObject({
      code: 'NODE__FILE_UNREADABLE',
      message: expect.stringContaining('EEXIST'),
      context: { path: store },
    })
  }, 60_000)

  it('should stop the assemblies of job outputs under way and let go of those assembled', async () => {
    const peer = await Peer.start(await init('assembling', { worker: { enabled: false } }))
    const close = vi.spyOn(AssemblyCache.prototype, 'close')
    try {
      await peer.stop()
      expect(close).toHaveBeenCalledOnce()
    } finally {
      close.mockRestore()
    }
  }, 60_000)

  it('should stop at once while the ledger is opening on a cluster that never answers', async () => {
    const cluster = await silentServer()
    try {
      const peer = await Peer.start(
        await init('silent-cluster', {
          worker: { enabled: false },
          // Any address will do: the cluster is never heard from.
          ledger: { transport: 'rpc', url: cluster.url, mint: 'So11111111111111111111111111111111111111112' },
        }),
      )
      const giveUp = new AbortController()
      const asking = peer.wallet({ signal: giveUp.signal })
      await until('the ledger to ask the cluster', () => (cluster.open.size > 0 ? true : undefined), 10)
      giveUp.abort()
      await expect(asking).rejects.toSatisfy((e) => isTesseraError(e, 'CORE__ABORTED'))

      // Before the cluster's first request would even time out, let alone its retries: the opening was aborted.
      const bound = new AbortController()
      const stopped = await Promise.race([
        peer.stop().then(() => 'stopped'),
        delay(DEFAULT_RPC_REQUEST_TIMEOUT_MS, bound.signal).then(() => 'still waiting on the cluster'),
      ])
      bound.abort()
      expect(stopped).toBe('stopped')
    } finally {
      await cluster.close()
    }
  }, 60_000)

  it("should leave an embedding application's metrics in prom-client's default registry, each peer showing its own", async () => {
    const requests = new Counter({ name: 'embedding_app_requests_total', help: "the embedding application's own" })
    try {
      requests.inc(42)
      // Two peers one after the other: the second must not take the first one's libp2p metrics, nor have none.
      const [first, second] = [
        await start('metrics-first', { worker: { enabled: false } }),
        await start('metrics-second', { worker: { enabled: false } }),
      ]
      expect(register.getSingleMetric('embedding_app_requests_total')).toBe(requests)
      expect(await register.metrics()).toContain('embedding_app_requests_total 42')
      for (const peer of [first, second]) {
        const text = await peer.prometheusText()
        expect(text).toContain('# TYPE tessera_jobs_submitted_total counter')
        expect(text).toContain('# TYPE libp2p_data_transfer_bytes_total counter')
        expect(text).not.toContain('embedding_app_requests_total')
      }
    } finally {
      register.removeSingleMetric('embedding_app_requests_total')
    }
  }, 60_000)
})
