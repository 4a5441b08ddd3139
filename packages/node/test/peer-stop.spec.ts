import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Peer } from '../src/peer/peer.js'
import { peerHarness } from './peer-harness.js'

/**
 * A real peer's stop (loopback libp2p, LiteSVM or a cluster URL): whatever fails or hangs on the way, it closes libp2p
 * and its stores, so the process can exit and the data directory start again.
 */
describe('Peer.stop', () => {
  const { init, start } = peerHarness('tessera-stop-')

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
})
