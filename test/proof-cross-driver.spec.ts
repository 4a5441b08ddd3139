import {
  domainOf,
  generateIdentity,
  MAX_DIRECT_ENVELOPE_BYTES,
  openEnvelope,
  sealEnvelope,
  seededRng,
  type Identity,
  type Verdict,
} from '@tessera/core'
import {
  createEngine,
  float32Bytes,
  generateScene,
  loadOnnxModel,
  loadScene,
  onnx,
  renderTileCpu,
  runModelCpu,
  tensor,
  tensorItemChunks,
  tileRowChunks,
  type Engine,
  type OnnxModel,
  type Scene,
  type Tensor,
} from '@tessera/gpu'
import {
  decodeFraudProof,
  openResultEnvelope,
  ProverMachine,
  TASK_TOLERANCE,
  VerifierMachine,
  verifyFraudProof,
  type VerifierOutput,
} from '@tessera/proof'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

/**
 * Acceptance 1 of the proof package across real drivers: workers produce outputs on the WebGPU engine (Dawn on
 * lavapipe here), verifiers recompute the challenged chunks with `@tessera/gpu`'s CPU references (the CPU path
 * tracer, the CPU tensor kernels), and the machines compare them under each task type's tolerance class. Honest
 * workers must pass every one of over 1,000 checks although the drivers' bits differ; cheaters must not.
 */

const SIZE = 64
const TILE_W = 16
const TILE_H = 8
const SAMPLES = 2
const FRAMES = 16
const ITEMS_PER_TASK = 16
const INFERENCE_TASKS = 512
const WIDTH_IN = 32
const WIDTH_OUT = 16

interface Task {
  jobId: string
  taskId: string
  tolerance: string
  chunks: Uint8Array[]
  recompute: (indices: number[]) => Promise<Uint8Array[]>
}

interface Peer {
  id: string
  identity: Identity
}

/** x [batch, 32] -> MatMul -> Add -> Relu -> MatMul -> Add -> y [batch, 16], with fixed pseudo-random weights. */
function mlp(): Uint8Array {
  let s = 7
  const floats = (n: number, scale: number): Float32Array =>
    Float32Array.from({ length: n }, () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0
      return (s / 2 ** 32 - 0.5) * 2 * scale
    })
  const weight = (name: string, dims: number[], data: Float32Array) => ({
    name,
    dims,
    dataType: onnx.TensorProto.DataType.FLOAT,
    rawData: new Uint8Array(data.buffer),
  })
  const value = (name: string, dims: (number | string)[]) => ({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  })
  const node = (opType: string, input: string[], output: string[]) => ({ opType, input, output, name: output[0] })
  return onnx.ModelProto.encode({
    irVersion: 8,
    producerName: 'tessera-proof-tests',
    opsetImport: [{ domain: '', version: 20 }],
    graph: {
      name: 'mlp',
      input: [value('x', ['batch', WIDTH_IN])],
      output: [value('y', ['batch', WIDTH_OUT])],
      initializer: [
        weight('w1', [WIDTH_IN, 64], floats(WIDTH_IN * 64, 0.3)),
        weight('b1', [64], floats(64, 0.1)),
        weight('w2', [64, WIDTH_OUT], floats(64 * WIDTH_OUT, 0.3)),
        weight('b2', [WIDTH_OUT], floats(WIDTH_OUT, 0.1)),
      ],
      node: [
        node('MatMul', ['x', 'w1'], ['h']),
        node('Add', ['h', 'b1'], ['hb']),
        node('Relu', ['hb'], ['a']),
        node('MatMul', ['a', 'w2'], ['o']),
        node('Add', ['o', 'b2'], ['y']),
      ],
    },
  }).finish()
}

