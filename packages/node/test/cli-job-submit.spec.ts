import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { environmentLightingSchema } from '@tessera/core'
import { encodePng, generateScene, writeScene } from '@tessera/gpu'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { ApiClient } from '../src/api/client.js'
import type { JobRequest } from '../src/api/contract.js'
import { NodeError } from '../src/errors.js'
import { linearModel } from './fixtures.js'
import { cli, tempDir } from './helpers.js'

/** Stands in for the node's control API: it records uploads and refuses orders, as a node refuses one out of bounds. */
function fakeClient() {
  return {
    putBlob: vi.fn(async () => 'bafy-cid'),
    submitJob: vi.fn(async (): Promise<{ jobId: string }> => {
      throw new NodeError('NODE__API_MALFORMED_REQUEST', 'render.frames: too big', {})
    }),
  }
}

describe('tessera job submit', () => {
  let dir: { path: string; cleanup: () => Promise<void> }
  let scene: string
  let model: string
  let sky: string
  let api: ReturnType<typeof fakeClient>

  beforeAll(async () => {
    dir = await tempDir('tessera-submit-')
    scene = join(dir.path, 'scene.glb')
    await writeFile(scene, await generateScene({ subdivisions: 1 }))
    model = join(dir.path, 'model.onnx')
    await writeFile(model, 'not read before the flags are checked')
    await writeFile(join(dir.path, 'tensors.json'), '{}')
    // A 2 x 1 panorama of radiance 1, uncompressed.
    sky = join(dir.path, 'sky.hdr')
    const header = Buffer.from('#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 1 +X 2\n', 'latin1')
    await writeFile(sky, Buffer.concat([header, Buffer.from([128, 128, 128, 129, 128, 128, 128, 129])]))
  })

  afterAll(async () => {
    await dir?.cleanup()
  })

  afterEach(() => {
    vi.restoreAllMocks()
  })

  const submit = async (...argv: string[]) => {
    api = fakeClient()
    vi.spyOn(ApiClient, 'forDataDir').mockResolvedValue(api as unknown as ApiClient)
    return cli('--data-dir', dir.path, 'job', 'submit', ...argv)
  }

  it('should refuse a job out of bounds with exit 2 before uploading anything', async () => {
    const cases: [string[], RegExp][] = [
      [[scene, '--frames', '20000'], /--frames.*expected 1 to 10000 frames/],
      [[scene, '--first-frame', '999990001'], /--first-frame.*expected 0 to 999990000/],
      // 100 frames of 128 x 128 tiles: more tasks than a job may have.
      [
        [scene, '--frames', '100', '--width', '2048', '--height', '2048', '--tile', '16'],
        /1638400 tasks; a job may have 1 to 65536.*SCHEDULER__TASK_LIMIT_EXCEEDED/,
      ],
      // One 2048x2048 tile at 1,025 samples: past the pixel-samples a task may be (2^32), so workers would refuse it.
      [
        [scene, '--width', '2048', '--height', '2048', '--tile', '2048', '--samples', '1025'],
        /2048x2048 pixels at 1025 samples is 4299161600 pixel-samples.*SCHEDULER__TASK_WORK_EXCEEDED/,
      ],
      // One 4096x4096 tile: a 256 MiB output, more than a worker's device may hold (2^23 pixels), at any samples.
      [
        [scene, '--width', '4096', '--height', '4096', '--tile', '4096', '--samples', '1'],
        /tile of 4096x4096 pixels is 16777216 pixels.*SCHEDULER__TILE_SIZE_EXCEEDED/,
      ],
      [
        [model, '--input', join(dir.path, 'tensors.json'), '--items', '100000', '--items-per-task', '1'],
        /100000 tasks.*SCHEDULER__TASK_LIMIT_EXCEEDED/,
      ],
      // One task of more items than an order may carry: the task count alone let it through to the upload.
      [
        [model, '--input', join(dir.path, 'tensors.json'), '--items', '67108865', '--items-per-task', '67108865'],
        /--items <n>.*expected 1 to 67108864 items/,
      ],
      [
        [model, '--input', join(dir.path, 'tensors.json'), '--items', '4', '--items-per-task', '67108865'],
        /--items-per-task <n>.*expected 1 to 67108864 items/,
      ],
      // Declared work past what a task may be (2^47 FLOPs): 4 items of 2^46 each.
      [
        [model, '--input', join(dir.path, 'tensors.json'), '--items', '4', '--flops-per-item', String(2 ** 46)],
        /4 items at 70368744177664 FLOPs each is 281474976710656 FLOPs.*SCHEDULER__TASK_WORK_EXCEEDED/,
      ],
      [
        [model, '--input', join(dir.path, 'tensors.json'), '--items', '4', '--flops-per-item', '0'],
        /--flops-per-item <n>.*expected a positive integer/,
      ],
      // Verification terms out of range, and a budget no plan meets for 8-row tiles within 200 tasks.
      [[scene, '--verify-detect', '1'], /--verify-detect <p>.*expected a number between 0 and 1/],
      [[scene, '--verify-overhead', '0'], /--verify-overhead <f>.*expected a number above 0, at most 1/],
      [[scene, '--verify-within', '0.5'], /--verify-within <tasks>.*expected a positive integer/],
      [
        [scene, '--tile', '8', '--verify-within', '200'],
        /tasks of 8 tile rows: .*met within 688 tasks.*NODE__VERIFICATION_INFEASIBLE/,
      ],
      // No budget to fund: the node recorded the job and held its inputs before the ledger refused it.
      [[scene, '--max-price', '0'], /--max-price <units>.*expected at least 1 token unit/],
      // Past an order's lighting bounds: the scene and panorama were uploaded, then the node refused the order (in
      // radians, for a flag in degrees).
      [[scene, '--environment', sky, '--environment-intensity', '1e7'], /expected a positive number up to 1000000/],
      [[scene, '--environment', sky, '--environment-rotation', '60000'], /expected -57295 to 57295 degrees/],
      // Lighting without a panorama to light with: dropped, and the job ordered unlit.
      [
        [scene, '--environment-rotation', '90'],
        /^error: --environment-rotation is for the panorama --environment <panorama> names.*UNSUPPORTED_INPUT/,
      ],
      [[scene, '--environment-hidden'], /^error: --environment-hidden is for the panorama .*give both/],
      [[scene, '--environment-intensity', '2'], /^error: --environment-intensity is for the panorama/],
      // An inference without the flags it cannot do without.
      [[model, '--items', '4'], /needs --input <tensors\.json> and --items <n>.*NODE__UNSUPPORTED_INPUT/],
    ]
    for (const [argv, message] of cases) {
      const res = await submit(...argv)
      // Before, the scene was uploaded, then the node refused the order (exit 1, NODE__API_MALFORMED_REQUEST).
      expect({ argv, code: res.code }).toEqual({ argv, code: 2 })
      expect(res.stderr).toMatch(message)
      expect(api.putBlob).not.toHaveBeenCalled()
    }
  })

  it('should refuse, with exit 2 before uploading anything, a flag of the other kind of job', async () => {
    const tensors = join(dir.path, 'tensors.json')
    const inference = [model, '--input', tensors, '--items', '4']
    const cases: [string[], string][] = [
      // Ordered a render before, ignoring the inference's flags, and exited 0.
      [[scene, '--input', tensors, '--items', '3', '--flops-per-item', '5', '--no-wait'], '--input'],
      [[scene, '--items-per-task', '2'], '--items-per-task'],
      [[...inference, '--frames', '2'], '--frames'],
      [[...inference, '--first-frame', '0'], '--first-frame'],
      [[...inference, '--fps', '30'], '--fps'],
      [[...inference, '--animation', 'walk'], '--animation'],
      [[...inference, '--samples', '16'], '--samples'],
      [[...inference, '--environment', 'sky.hdr'], '--environment'],
      [[...inference, '--environment-hidden'], '--environment-hidden'],
    ]
    for (const [argv, flag] of cases) {
      const res = await submit(...argv)
      expect({ argv, code: res.code }).toEqual({ argv, code: 2 })
      const kind = argv[0] === scene ? "an inference's flag, and .* is rendered" : "a render's flag, and .* is run as"
      expect(res.stderr).toMatch(
        new RegExp(`^error: ${flag} is ${kind}.*; leave it out \\(NODE__UNSUPPORTED_INPUT\\)\n$`),
      )
      expect(api.putBlob).not.toHaveBeenCalled()
    }
  })

  it('should order an inference with the work it declares an item takes', async () => {
    await writeFile(join(dir.path, 'one.json'), JSON.stringify({ x: { dims: [1, 4], data: [1, 2, 3, 4] } }))
    const input = join(dir.path, 'one.json')
    const linear = join(dir.path, 'linear.onnx')
    await writeFile(linear, linearModel())
    const res = await submit(
      linear,
      '--input',
      input,
      '--items',
      '4',
      '--items-per-task',
      '2',
      '--flops-per-item',
      '5000',
    )
    expect(api.submitJob).toHaveBeenCalledWith(
      expect.objectContaining({ inference: { items: 4, itemsPerTask: 2, flopsPerItem: 5000 } }),
      {},
    )
    expect(res.code).toBe(1)
    // Without the flag, as before: no figure, and the model is not read.
    await submit(model, '--input', input, '--items', '4')
    expect(api.submitJob).toHaveBeenCalledWith(
      expect.objectContaining({ inference: { items: 4, itemsPerTask: 4 } }),
      {},
    )
  })

  it("should read an inference's input before uploading anything, and say on one line what is wrong with it", async () => {
    const missing = join(dir.path, 'nope.json')
    const res = await submit(model, '--input', missing, '--items', '2')
    // Before, the model was uploaded first, and kept by the node a day.
    expect([res.code, res.stderr]).toEqual([1, `error: cannot read ${missing}: no such file (NODE__FILE_UNREADABLE)\n`])
    expect(api.putBlob).not.toHaveBeenCalled()
    const cases: [string, RegExp][] = [
      // Zod's issues as pretty-printed JSON, over a dozen lines, before.
      [
        '{"x": 5}',
        /is not a JSON map of tensors: x: .*expected object, received number \(NODE__UNSUPPORTED_INPUT\)\n$/,
      ],
      ['{"x": {"dims": [2], "data": "no"}}', /is not a JSON map of tensors: x\.data: .*expected array/],
      ['{"x": ', /is not a JSON map of tensors: .*JSON/],
    ]
    for (const [text, message] of cases) {
      const bad = join(dir.path, 'bad.json')
      await writeFile(bad, text)
      const refused = await submit(model, '--input', bad, '--items', '2')
      expect({ text, code: refused.code }).toEqual({ text, code: 1 })
      expect(refused.stderr).toMatch(/^error: [^\n]*\n$/)
      expect(refused.stderr).toMatch(message)
      expect(api.putBlob).not.toHaveBeenCalled()
    }
  })

  it('should refuse, before parsing it, an input of more numbers than a tensor bundle carries', async () => {
    // 2^27 zeros: 512 MiB of float32 and more, past the bundle's bound. Parsed, V8 died on the array (exit 133).
    const numbers = 2 ** 27
    const huge = join(dir.path, 'huge.json')
    const zeros = Buffer.alloc(2 * numbers - 1, '0,')
    await writeFile(huge, Buffer.concat([Buffer.from(`{"x":{"dims":[${numbers}],"data":[`), zeros, Buffer.from(']}}')]))
    const parse = vi.spyOn(JSON, 'parse')
    const res = await submit(model, '--input', huge, '--items', '2')
    expect(res.code).toBe(1)
    expect(res.stderr).toMatch(
      new RegExp(
        `huge\\.json holds ${numbers} numbers or more, more than a tensor bundle carries.*\\(NODE__UNSUPPORTED_INPUT\\)`,
      ),
    )
    expect(parse).not.toHaveBeenCalledWith(expect.stringMatching(/^\{"x"/))
    expect(api.putBlob).not.toHaveBeenCalled()
  }, 60_000)

  it("should refuse, before uploading anything, an inference declaring less than half its model's weights", async () => {
    const linear = join(dir.path, 'linear.onnx')
    await writeFile(linear, linearModel())
    const tensors = join(dir.path, 'tensors.json')
    // A 4x8 weight: at least 64 FLOPs an item, so 32 is the least a worker takes.
    const res = await submit(linear, '--input', tensors, '--items', '4', '--flops-per-item', '31')
    expect(res.code).toBe(2)
    expect(res.stderr).toMatch(
      /the model costs 64 FLOPs an item; its order declared 31.*SCHEDULER__DECLARED_WORK_MISMATCH/,
    )
    expect(api.putBlob).not.toHaveBeenCalled()
    // And a declaration of a model that is none is refused as such: a failed input (exit 1), not a bad flag, as a
    // malformed scene is.
    const junk = await submit(model, '--input', tensors, '--items', '4', '--flops-per-item', '1000')
    expect(junk.code).toBe(1)
    expect(junk.stderr).toMatch(/GPU__MALFORMED_MODEL/)
    expect(api.putBlob).not.toHaveBeenCalled()
    const junkScene = join(dir.path, 'junk.glb')
    await writeFile(junkScene, 'not a scene')
    const bad = await submit(junkScene)
    expect([bad.code, bad.stderr]).toEqual([junk.code, expect.stringMatching(/GPU__MALFORMED_SCENE/)])
    expect(api.putBlob).not.toHaveBeenCalled()
  })

  it("should pack and upload no file of the node's data directory, nor one that is no image, as a scene's image", async () => {
    // A project folder holding the node's data directory: a scene there could name its key.
    const project = join(dir.path, 'project')
    const dataDir = join(project, 'node')
    await mkdir(dataDir, { recursive: true })
    await writeScene(join(project, 'scene.gltf'), { subdivisions: 1 })
    await writeFile(join(dataDir, 'peer.key'), new Uint8Array(68).fill(9))
    const png = encodePng({ width: 1, height: 1, pixels: new Float32Array([1, 1, 1, 1]) })
    await writeFile(join(dataDir, 'thumb.png'), png)
    await writeFile(join(project, 'notes.txt'), 'not an image')
    const json = JSON.parse(await readFile(join(project, 'scene.gltf'), 'utf8')) as Record<string, unknown>
    const naming = async (uri: string) => {
      const path = join(project, 'named.gltf')
      await writeFile(path, JSON.stringify({ ...json, images: [{ uri, mimeType: 'image/png' }] }))
      api = fakeClient()
      vi.spyOn(ApiClient, 'forDataDir').mockResolvedValue(api as unknown as ApiClient)
      return cli('--data-dir', dataDir, 'job', 'submit', path, '--width', '16', '--height', '16', '--tile', '16')
    }
    for (const [uri, why] of [
      ['node/peer.key', "in the node's data directory"],
      ['node/thumb.png', "in the node's data directory"],
      ['notes.txt', 'not a PNG, JPEG, KTX2 or WebP image'],
    ] as const) {
      const res = await naming(uri)
      expect(res.code, uri).toBe(1)
      expect(res.stderr, uri).toMatch(new RegExp(`${uri.replace('.', '\\.')}.*${why}.*\\(GPU__MALFORMED_SCENE\\)`))
      expect(api.putBlob).not.toHaveBeenCalled()
    }
    // An image beside the scene, outside the data directory, is packed and uploaded.
    await writeFile(join(project, 'wood.png'), png)
    await naming('wood.png')
    expect(api.putBlob).toHaveBeenCalledOnce()
  })

  it('should upload the scene of a job within bounds, then order it', async () => {
    const res = await submit(
      scene,
      '--frames',
      '10000',
      '--first-frame',
      '999990000',
      '--width',
      '16',
      '--height',
      '16',
      '--tile',
      '16',
    )
    expect(api.putBlob).toHaveBeenCalledOnce()
    expect(api.submitJob).toHaveBeenCalledWith(
      expect.objectContaining({ render: expect.objectContaining({ frames: 10000, firstFrame: 999990000 }) }),
      // The CLI's abort options: an embedder's signal, none here.
      {},
    )
    expect(res.code).toBe(1)
  })

  it('should order the lighting within bounds that the node takes, in radians', async () => {
    const res = await submit(
      scene,
      '--environment',
      sky,
      '--environment-rotation',
      '-57295',
      '--environment-intensity',
      '1e6',
      '--environment-hidden',
    )
    expect(api.putBlob).toHaveBeenCalledTimes(2)
    const [request] = api.submitJob.mock.calls[0] as unknown as [JobRequest]
    const lighting = request.render?.environment
    expect(lighting).toEqual({ intensity: 1e6, rotation: expect.closeTo(-1000, 0), visible: false })
    expect(environmentLightingSchema.parse(lighting)).toEqual(lighting)
    expect(res.code).toBe(1)
  })

  it('should order the verification terms given, the others left to the node', async () => {
    const res = await submit(scene, '--tile', '8', '--verify-within', '700', '--verify-detect', '0.99')
    expect(api.submitJob).toHaveBeenCalledWith(
      expect.objectContaining({ verification: { detect: 0.99, withinTasks: 700 } }),
      {},
    )
    expect(res.code).toBe(1)
    await submit(scene)
    expect(api.submitJob).toHaveBeenCalledWith(expect.not.objectContaining({ verification: expect.anything() }), {})
  })
})
