import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { blobCid, FsBlobstore, isCoreError, MemoryBlobstore, parseBlobCid, type Blobstore } from '../src/index.js'
import { CID } from 'multiformats/cid'
import * as dagCbor from '@ipld/dag-cbor'
import { sha256 } from 'multiformats/hashes/sha2'

const dirs: string[] = []
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
})

/** One contract, run against every Blobstore implementation. */
const implementations: Array<[string, () => Promise<Blobstore>]> = [
  ['MemoryBlobstore', async () => new MemoryBlobstore()],
  [
    'FsBlobstore',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'tessera-blobs-'))
      dirs.push(dir)
      return new FsBlobstore(join(dir, 'blobs'))
    },
  ],
]

for (const [name, make] of implementations) {
  describe(name, () => {
    it('should store, stat, stream and delete a blob by CID', async () => {
      const store = await make()
      const bytes = new Uint8Array(1000).map((_, i) => i % 251)
      const cid = blobCid(bytes)
      expect(await store.has(cid)).toBe(false)
      expect(await store.size(cid)).toBeUndefined()
      await store.put(cid, bytes)
      expect(await store.has(cid)).toBe(true)
      expect(await store.size(cid)).toBe(1000)
      expect(await store.get(cid)).toEqual(bytes)
      const chunks: Uint8Array[] = []
      for await (const chunk of store.stream(cid, { chunkBytes: 300 })) chunks.push(chunk)
      expect(chunks.map((c) => c.length)).toEqual([300, 300, 300, 100])
      expect(Buffer.concat(chunks)).toEqual(Buffer.from(bytes))
      await store.delete(cid)
      expect(await store.has(cid)).toBe(false)
    })

    it('should keep its own copy of what it was given', async () => {
      const store = await make()
      const bytes = new Uint8Array([1, 2, 3])
      const cid = blobCid(bytes)
      await store.put(cid, bytes)
      bytes[0] = 99
      expect((await store.get(cid))[0]).toBe(1)
    })

    it('should raise CORE__BLOB_NOT_FOUND for a missing blob', async () => {
      const store = await make()
      const cid = blobCid(new Uint8Array([7]))
      await expect(store.get(cid)).rejects.toSatisfy((e) => isCoreError(e, 'CORE__BLOB_NOT_FOUND'))
      await expect(async () => {
        for await (const chunk of store.stream(cid)) void chunk
      }).rejects.toSatisfy((e) => isCoreError(e, 'CORE__BLOB_NOT_FOUND'))
    })

    it('should honour an aborted signal', async () => {
      const store = await make()
      const cid = blobCid(new Uint8Array([7]))
      await expect(store.has(cid, { signal: AbortSignal.abort() })).rejects.toSatisfy((e) =>
        isCoreError(e, 'CORE__ABORTED'),
      )
    })
  })
}

describe('FsBlobstore', () => {
  it('should reject with CORE__ABORTED when the signal aborts during file I/O', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-blobs-'))
    dirs.push(dir)
    const store = new FsBlobstore(join(dir, 'blobs'))
    const bytes = new Uint8Array(256 * 1024).map((_, i) => i % 251)
    const cid = blobCid(bytes)
    const aborted = (e: unknown): boolean => isCoreError(e, 'CORE__ABORTED')

    // Each call is past its entry check and waiting on fs when the signal fires, so fs sees the abort first.
    let controller = new AbortController()
    const put = store.put(cid, bytes, { signal: controller.signal })
    controller.abort()
    await expect(put).rejects.toSatisfy(aborted)
    expect(await store.has(cid)).toBe(false)

    await store.put(cid, bytes)
    controller = new AbortController()
    const get = store.get(cid, { signal: controller.signal })
    controller.abort()
    await expect(get).rejects.toSatisfy(aborted)

    controller = new AbortController()
    const chunks = store.stream(cid, { chunkBytes: 1024, signal: controller.signal })
    await chunks.next()
    controller.abort()
    await expect(chunks.next()).rejects.toSatisfy(aborted)
  })
})

describe('FsBlobstore temporary files', () => {
  it('should delete the temporary files a crash left when first used, and keep those of a live process', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'tessera-blobs-')), 'blobs')
    dirs.push(dirname(dir))
    await mkdir(dir)
    const blob = new Uint8Array([1, 2, 3])
    const cid = blobCid(blob)
    await writeFile(join(dir, cid.toString()), blob)
    const left = {
      // A process that no longer runs, in the names this version and earlier ones give.
      dead: '.tmp-999991-0123456789ab-1',
      deadEarlier: '.tmp-999991-3',
      // An earlier run that had this process's pid, as a node that is always pid 1 in its container does.
      earlierRun: `.tmp-${process.pid}-0123456789ab-1`,
      earlierRunEarlier: `.tmp-${process.pid}-2`,
      live: `.tmp-${process.ppid}-0123456789ab-1`,
    }
    for (const name of Object.values(left)) await writeFile(join(dir, name), new Uint8Array(1024))
    const store = new FsBlobstore(dir)
    expect(await store.has(cid)).toBe(true)
    expect((await readdir(dir)).sort()).toEqual([left.live, cid.toString()].sort())
  })

  it('should delete its temporary file when the rename into place fails', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'tessera-blobs-')), 'blobs')
    dirs.push(dirname(dir))
    const store = new FsBlobstore(dir)
    const blob = new Uint8Array([4, 5, 6])
    const cid = blobCid(blob)
    // A directory, not empty, where the blob's file goes: no rename can replace it.
    await mkdir(join(dir, cid.toString()), { recursive: true })
    await writeFile(join(dir, cid.toString(), 'x'), blob)
    await expect(store.put(cid, blob)).rejects.toThrow()
    expect(await readdir(dir)).toEqual([cid.toString()])
  })
})

describe('parseBlobCid', () => {
  it('should accept a blob CID as a string, bytes or CID', () => {
    const cid = blobCid(new Uint8Array([1]))
    expect(parseBlobCid(cid.toString()).equals(cid)).toBe(true)
    expect(parseBlobCid(cid.bytes).equals(cid)).toBe(true)
    expect(parseBlobCid(cid).equals(cid)).toBe(true)
  })

  it('should refuse anything but a v1 raw sha2-256 CID', async () => {
    const dagCid = CID.createV1(dagCbor.code, await sha256.digest(new Uint8Array([1])))
    for (const bad of ['not a cid', dagCid.toString(), dagCid.toV1().bytes, 42, null, 'b'.repeat(500)]) {
      expect(() => parseBlobCid(bad)).toThrow(expect.objectContaining({ code: 'CORE__INVALID_CID' }))
    }
  })
})
