import { describe, expect, it } from 'vitest'
import { generateScene, loadScene } from '../src/index.js'
import { rejectionCode } from './helpers/errors.js'

/** A seeded generator of floats in [0, 1) (a linear congruential one: these tests need variety, not quality). */
function random(seed: number): () => number {
  let state = seed >>> 0
  return () => (state = (state * 1664525 + 1013904223) >>> 0) / 2 ** 32
}

/**
 * `bytes` (a GLB) damaged one of four ways, chosen by `kind`: random bytes anywhere, printable characters in the
 * JSON chunk, digits in the JSON chunk (so counts, offsets and indices change while the JSON still parses), or
 * everything past a random point zeroed.
 */
function damage(bytes: Uint8Array, kind: number, next: () => number): Uint8Array {
  const out = bytes.slice()
  const jsonLength = new DataView(out.buffer).getUint32(12, true)
  const inJson = (): number => 20 + Math.floor(next() * jsonLength)
  if (kind === 0) {
    for (let k = 0; k < 1 + next() * 8; k++) out[Math.floor(next() * out.length)] = Math.floor(next() * 256)
  } else if (kind === 1) {
    for (let k = 0; k < 1 + next() * 4; k++) out[inJson()] = 32 + Math.floor(next() * 90)
  } else if (kind === 2) {
    for (let k = 0; k < 1 + next() * 3; k++) out[inJson()] = '0123456789-'.charCodeAt(Math.floor(next() * 11))
  } else {
    out.fill(0, Math.floor(next() * out.length))
  }
  return out
}

describe('damaged glTF', () => {
  it('should load or refuse with a coded error, never throw anything else, whatever the damage', async () => {
    // The textured room: JSON, geometry, indices and a PNG texture to damage.
    const glb = await generateScene({ texturedFloor: true, spheres: 1, subdivisions: 1 })
    const next = random(20261123)
    const outcomes = new Map<string, number>()
    for (let i = 0; i < 800; i++) {
      const code = await rejectionCode(loadScene(damage(glb, i % 4, next)))
      const key = code ?? 'loaded'
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1)
    }
    expect(outcomes.get('uncoded'), JSON.stringify([...outcomes])).toBeUndefined()
    // The damage reaches past the parser: some assets still load, others fail their checks.
    expect(outcomes.get('loaded')).toBeGreaterThan(0)
    expect(outcomes.get('GPU__MALFORMED_SCENE')).toBeGreaterThan(0)
  })
})
