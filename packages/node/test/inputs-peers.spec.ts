import { randomFillSync } from 'node:crypto'
import { type BlobStreamOptions, createNode, MemoryBlobstore, type TesseraNode } from '@tessera/core'
import { generateScene } from '@tessera/gpu'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { relayHolder } from '../src/peer/blob-audience.js'
import { jobHolder, UPLOAD } from '../src/peer/blob-holds.js'
import { creatorSource } from '../src/peer/input-relays.js'
import { InputCache, type InputOrder, type InputSource } from '../src/peer/inputs.js'

/** A creator's store that sends a byte of a blob every half second: the slowest a stall guard lets a serve run. */
class TricklingBlobstore extends MemoryBlobstore {
  override async *stream(
    cid: Parameters<MemoryBlobstore['stream']>[0],
    options: BlobStreamOptions = {},
  ): AsyncGenerator<Uint8Array> {
    for await (const chunk of super.stream(cid, options)) {
      for (let i = 0; i < chunk.byteLength; i++) {
        await new Promise((resolve) => setTimeout(resolve, 500))
        yield chunk.subarray(i, i + 1)
      }
    }
  }
}

const MiB = 1024 * 1024

/** Polls `probe` until it holds, failing after `ms`: what a fixed transfer stops within, not a network's worst. */
async function within(ms: number, what: string, probe: () => boolean): Promise<void> {
  const deadline = Date.now() + ms
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** A render order of `creator` reading `inputs`. */
const renderOrder = (creator: TesseraNode, inputs: string[], jobId = 'job'): InputOrder =>
  ({
    jobId,
    kind: 'render',
    inputs,
    creator: creator.peerId.toString(),
    split: { kind: 'render' },
  }) as unknown as InputOrder

/**
 * `node`'s store as a peer reads inputs from it: each blob held for the holders `held` names, each holder admitting
 * the peers `admitted` names, and every fetch counted by the peer asked.
 */
function peerSource(
  node: TesseraNode,
  held: Record<string, string[]> = {},
  admitted: Record<string, string[]> = {},
): InputSource & { asked: string[] } {
  const asked: string[] = []
  const source = creatorSource(node.blobs, {
    self: node.peerId.toString(),
    holders: async (cid) => held[cid] ?? [],
    admits: (holder, peer) => admitted[holder]?.includes(peer) === true,
  })
  return {
    ...source,
    asked,
    fetchFrom: (peer, cid, options) => {
      asked.push(peer)
      return source.fetchFrom(peer, cid, options)
    },
  }
}

describe('InputCache between real peers', () => {
  const nodes: TesseraNode[] = []
  let worker: TesseraNode
  /** A creator that serves its blobs at once. */
  let creator: TesseraNode
  /** A creator that trickles its blobs out a byte at a time. */
  let trickler: TesseraNode
  let scene: Uint8Array

  beforeAll(async () => {
    scene = await generateScene({ subdivisions: 1 })
    const listen = ['/ip4/127.0.0.1/tcp/0']
    ;[worker, creator, trickler] = await Promise.all([
      createNode({ listen }),
      createNode({ listen }),
      createNode({ listen, blobstore: new TricklingBlobstore() }),
    ])
    nodes.push(worker, creator, trickler)
    await Promise.all([creator, trickler].map((c) => worker.dial(c.getMultiaddrs()[0]!)))
  }, 60_000)

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
  })

  it('should stop fetching a panorama trickling in once the creator refuses the scene, its fetch budget given back', async () => {
    const sceneCid = (await trickler.blobs.put(scene)).toString()
    const panorama = (await trickler.blobs.put(randomFillSync(new Uint8Array(8 * MiB)))).toString()
    trickler.blobs.setAccessHook((cid) => cid.toString() !== sceneCid)
    const cache = new InputCache(peerSource(worker))
    try {
      await expect(cache.load(renderOrder(trickler, [sceneCid, panorama]))).rejects.toMatchObject({
        code: 'CORE__BLOB_ACCESS_DENIED',
      })
      // Nothing waits for the panorama any more: its reserved bytes come back, not once it trickled in for days.
      await within(5_000, 'the panorama fetch stopping', () => worker.blobs.fetching.bytes === 0)
    } finally {
      trickler.blobs.setAccessHook(undefined)
      cache.close()
    }
  }, 30_000)

  it("should load an honest order's inputs from its creator while a copy of its order trickles them in", async () => {
    const sceneCid = (await creator.blobs.put(scene)).toString()
    await trickler.blobs.put(scene)
    const cache = new InputCache(peerSource(worker))
    const copier = new AbortController()
    try {
      // The copy's task asks first: the honest order's tasks must not wait on its fetch.
      const copied = cache.load(renderOrder(trickler, [sceneCid]), { signal: copier.signal })
      copied.catch(() => {})
      await within(5_000, 'the copy starting its fetch', () => worker.blobs.fetching.bytes > 0)
      const honest = await cache.load(renderOrder(creator, [sceneCid]))
      expect(honest.kind).toBe('render')
      // The copy's job aborted: its fetch, which nobody else waits for, stops.
      copier.abort()
      await expect(copied).rejects.toThrow()
      await within(5_000, "the copy's fetch stopping", () => worker.blobs.fetching.bytes === 0)
    } finally {
      copier.abort()
      cache.close()
    }
  }, 30_000)

  it("should fetch a stranger's order's inputs from the stranger, not read this peer's own copy of them", async () => {
    // The worker's own upload, whose CID the stranger read off the orders topic: it never held the bytes.
    const sceneCid = (await worker.blobs.put(await generateScene({ subdivisions: 2 }))).toString()
    const source = peerSource(worker, { [sceneCid]: [UPLOAD] })
    const cache = new InputCache(source)
    try {
      await expect(cache.load(renderOrder(creator, [sceneCid]))).rejects.toMatchObject({
        code: 'CORE__BLOB_NOT_FOUND',
      })
      expect(source.asked).toEqual([creator.peerId.toString()])
    } finally {
      cache.close()
    }
  }, 30_000)

  it('should read from its store the inputs of its own orders, of creators it admits, and its relay copy of the job', async () => {
    // The creator refuses every fetch: each of these orders is run from the worker's copy or not at all.
    creator.blobs.setAccessHook(() => false)
    const sceneCid = (await worker.blobs.put(scene)).toString()
    const them = creator.peerId.toString()
    const caches: InputCache[] = []
    const load = async (source: InputSource, order: InputOrder) => {
      const cache = new InputCache(source)
      caches.push(cache)
      return (await cache.load(order)).kind
    }
    try {
      const own = peerSource(worker)
      expect(await load(own, renderOrder(worker, [sceneCid]))).toBe('render')
      const admitting = peerSource(worker, { [sceneCid]: [jobHolder('mine')] }, { [jobHolder('mine')]: [them] })
      expect(await load(admitting, renderOrder(creator, [sceneCid]))).toBe('render')
      const relaying = peerSource(worker, { [sceneCid]: [relayHolder('theirs')] })
      expect(await load(relaying, renderOrder(creator, [sceneCid], 'theirs'))).toBe('render')
      expect([own, admitting, relaying].flatMap((s) => s.asked)).toEqual([])
      // A relay copy kept for another job proves nothing of this one's creator.
      const other = peerSource(worker, { [sceneCid]: [relayHolder('theirs')] })
      await expect(load(other, renderOrder(creator, [sceneCid], 'other'))).rejects.toMatchObject({
        code: 'CORE__BLOB_ACCESS_DENIED',
      })
      expect(other.asked).toEqual([them])
    } finally {
      creator.blobs.setAccessHook(undefined)
      for (const cache of caches) cache.close()
    }
  }, 30_000)
})
