import { describe, expect, it } from 'vitest'
import { onceStarted } from '../src/scene/wasm-decoder.js'

describe('a WebAssembly decoder started once', () => {
  it('should start once for every caller, and keep a started decoder', async () => {
    let starts = 0
    const decoder = onceStarted('test', async () => ++starts)
    expect(await Promise.all([decoder(), decoder()])).toEqual([1, 1])
    expect(await decoder()).toBe(1)
    expect(starts).toBe(1)
  })

  it('should reject a failed start with a code naming the decoder, and start again at the next call', async () => {
    const missing = Object.assign(new Error("ENOENT: no such file, open 'x.wasm'"), { code: 'ENOENT' })
    let starts = 0
    const decoder = onceStarted('test', async () => {
      if (++starts === 1) throw missing
      return 'ready'
    })
    await expect(decoder()).rejects.toMatchObject({
      code: 'GPU__DECODER_UNAVAILABLE',
      message: expect.stringMatching(/the test decoder could not start: ENOENT/),
      cause: missing,
    })
    expect(await decoder()).toBe('ready')
  })
})
