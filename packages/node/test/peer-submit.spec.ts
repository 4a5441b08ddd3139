import { describe, expect, it } from 'vitest'
import type { JobRequest } from '../src/api/contract.js'
import { peerHarness } from './peer-harness.js'

/**
 * `Peer.submitJob` called by an embedder, not through the control API: a request the API's schema refuses is refused
 * alike, before anything is ordered or funded.
 */
describe("a peer's submitJob", () => {
  const { start } = peerHarness('tessera-submit-')

  it('should refuse what the control API refuses with NODE__API_MALFORMED_REQUEST, ordering and funding nothing', async () => {
    const peer = await start('creator', { worker: { enabled: false } })
    await peer.airdrop(1_000_000n)
    const before = await peer.wallet()
    const [scene, panorama] = [await peer.putBlob(new Uint8Array([1])), await peer.putBlob(new Uint8Array([2]))]
    const render = { frames: 1, width: 16, height: 16, tileWidth: 16, tileHeight: 16, samples: 1 }
    const lighting = { intensity: 1, rotation: 0 }
    const refused: Array<[string, unknown, string]> = [
      ['a third input', { kind: 'render', inputs: [scene, panorama, panorama], render }, 'inputs'],
      ['a second input without render.environment', { kind: 'render', inputs: [scene, panorama], render }, 'inputs'],
      [
        'render and inference both',
        { kind: 'render', inputs: [scene], render, inference: { items: 1, itemsPerTask: 1 } },
        'render',
      ],
      ['a render job without render', { kind: 'render', inputs: [scene] }, 'render'],
      ['maxPrice not a number', { kind: 'render', inputs: [scene], render, maxPrice: 'abc' }, 'maxPrice'],
      ['a negative maxPrice', { kind: 'render', inputs: [scene], render, maxPrice: '-5' }, 'maxPrice'],
      ['a negative deadline', { kind: 'render', inputs: [scene], render, deadlineMs: -1 }, 'deadlineMs'],
      ['an unknown field', { kind: 'render', inputs: [scene], render, priority: 'high' }, 'priority'],
      [
        'a misspelt inference field',
        { kind: 'inference', inputs: [scene], inference: { items: 2, itemsPerTask: 1, flopsPerItme: 64 } },
        'flopsPerItme',
      ],
      [
        'a misspelt lighting field',
        {
          kind: 'render',
          inputs: [scene, panorama],
          render: { ...render, environment: { ...lighting, hidden: true } },
        },
        'hidden',
      ],
      [
        'a panorama scaled to nothing',
        {
          kind: 'render',
          inputs: [scene, panorama],
          render: { ...render, environment: { ...lighting, intensity: 0 } },
        },
        'intensity',
      ],
      ['no request', null, 'job request'],
    ]
    for (const [why, request, field] of refused) {
      await expect(peer.submitJob(request as JobRequest), why).rejects.toMatchObject({
        code: 'NODE__API_MALFORMED_REQUEST',
        message: expect.stringContaining(field),
      })
    }
    expect(await peer.listJobs(10)).toEqual([])
    expect(await peer.wallet()).toEqual(before)
  }, 60_000)
})
