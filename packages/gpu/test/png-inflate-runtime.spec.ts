import { encode as encodePng } from 'fast-png'
import { afterEach, describe, expect, it, vi } from 'vitest'

describe('PNG inflate cap on a Node without process.getBuiltinModule', () => {
  afterEach(() => {
    vi.unstubAllGlobals()
    vi.resetModules()
  })

  /** The texture module as a Node before 22.3 loads it: no `process.getBuiltinModule`. */
  async function textureModuleWithoutGetBuiltinModule(): Promise<typeof import('../src/scene/texture.js')> {
    vi.stubGlobal('process', Object.assign(Object.create(process) as NodeJS.Process, { getBuiltinModule: undefined }))
    vi.resetModules()
    return import('../src/scene/texture.js')
  }

  it('should refuse a PNG with a coded error rather than inflate it without the cap', async () => {
    const { decodeTexture } = await textureModuleWithoutGetBuiltinModule()
    const honest = encodePng({ width: 2, height: 2, data: new Uint8Array(16), channels: 4 })
    expect(() => decodeTexture(honest, 'image/png', [2, 2], 16, 'honest')).toThrow(
      expect.objectContaining({ code: 'GPU__DECODER_UNAVAILABLE' }),
    )
  })
})
