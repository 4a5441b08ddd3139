import { existsSync } from 'node:fs'
import { lstat, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { WebIO } from '@gltf-transform/core'
import { bitwiseEqual, generateScene, loadScene, SceneTimeline, writeScene, type Scene } from '@tessera/gpu'
import { decode } from 'fast-png'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { PNG_EXPOSURE } from '../src/peer/job-output.js'
import { rollingSphere } from './fixtures.js'
import { cli, tempDir } from './helpers.js'

/** The scenes `render` loaded, in order: what it traced, to compare with what a job's workers build. */
const loaded = vi.hoisted(() => [] as Array<Promise<Scene>>)
vi.mock('@tessera/gpu', async (importOriginal) => {
  const gpu = await importOriginal<typeof import('@tessera/gpu')>()
  const loadScene: typeof gpu.loadScene = (...args) => {
    const scene = gpu.loadScene(...args)
    loaded.push(scene)
    return scene
  }
  return { ...gpu, loadScene }
})

describe('tessera render', () => {
  let dir: { path: string; cleanup: () => Promise<void> }
  let scene: string

  beforeAll(async () => {
    dir = await tempDir('tessera-render-')
    scene = join(dir.path, 'room.glb')
    await writeFile(scene, await generateScene({ subdivisions: 1 }))
  })

  afterAll(async () => {
    await dir?.cleanup()
  })

  it('should render a scene to a PNG of the asked size and report the run', async () => {
    const out = join(dir.path, 'frame.png')
    // 160 x 48: two tiles across, the second cut short.
    const res = await cli('render', scene, '--out', out, '--width', '160', '--height', '48', '--samples', '2', '--json')
    expect(res.code).toBe(0)
    const report = JSON.parse(res.stdout) as Record<string, number | string>
    expect(report).toMatchObject({ out, width: 160, height: 48, samples: 2 })
    expect(report.raysPerSec).toBeGreaterThan(0)
    const png = decode(await readFile(out))
    expect([png.width, png.height]).toEqual([160, 48])
    // Not black: the lamp and the lit walls show.
    expect(Math.max(...png.data)).toBeGreaterThan(200)
  }, 60_000)

  it('should render the same image on the CPU reference', async () => {
    const gpu = join(dir.path, 'gpu.png')
    const cpu = join(dir.path, 'cpu.png')
    const args = ['--width', '32', '--height', '32', '--samples', '2']
    expect((await cli('render', scene, '--out', gpu, ...args)).code).toBe(0)
    const res = await cli('render', scene, '--out', cpu, '--cpu', ...args)
    expect(res.code).toBe(0)
    expect(res.stdout).toMatch(/on CPU reference/)
    const a = decode(await readFile(gpu)).data
    const b = decode(await readFile(cpu)).data
    // 8-bit sRGB of renders that agree to the last bits of f32: at most one step apart.
    expect(a.every((v, i) => Math.abs(v - b[i]!) <= 1)).toBe(true)
  }, 60_000)

  it('should light the scene with a panorama given by --environment', async () => {
    // A sky of radiance 8 over the panorama's left half and 1 over its right (RGBE mantissas 128 under exponents 132
    // and 129), 16 x 8 texels, uncompressed.
    const panorama = join(dir.path, 'sky.hdr')
    const header = Buffer.from('#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 8 +X 16\n', 'latin1')
    const texels = Array.from({ length: 128 }, (_, i) => [128, 128, 128, i % 16 < 8 ? 132 : 129])
    await writeFile(panorama, Buffer.concat([header, Buffer.from(texels.flat())]))
    const args = ['--width', '32', '--height', '32', '--samples', '4']
    const lit = join(dir.path, 'lit.png')
    const plain = join(dir.path, 'plain.png')
    expect((await cli('render', scene, '--out', lit, '--environment', panorama, ...args)).code).toBe(0)
    expect((await cli('render', scene, '--out', plain, ...args)).code).toBe(0)
    const mean = (data: ArrayLike<number>): number => Array.from(data).reduce((a, b) => a + b, 0) / data.length
    // The sky shows past the room's open front and lights its walls.
    expect(mean(decode(await readFile(lit)).data)).toBeGreaterThan(mean(decode(await readFile(plain)).data) + 20)
    // Turned a quarter round, the bright half lights the room from elsewhere.
    const turned = join(dir.path, 'turned.png')
    const rotation = ['--environment-rotation', '90', '--environment-intensity', '0.5']
    expect((await cli('render', scene, '--out', turned, '--environment', panorama, ...rotation, ...args)).code).toBe(0)
    const a = decode(await readFile(lit)).data
    expect(decode(await readFile(turned)).data.some((v, i) => Math.abs(v - a[i]!) > 8)).toBe(true)
    expect((await cli('render', scene, '--environment', panorama, '--environment-rotation', 'left')).code).toBe(2)
    // Khronos PBR Neutral rolls the sunlit highlights off instead of cutting them at white.
    const neutral = join(dir.path, 'neutral.png')
    expect(
      (await cli('render', scene, '--out', neutral, '--environment', panorama, '--tone-curve', 'neutral', ...args))
        .code,
    ).toBe(0)
    const saturated = (data: ArrayLike<number>): number => Array.from(data).filter((v) => v === 255).length
    expect(saturated(decode(await readFile(neutral)).data)).toBeLessThan(saturated(a))
    // Hidden from the camera, which sees only the room here: the same light.
    const hidden = join(dir.path, 'hidden.png')
    expect(
      (await cli('render', scene, '--out', hidden, '--environment', panorama, '--environment-hidden', ...args)).code,
    ).toBe(0)
    expect(Buffer.from(await readFile(hidden)).equals(Buffer.from(await readFile(lit)))).toBe(true)
    const junk = join(dir.path, 'junk.hdr')
    await writeFile(junk, '#?RADIANCE\nno size\n')
    const bad = await cli('render', scene, '--out', join(dir.path, 'z.png'), '--environment', junk, ...args)
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/GPU__MALFORMED_ENVIRONMENT/)
  }, 60_000)

  it("should refuse lighting past an order's bounds, or without a panorama, with exit 2 before rendering", async () => {
    const panorama = join(dir.path, 'flat.hdr')
    const header = Buffer.from('#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 1 +X 2\n', 'latin1')
    await writeFile(panorama, Buffer.concat([header, Buffer.from([128, 128, 128, 129, 128, 128, 128, 129])]))
    const out = join(dir.path, 'unlit.png')
    const cases: [string[], RegExp][] = [
      // Refused by the engine after the scene was read (exit 1) before.
      [['--environment', panorama, '--environment-intensity', '2e6'], /expected a positive number up to 1000000/],
      // Rendered before, though a job of it would be refused.
      [['--environment', panorama, '--environment-rotation', '60000'], /expected -57295 to 57295 degrees/],
      [['--environment', panorama, '--environment-rotation', '-57296'], /expected -57295 to 57295 degrees/],
      // Rendered unlit before, the flags dropped.
      [['--environment-rotation', '90'], /^error: --environment-rotation is for the panorama --environment <panorama>/],
      [['--environment-hidden'], /^error: --environment-hidden is for the panorama .*\(NODE__UNSUPPORTED_INPUT\)\n$/],
    ]
    for (const [flags, message] of cases) {
      const res = await cli(
        'render',
        scene,
        '--out',
        out,
        '--width',
        '16',
        '--height',
        '16',
        '--samples',
        '1',
        ...flags,
      )
      expect({ flags, code: res.code }).toEqual({ flags, code: 2 })
      expect(res.stderr).toMatch(message)
    }
    expect(existsSync(out)).toBe(false)
  })

  it("should tone-map the preview as job fetch does its frames' PNGs", async () => {
    const args = ['--width', '16', '--height', '16', '--samples', '1', '--cpu']
    const preview = join(dir.path, 'preview.png')
    const fetched = join(dir.path, 'as-fetched.png')
    expect((await cli('render', scene, '--out', preview, ...args)).code).toBe(0)
    expect((await cli('render', scene, '--out', fetched, ...args, '--exposure', String(PNG_EXPOSURE))).code).toBe(0)
    // Half as bright before, at an exposure of 1.
    expect(Buffer.from(await readFile(preview)).equals(Buffer.from(await readFile(fetched)))).toBe(true)
  })

  it('should report a scene it cannot read as unreadable, not as malformed', async () => {
    const missing = join(dir.path, 'missing.glb')
    const res = await cli('render', missing, '--out', join(dir.path, 'z.png'))
    expect(res.code).toBe(1)
    // GPU__MALFORMED_SCENE with the ENOENT before.
    expect(res.stderr).toBe(`error: cannot read ${missing}: no such file (NODE__FILE_UNREADABLE)\n`)
    // A .gltf is read with the files it names beside it, as job submit sends it.
    const gltf = join(dir.path, 'separate.gltf')
    await writeScene(gltf, { subdivisions: 1 })
    const out = join(dir.path, 'separate.png')
    const rendered = await cli('render', gltf, '--out', out, '--width', '16', '--height', '16', '--samples', '1')
    expect(rendered.code).toBe(0)
    expect(decode(await readFile(out)).width).toBe(16)
  }, 60_000)

  it('should refuse a file that is not glTF and sizes past the bounds, with coded errors', async () => {
    const junk = join(dir.path, 'junk.glb')
    await writeFile(junk, 'not a scene')
    const bad = await cli('render', junk, '--out', join(dir.path, 'x.png'))
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/GPU__MALFORMED_SCENE/)
    // Refused as they are parsed: a width of 2^53 - 1 used to cut tiles without end before anything checked it.
    for (const [flag, value] of [
      ['--width', '100000'],
      ['--width', '9007199254740991'],
      ['--height', '16385'],
      ['--samples', '65537'],
      // A frame no job may have: rendered before (or refused by the engine, exit 1, past 2^32 - 1).
      ['--frame', '1000000000'],
      ['--frame', '9007199254740991'],
    ]) {
      const huge = await cli('render', scene, '--out', join(dir.path, 'y.png'), flag!, value!)
      expect(huge.code, `${flag} ${value}`).toBe(2)
      expect(huge.stderr).toMatch(/expected (1 to (16384 pixels|65536 samples)|0 to 999999999)/)
    }
    // The last frame a job may have is one to preview.
    const last = ['--width', '16', '--height', '16', '--samples', '1', '--cpu', '--frame', '999999999']
    expect((await cli('render', scene, '--out', join(dir.path, 'last.png'), ...last)).code).toBe(0)
    // Checked before the render, not after minutes of it.
    const nowhere = await cli('render', scene, '--out', join(dir.path, 'absent', 'x.png'))
    expect(nowhere.code).toBe(1)
    expect(nowhere.stderr).toMatch(/its folder does not exist \(NODE__FILE_UNWRITABLE\)/)
    // Rendered in full before, then EISDIR.
    const folder = await cli('render', scene, '--out', dir.path, '--width', '16', '--height', '16', '--samples', '1')
    expect([folder.code, folder.stderr]).toEqual([
      1,
      `error: cannot write ${dir.path}: it is a folder; name a file in it (NODE__FILE_UNWRITABLE)\n`,
    ])
    expect((await cli('render', scene, '--width', '0')).code).toBe(2)
    expect((await cli('render', scene, '--exposure', 'bright')).code).toBe(2)
    const dazzling = await cli('render', scene, '--exposure', '1e7')
    expect([dazzling.code, dazzling.stderr]).toEqual([
      2,
      expect.stringMatching(/expected a number above 0, at most 1000000/),
    ])
    expect((await cli('render', scene, '--tone-curve', 'filmic')).code).toBe(2)
  }, 60_000)

  it('should refuse a file at --out before rendering, and replace it (a link itself, not its target) with --force', async () => {
    const victim = join(dir.path, 'victim.txt')
    await writeFile(victim, 'not a preview')
    const out = join(dir.path, 'linked.png')
    await symlink(victim, out)
    const args = ['--out', out, '--width', '16', '--height', '16', '--samples', '1', '--cpu']
    const rendersBefore = loaded.length
    const refused = await cli('render', scene, ...args)
    expect([refused.code, refused.stderr]).toEqual([
      1,
      `error: will not replace ${out}: it exists; pass --force to replace it (NODE__FILE_EXISTS)\n`,
    ])
    // Refused before the scene was loaded, let alone rendered.
    expect(loaded).toHaveLength(rendersBefore)
    expect((await cli('render', scene, ...args, '--force')).code).toBe(0)
    expect(await readFile(victim, 'utf8')).toBe('not a preview')
    expect((await lstat(out)).isFile()).toBe(true)
    expect(decode(await readFile(out)).width).toBe(16)
  }, 60_000)

  it('should trace, with --first-frame, the tree a job of that first frame refits, and refuse it without --fps', async () => {
    // The diffuse sphere rolls across the room over 2 s: the tree built for its pose at 1 s, a job's first frame 24
    // at 24 fps, groups its triangles otherwise than the one built at 0 s.
    const bytes = await new WebIO().writeBinary(rollingSphere({ subdivisions: 2, to: [0.9, 0.9, 0.6] }))
    const rolling = join(dir.path, 'rolling.glb')
    await writeFile(rolling, bytes)
    const args = ['--out', join(dir.path, 'rolling.png'), '--width', '16', '--height', '16', '--samples', '1', '--cpu']
    const res = await cli('render', rolling, ...args, '--fps', '24', '--first-frame', '24', '--frame', '30')
    expect(res.code).toBe(0)
    const preview = await loaded.at(-1)!
    const job = (await SceneTimeline.load(bytes, { topologyTime: 1 })).at(30 / 24)
    expect(bitwiseEqual(preview.bvh, job.bvh)).toBe(true)
    expect(bitwiseEqual(preview.triangles, job.triangles)).toBe(true)
    // Without the flag the tree is the one built at 0 s: another tree.
    expect(bitwiseEqual((await loadScene(bytes, { time: 30 / 24 })).bvh, job.bvh)).toBe(false)
    // Flags that do not go together: exit 2, as job submit's (exit 1 before).
    const alone = await cli('render', rolling, ...args, '--first-frame', '24')
    expect(alone.code).toBe(2)
    expect(alone.stderr).toMatch(/--first-frame .*--fps.*NODE__UNSUPPORTED_INPUT/)
    const animation = await cli('render', rolling, ...args, '--animation', 'roll')
    expect(animation.code).toBe(2)
    expect(animation.stderr).toMatch(/--animation .*--fps: give both \(NODE__UNSUPPORTED_INPUT\)/)
    expect((await cli('render', rolling, ...args, '--fps', '24', '--first-frame', '999990001')).code).toBe(2)
  }, 60_000)
})