describe('proof across drivers (WebGPU vs CPU reference)', () => {
  let engine: Engine
  let scene: Scene
  let model: OnnxModel
  let creator: Peer
  let worker: Peer
  let seq = 0n
  /** Chunks whose GPU and CPU bits differ: the drivers really disagree below the tolerance. */
  let differingChunks = 0
  let comparedChunks = 0

  beforeAll(async () => {
    engine = await createEngine()
    scene = await loadScene(await generateScene({ subdivisions: 2 }))
    model = loadOnnxModel(mlp())
    const ids = [await generateIdentity(), await generateIdentity()]
    ;[creator, worker] = ids.map((identity) => ({ id: identity.peerId.toString(), identity })) as [Peer, Peer]
  })

  afterAll(() => {
    engine?.destroy()
  })

  /** Drives one task through a prover and a verifier, recomputing challenged chunks on the CPU. */
  async function check(
    prover: ProverMachine,
    verifier: VerifierMachine,
    task: Task,
    honestChunks: Uint8Array[],
  ): Promise<{ verdicts: Verdict[]; slashes: Extract<VerifierOutput, { kind: 'slash' }>[] }> {
    const verdicts: Verdict[] = []
    const slashes: Extract<VerifierOutput, { kind: 'slash' }>[] = []
    prover.handle(
      {
        kind: 'commit',
        jobId: task.jobId,
        taskId: task.taskId,
        creator: creator.id,
        chunks: task.chunks,
        output: 'bafy',
        tolerance: task.tolerance,
        computeMs: 1,
      },
      0,
    )
    for (let moved = true; moved;) {
      moved = false
      for (let out = prover.pollOutput(); out !== undefined; out = prover.pollOutput()) {
        moved = true
        if (out.kind !== 'send') continue
        if (out.message.type === 'result') {
          const bytes = sealEnvelope(worker.identity, out.message, {
            domain: domainOf('direct'),
            seq: ++seq,
            expiresAt: 60_000,
          })
          const opened = openEnvelope(bytes, {
            domain: domainOf('direct'),
            maxBytes: MAX_DIRECT_ENVELOPE_BYTES,
            now: 0,
          })
          if (opened.message.type !== 'result') throw new Error('expected a result')
          verifier.handle({ kind: 'result', result: opened.message.body, envelope: bytes }, 0)
        } else if (out.message.type === 'reveal') {
          verifier.handle({ kind: 'reveal', from: worker.id, reveal: out.message.body }, 0)
        }
      }
      for (let out = verifier.pollOutput(); out !== undefined; out = verifier.pollOutput()) {
        moved = true
        if (out.kind === 'send' && out.message.type === 'challenge') {
          prover.handle({ kind: 'challenge', from: creator.id, challenge: out.message.body }, 0)
        } else if (out.kind === 'recompute') {
          const chunks = await task.recompute(out.indices)
          out.indices.forEach((index, k) => {
            comparedChunks++
            if (!Buffer.from(chunks[k]!).equals(Buffer.from(honestChunks[index]!))) differingChunks++
          })
          verifier.handle({ kind: 'recomputed', jobId: out.jobId, taskId: out.taskId, worker: out.worker, chunks }, 0)
        } else if (out.kind === 'publish' && out.message.type === 'verdict') {
          verdicts.push(out.message.body)
        } else if (out.kind === 'slash') {
          slashes.push(out)
        }
      }
    }
    prover.handle({ kind: 'release', jobId: task.jobId, taskId: task.taskId }, 0)
    return { verdicts, slashes }
  }

  function machines(): { prover: ProverMachine; verifier: VerifierMachine } {
    return {
      prover: new ProverMachine({ self: worker.id }),
      verifier: new VerifierMachine({
        self: creator.id,
        rng: seededRng(12345),
        openResult: openResultEnvelope,
        plan: { p: 1, challengeChunks: 4 },
      }),
    }
  }

  /** Tiles of a GPU-rendered frame: chunk i of a tile is its row i as linear RGBA float32. */
  function tilesOf(pixels: Float32Array, frame: number, samples: number): Task[] {
    const tasks: Task[] = []
    for (let y = 0; y < SIZE; y += TILE_H) {
      for (let x = 0; x < SIZE; x += TILE_W) {
        const chunks = Array.from({ length: TILE_H }, (_, r) =>
          float32Bytes(pixels.subarray(((y + r) * SIZE + x) * 4, ((y + r) * SIZE + x + TILE_W) * 4)),
        )
        tasks.push({
          jobId: `render-s${samples}`,
          taskId: `f${frame}-${x}-${y}`,
          tolerance: TASK_TOLERANCE.render,
          chunks,
          recompute: async (rows) =>
            tileRowChunks(
              renderTileCpu({
                scene,
                frame,
                imageWidth: SIZE,
                imageHeight: SIZE,
                x,
                y,
                width: TILE_W,
                height: TILE_H,
                samples: SAMPLES,
                rows,
              }),
            ),
        })
      }
    }
    return tasks
  }

  async function renderFrame(frame: number, samples: number): Promise<Float32Array> {
    const tile = await engine.renderTile({
      scene,
      frame,
      imageWidth: SIZE,
      imageHeight: SIZE,
      x: 0,
      y: 0,
      width: SIZE,
      height: SIZE,
      samples,
    })
    return tile.pixels
  }

  it('should pass 1,024 honest GPU outputs checked against CPU recomputation, with 0 false positives', async () => {
    const { prover, verifier } = machines()
    let checks = 0
    let failures = 0
    for (let frame = 0; frame < FRAMES; frame++) {
      for (const task of tilesOf(await renderFrame(frame, SAMPLES), frame, SAMPLES)) {
        const { verdicts } = await check(prover, verifier, task, task.chunks)
        checks += verdicts.length
        failures += verdicts.filter((v) => v.outcome !== 'pass').length
      }
    }
    const x = tensor(
      [INFERENCE_TASKS * ITEMS_PER_TASK, WIDTH_IN],
      Float32Array.from({ length: INFERENCE_TASKS * ITEMS_PER_TASK * WIDTH_IN }, (_, i) => Math.sin(i * 0.37) * 2),
    )
    const y = (await engine.runModel(model, { x })).y as Tensor
    const items = tensorItemChunks(y)
    for (let t = 0; t < INFERENCE_TASKS; t++) {
      const first = t * ITEMS_PER_TASK
      const task: Task = {
        jobId: 'inference',
        taskId: `b${t}`,
        tolerance: TASK_TOLERANCE.inference,
        chunks: items.slice(first, first + ITEMS_PER_TASK),
        recompute: async (indices) => {
          const out = await runModelCpu(model, { x }, { items: indices.map((i) => first + i) })
          return tensorItemChunks(out.y as Tensor)
        },
      }
      const { verdicts } = await check(prover, verifier, task, task.chunks)
      checks += verdicts.length
      failures += verdicts.filter((v) => v.outcome !== 'pass').length
    }
    expect(checks).toBe(FRAMES * (SIZE / TILE_W) * (SIZE / TILE_H) + INFERENCE_TASKS)
    expect(checks).toBeGreaterThanOrEqual(1000)
    expect(failures).toBe(0)
    // The two drivers' bits differ on some chunks: a bitwise class would have failed honest workers.
    expect(comparedChunks).toBe(checks * 4)
    expect(differingChunks).toBeGreaterThan(0)
  })

  it('should catch a GPU render made with fewer samples and a tensor rounded to bfloat16, with fraud proofs that verify', async () => {
    const { prover, verifier } = machines()
    const cheap = await renderFrame(100, 1)
    let caught = 0
    const tasks = tilesOf(cheap, 100, 1).slice(0, 16)
    for (const task of tasks) {
      const { verdicts, slashes } = await check(prover, verifier, task, task.chunks)
      if (verdicts[0]?.outcome === 'fail') caught++
      const slash = slashes[0]
      if (slash !== undefined) {
        const { index } = decodeFraudProof(slash.fraudProof)
        const [reference] = await task.recompute([index])
        expect(verifyFraudProof(slash.fraudProof, reference!, { expectedHash: slash.fraudProofHash }).worker).toBe(
          worker.id,
        )
      }
    }
    expect(caught).toBe(tasks.length)

    const x = tensor(
      [64, WIDTH_IN],
      Float32Array.from({ length: 64 * WIDTH_IN }, (_, i) => Math.cos(i * 0.11)),
    )
    const y = (await engine.runModel(model, { x })).y as Tensor
    const truncated = tensorItemChunks(y).map((chunk) => {
      const out = chunk.slice()
      for (let i = 0; i < out.length; i += 4) {
        out[i] = 0
        out[i + 1] = 0
      }
      return out
    })
    const { verdicts } = await check(
      prover,
      verifier,
      {
        jobId: 'inference-cheat',
        taskId: 'bf16',
        tolerance: TASK_TOLERANCE.inference,
        chunks: truncated,
        recompute: async (indices) =>
          tensorItemChunks((await runModelCpu(model, { x }, { items: indices })).y as Tensor),
      },
      tensorItemChunks(y),
    )
    expect(verdicts[0]?.outcome).toBe('fail')
  })
})
