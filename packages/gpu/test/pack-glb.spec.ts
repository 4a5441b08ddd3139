import { mkdir, mkdtemp, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WebIO } from '@gltf-transform/core'
import { KHRDracoMeshCompression } from '@gltf-transform/extensions'
import draco3d from 'draco3dgltf'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodePng, generateSceneDocument, loadScene, packGlb, writeScene } from '../src/index.js'

/** The JSON chunk of a GLB (glTF 2.0 section 4.4: 12-byte header, then the JSON chunk's length, type and bytes). */
function glbJson(glb: Uint8Array): { extensionsUsed?: string[]; buffers?: { uri?: string }[] } {
  const view = new DataView(glb.buffer, glb.byteOffset, glb.byteLength)
  return JSON.parse(new TextDecoder().decode(glb.subarray(20, 20 + view.getUint32(12, true))))
}

describe('packGlb', () => {
  let dir: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-pack-'))
  })

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('should pack a .gltf and the buffer beside it into one GLB that loads as the same scene', async () => {
    const path = join(dir, 'separate.gltf')
    await writeScene(path, { subdivisions: 1 })
    const packed = await packGlb(path)
    expect(new TextDecoder().decode(packed.subarray(0, 4))).toBe('glTF')
    expect(glbJson(packed).buffers?.every((b) => b.uri === undefined)).toBe(true)
    // The bytes alone are the scene: nothing refers to a file beside them any more.
    expect(await loadScene(packed)).toEqual(await loadScene(path))
  })

  it('should pack the .gltf bytes its caller read already, never reading the file again', async () => {
    const path = join(dir, 'held.gltf')
    await writeScene(path, { subdivisions: 1 })
    const file = new Uint8Array(await readFile(path))
    const packed = await packGlb(path)
    // What is on disk now is no scene: only the bytes given can make the same GLB.
    await writeFile(path, 'not a scene')
    expect(await packGlb(path, { file })).toEqual(packed)
  })

  it('should store Draco-compressed geometry decoded, exactly as the renderer reads it', async () => {
    const doc = generateSceneDocument({ subdivisions: 1 })
    doc.createExtension(KHRDracoMeshCompression).setRequired(true)
    const compressed = await new WebIO()
      .registerExtensions([KHRDracoMeshCompression])
      .registerDependencies({ 'draco3d.encoder': await draco3d.createEncoderModule() })
      .writeBinary(doc)
    const path = join(dir, 'draco.glb')
    await writeFile(path, compressed)
    const packed = await packGlb(path)
    expect(glbJson(packed).extensionsUsed ?? []).not.toContain('KHR_draco_mesh_compression')
    expect(await loadScene(packed)).toEqual(await loadScene(compressed))
  })

  it('should refuse the bytes of a .gltf that names files beside it, saying so, where the bytes travel alone', async () => {
    const path = join(dir, 'travelling.gltf')
    await writeScene(path, { subdivisions: 1 })
    await expect(loadScene(await readFile(path))).rejects.toMatchObject({
      code: 'GPU__MALFORMED_SCENE',
      message: expect.stringMatching(/names files beside it \(travelling\.bin\)/),
      context: { uris: ['travelling.bin'] },
    })
  })

  it('should read no file a .gltf names outside its own folder, so none can be packed and uploaded', async () => {
    const folder = join(dir, 'inside')
    await mkdir(folder, { recursive: true })
    await writeScene(join(folder, 'scene.gltf'), { subdivisions: 1 })
    const json = JSON.parse(await readFile(join(folder, 'scene.gltf'), 'utf8'))
    await writeFile(join(dir, 'secret.bin'), await readFile(join(folder, 'scene.bin')))
    // Links inside the folder that lead out of it, or to a device that never ends.
    await symlink(join(dir, 'secret.bin'), join(folder, 'link.bin'))
    await symlink(dir, join(folder, 'linked'))
    await symlink('/dev/zero', join(folder, 'zero.bin'))
    for (const uri of [
      '../secret.bin',
      '%2e%2e/secret.bin',
      join(dir, 'secret.bin'),
      'file:///dev/zero',
      '/dev/zero',
      'link.bin',
      'linked/secret.bin',
      'zero.bin',
    ]) {
      const path = join(folder, 'escaping.gltf')
      await writeFile(path, JSON.stringify({ ...json, buffers: [{ ...json.buffers[0], uri }] }))
      await expect(packGlb(path), uri).rejects.toMatchObject({
        code: 'GPU__MALFORMED_SCENE',
        message: expect.stringMatching(/not a (regular )?file/),
      })
    }
  })

  it('should refuse a .gltf whose buffer is missing, with a coded error', async () => {
    const path = join(dir, 'orphan.gltf')
    await writeScene(path, { subdivisions: 1 })
    await unlink(join(dir, 'orphan.bin'))
    await expect(packGlb(path)).rejects.toMatchObject({
      code: 'GPU__MALFORMED_SCENE',
      message: expect.stringMatching(/orphan\.bin, which does not exist/),
    })
  })

  describe('the files it packs into a scene a job uploads', () => {
    let folder: string
    let json: { buffers: { uri: string; byteLength: number }[]; images?: { uri: string; mimeType: string }[] }
    /** A 1 x 1 PNG: an image the renderer decodes. */
    const png = encodePng({ width: 1, height: 1, pixels: new Float32Array([1, 1, 1, 1]) })

    beforeAll(async () => {
      folder = join(dir, 'named')
      await mkdir(join(folder, 'textures'), { recursive: true })
      await writeScene(join(folder, 'scene.gltf'), { subdivisions: 1 })
      json = JSON.parse(await readFile(join(folder, 'scene.gltf'), 'utf8'))
      await writeFile(join(folder, 'textures', 'wood.png'), png)
    })

    /** Packs the scene with `images` (and `buffers`, else its own), as a .gltf in the folder; `exclude` as packGlb's. */
    const pack = async (changes: Partial<typeof json>, exclude?: string[]) => {
      const path = join(folder, 'changed.gltf')
      await writeFile(path, JSON.stringify({ ...json, ...changes }))
      return packGlb(path, exclude === undefined ? {} : { exclude })
    }
    const image = (uri: string) => ({ images: [{ uri, mimeType: 'image/png' }] })

    it('should pack an image beside it that the renderer decodes', async () => {
      const packed = await pack(image('textures/wood.png'))
      expect(new TextDecoder().decode(packed.subarray(0, 4))).toBe('glTF')
    })

    it('should refuse a file in a hidden folder or of a hidden name, by its URI or where a link leads', async () => {
      await mkdir(join(folder, '.ssh'), { recursive: true })
      await mkdir(join(folder, 'textures', '.cache'), { recursive: true })
      await writeFile(join(folder, '.ssh', 'id.png'), png)
      await writeFile(join(folder, 'textures', '.cache', 'wood.png'), png)
      await writeFile(join(folder, '.hidden.png'), png)
      await symlink(join(folder, '.ssh', 'id.png'), join(folder, 'innocent.png'))
      for (const uri of ['.ssh/id.png', 'textures/.cache/wood.png', '.hidden.png', 'innocent.png', '%2essh/id.png']) {
        await expect(pack(image(uri)), uri).rejects.toMatchObject({
          code: 'GPU__MALFORMED_SCENE',
          message: expect.stringMatching(/which is hidden/),
          context: { uri },
        })
      }
    })

    it("should refuse a file in a folder it is told to exclude (a node's data directory), even through a link", async () => {
      const data = join(folder, 'data')
      await mkdir(data, { recursive: true })
      // Its key would not pass for an image; a PNG there is refused all the same, for where it is.
      await writeFile(join(data, 'peer.png'), png)
      await symlink(data, join(folder, 'data-link'))
      for (const uri of ['data/peer.png', 'data-link/peer.png']) {
        await expect(pack(image(uri), [data]), uri).rejects.toMatchObject({
          code: 'GPU__MALFORMED_SCENE',
          message: expect.stringMatching(/in the node's data directory/),
        })
      }
      expect((await pack(image('data/peer.png'))).byteLength).toBeGreaterThan(0)
    })

    it('should refuse an image that is no PNG, JPEG, KTX2 or WebP by its bytes, naming it', async () => {
      // A node's key, named as an image: packed and uploaded to every worker before.
      await writeFile(join(folder, 'peer.key'), new Uint8Array(68).fill(8))
      await expect(pack(image('peer.key'))).rejects.toMatchObject({
        code: 'GPU__MALFORMED_SCENE',
        message: expect.stringMatching(/image peer\.key is not a PNG, JPEG, KTX2 or WebP image/),
        context: { uri: 'peer.key' },
      })
      // Nor as a data: URI.
      const base64 = Buffer.from('-----BEGIN PRIVATE KEY-----').toString('base64')
      await expect(
        pack({ images: [{ uri: `data:image/png;base64,${base64}`, mimeType: 'image/png' }] }),
      ).rejects.toMatchObject({
        code: 'GPU__MALFORMED_SCENE',
        message: expect.stringMatching(/not a PNG, JPEG, KTX2 or WebP image/),
      })
    })

    it('should refuse a buffer whose file is longer or shorter than its byteLength', async () => {
      const bin = await readFile(join(folder, 'scene.bin'))
      await writeFile(join(folder, 'longer.bin'), Buffer.concat([bin, Buffer.from('and a secret after it')]))
      await writeFile(join(folder, 'shorter.bin'), bin.subarray(0, bin.byteLength - 4))
      for (const uri of ['longer.bin', 'shorter.bin']) {
        await expect(pack({ buffers: [{ ...json.buffers[0]!, uri }] }), uri).rejects.toMatchObject({
          code: 'GPU__MALFORMED_SCENE',
          message: expect.stringMatching(
            new RegExp(
              `${uri.replace('.', '\\.')}, which is \\d+ bytes where its buffer declares a byteLength of ${bin.byteLength}`,
            ),
          ),
        })
      }
    })
  })
})
