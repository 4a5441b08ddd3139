import { utf8ToBytes } from '@noble/hashes/utils.js'
import { sha256, type AbortOptions } from '@tessera/core'
import type { InferenceTask, RenderTask } from '../split.js'
import type { TaskExecution, TaskExecutor, TaskOutput } from './executor.js'

/** Options of {@link cpuWorkload}. */
export interface CpuWorkloadInit {
  /**
   * Every task takes at least this long (the rest of the time is spent in an abortable wait), so tests and demos
   * can watch tasks in flight. @default 0
   */
  minTaskMs?: number
}

/** Bytes per pixel of render output: RGBA, 8 bits per channel. */
export const RENDER_BYTES_PER_PIXEL = 4
/** Values per inference item output. */
export const INFERENCE_OUTPUTS_PER_ITEM = 8

/** A 32-bit seed from the job's inputs, so two jobs over different scenes render different images. */
function seedOf(inputs: readonly string[]): number {
  const digest = sha256(utf8ToBytes(inputs.join('\n')))
  return (
    ((digest[0] as number) |
      ((digest[1] as number) << 8) |
      ((digest[2] as number) << 16) |
      ((digest[3] as number) << 24)) >>>
    0
  )
}

/** A well-mixed 32-bit hash of three integers (lowbias32 rounds), for per-sample jitter. */
function mix(a: number, b: number, c: number): number {
  let h = (a ^ Math.imul(b, 0x9e3779b1) ^ Math.imul(c, 0x85ebca6b)) >>> 0
  h ^= h >>> 16
  h = Math.imul(h, 0x7feb352d)
  h ^= h >>> 15
  h = Math.imul(h, 0x846ca68b)
  h ^= h >>> 16
  return h >>> 0
}

/**
 * Shades one pixel of a lit sphere over a gradient, averaging `samples` jittered rays: a small, honest amount of
 * floating-point work whose result depends only on its inputs.
 */
function shade(
  seed: number,
  frame: number,
  px: number,
  py: number,
  width: number,
  height: number,
  samples: number,
): [number, number, number] {
  let r = 0
  let g = 0
  let b = 0
  const angle = frame * 0.1 + (seed % 360) * (Math.PI / 180)
  const lx = Math.cos(angle)
  const ly = 0.6
  const lz = Math.sin(angle)
  const ll = Math.hypot(lx, ly, lz)
  for (let s = 0; s < samples; s++) {
    const h = mix(seed, py * width + px, s)
    const u = ((px + (h & 0xffff) / 65536) / width) * 2 - 1
    const v = 1 - ((py + (h >>> 16) / 65536) / height) * 2
    const d = u * u + v * v
    if (d < 0.64) {
      const z = Math.sqrt(0.64 - d)
      const lambert = Math.max(0, (u * lx + v * ly + z * lz) / (0.8 * ll))
      r += 0.2 + 0.8 * lambert
      g += 0.1 + 0.5 * lambert
      b += 0.1 + 0.3 * lambert
    } else {
      r += 0.1
      g += 0.15 + 0.25 * (v + 1)
      b += 0.35 + 0.3 * (v + 1)
    }
  }
  return [r / samples, g / samples, b / samples]
}

function renderTile(seed: number, task: RenderTask): Uint8Array[] {
  const rows: Uint8Array[] = []
  for (let y = 0; y < task.height; y++) {
    const row = new Uint8Array(task.width * RENDER_BYTES_PER_PIXEL)
    for (let x = 0; x < task.width; x++) {
      const [r, g, b] = shade(seed, task.frame, task.x + x, task.y + y, task.imageWidth, task.imageHeight, task.samples)
      const o = x * RENDER_BYTES_PER_PIXEL
      row[o] = Math.min(255, Math.round(r * 255))
      row[o + 1] = Math.min(255, Math.round(g * 255))
      row[o + 2] = Math.min(255, Math.round(b * 255))
      row[o + 3] = 255
    }
    rows.push(row)
  }
  return rows
}

/** A fixed two-layer perceptron over a per-item input vector, one output chunk (float32 values) per item. */
function infer(seed: number, task: InferenceTask): Uint8Array[] {
  const chunks: Uint8Array[] = []
  const hidden = 16
  for (let item = task.start; item < task.end; item++) {
    const out = new Float32Array(INFERENCE_OUTPUTS_PER_ITEM)
    for (let o = 0; o < INFERENCE_OUTPUTS_PER_ITEM; o++) {
      let acc = 0
      for (let k = 0; k < hidden; k++) {
        const x = (mix(seed, item, k) / 0xffffffff) * 2 - 1
        const w = (mix(seed ^ 0x5bd1e995, k, o) / 0xffffffff) * 2 - 1
        acc += Math.max(0, x * w)
      }
      out[o] = Math.fround(Math.tanh(acc))
    }
    chunks.push(new Uint8Array(out.buffer))
  }
  return chunks
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason)
      return
    }
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * A deterministic CPU workload that stands in for the GPU engine: render tasks shade a lit sphere (RGBA8, one
 * chunk per tile row, tolerance `bitwise`), inference tasks run a fixed two-layer perceptron (float32, one chunk
 * per item). The same task always yields the same bytes, on any machine.
 */
export function cpuWorkload(init: CpuWorkloadInit = {}): TaskExecutor {
  const minTaskMs = init.minTaskMs ?? 0
  return {
    async execute({ order, task }: TaskExecution, { signal }: Required<AbortOptions>): Promise<TaskOutput> {
      signal.throwIfAborted()
      const started = Date.now()
      const seed = seedOf(order.inputs)
      const chunks = task.kind === 'render' ? renderTile(seed, task) : infer(seed, task)
      const left = minTaskMs - (Date.now() - started)
      if (left > 0) await wait(left, signal)
      signal.throwIfAborted()
      return { chunks, tolerance: task.kind === 'render' ? 'bitwise' : 'relative', computeMs: Date.now() - started }
    },
  }
}
