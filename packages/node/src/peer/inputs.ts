import type { AbortOptions, Order } from '@tessera/core'
import {
  decodeEnvironmentImage,
  loadOnnxModel,
  loadScene,
  withEnvironment,
  type OnnxModel,
  type Scene,
  type Tensor,
} from '@tessera/gpu'
import { decodeTensorBundle } from './tensor-bundle.js'

/** Where input blobs come from: `node.blobs` (the creator serves them to the peers it awarded). */
export interface InputSource {
  has(cid: string, options?: AbortOptions): Promise<boolean>
  get(cid: string, options?: AbortOptions): Promise<Uint8Array>
  fetchFrom(peer: string, cid: string, options?: AbortOptions): Promise<Uint8Array>
}

export type LoadedInputs =
  { kind: 'render'; scene: Scene } | { kind: 'inference'; model: OnnxModel; inputs: Record<string, Tensor> }

const CACHE_LIMIT = 8

/** What of an order its inputs depend on. */
type InputOrder = Pick<Order, 'kind' | 'inputs' | 'creator' | 'split'>

/** A render order's environment lighting, if it sets one. */
function lightingOf(order: InputOrder): { intensity: number; rotation: number; visible?: boolean } | undefined {
  return order.split.kind === 'render' ? order.split.environment : undefined
}

/**
 * Fetches and parses a job's inputs once per input set: every task of a job, and every verification of it, runs
 * on the same scene or model. Concurrent requests share one fetch.
 */
export class InputCache {
  readonly #source: InputSource
  readonly #loaded = new Map<string, Promise<LoadedInputs>>()

  constructor(source: InputSource) {
    this.#source = source
  }

  load(order: InputOrder, options: AbortOptions = {}): Promise<LoadedInputs> {
    const key = `${order.kind}:${order.inputs.join(',')}:${JSON.stringify(lightingOf(order) ?? null)}`
    let pending = this.#loaded.get(key)
    if (pending === undefined) {
      pending = this.#fetch(order, options)
      pending.catch(() => this.#loaded.delete(key))
      if (this.#loaded.size >= CACHE_LIMIT) this.#loaded.delete(this.#loaded.keys().next().value as string)
      this.#loaded.set(key, pending)
    }
    return pending
  }

  async #fetch(order: InputOrder, options: AbortOptions): Promise<LoadedInputs> {
    // The creator holds its own inputs (and verifies from them); workers fetch them from the creator.
    const blobs = await Promise.all(
      order.inputs.map(async (cid) =>
        (await this.#source.has(cid, options))
          ? this.#source.get(cid, options)
          : this.#source.fetchFrom(order.creator, cid, options),
      ),
    )
    if (order.kind === 'render') {
      // A render's second input, where there is one, is the panorama that lights the scene.
      const scene = await loadScene(blobs[0] as Uint8Array)
      const panorama = blobs[1]
      return {
        kind: 'render',
        scene:
          panorama === undefined ? scene : withEnvironment(scene, decodeEnvironmentImage(panorama), lightingOf(order)),
      }
    }
    return {
      kind: 'inference',
      model: loadOnnxModel(blobs[0] as Uint8Array),
      inputs: blobs[1] === undefined ? {} : decodeTensorBundle(blobs[1]),
    }
  }
}
