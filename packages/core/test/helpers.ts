import * as dagCbor from '@ipld/dag-cbor'
import { encode, Token, Type } from 'cborg'
import { createNode, decodeCanonical, encodeCanonical, type NodeInit, type TesseraNode } from '../src/index.js'
import type { CapacityAnnouncement, WireMessage } from '../src/index.js'

/** A worker's bid on `jobId`: a message that travels on the bids topic (or straight to the creator). */
export const bid = (worker: string, jobId = 'job-1'): WireMessage => ({
  type: 'bid',
  body: { jobId, worker, price: 10n, etaMs: 1_000, score: 2, maxTasks: 1, issuedAt: Date.now() },
})

/** How {@link reencode} alters the bytes: an envelope's `expiresAt` as a float64, keys out of order, a key added. */
export type Reencoding = 'float' | 'unsorted' | 'extra-key'

/**
 * A DAG-CBOR map (a signed envelope, a body) in other bytes, as anyone relaying an envelope could write them: the same
 * fields and signature, so the signature still verifies over the fields, but not the canonical encoding.
 */
export function reencode(bytes: Uint8Array, how: Reencoding): Uint8Array {
  const map = decodeCanonical(bytes) as Record<string, unknown>
  switch (how) {
    case 'float':
      return encode(map, {
        ...dagCbor.encodeOptions,
        typeEncoders: {
          ...dagCbor.encodeOptions.typeEncoders,
          number: (n: number) => (n === map.expiresAt ? [new Token(Type.float, n)] : null),
        },
      })
    case 'unsorted':
      return encode(Object.fromEntries(Object.entries(map).reverse()), {
        ...dagCbor.encodeOptions,
        mapSorter: () => 0,
      })
    case 'extra-key':
      return encodeCanonical({ ...map, x: 0 })
  }
}

/** Polls `condition` until it holds, failing with `what` after `timeoutMs`: tests wait on conditions, not on time. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  { timeoutMs = 30_000, intervalMs = 50 } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await condition()) return
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

/** Nodes started by a test, stopped by {@link stopNodes} in afterEach/afterAll. */
export class NodeSet {
  readonly nodes: TesseraNode[] = []

  async create(init: NodeInit = {}): Promise<TesseraNode> {
    const node = await createNode(init)
    this.nodes.push(node)
    return node
  }

  /** Starts `count` nodes, each bootstrapping from the first (which bootstraps from nobody). */
  async network(count: number, init: NodeInit = {}): Promise<TesseraNode[]> {
    const first = await this.create(init)
    const bootstrap = [
      first
        .getMultiaddrs()
        .find((ma) => !ma.toString().includes('/ws'))!
        .toString(),
    ]
    const rest = await Promise.all(Array.from({ length: count - 1 }, () => this.create({ ...init, bootstrap })))
    return [first, ...rest]
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.nodes.splice(0).map((n) => n.stop()))
  }
}

/** The first TCP multiaddr of a node. */
export function tcpAddr(node: TesseraNode): string {
  return node
    .getMultiaddrs()
    .find((ma) => !ma.toString().includes('/ws'))!
    .toString()
}

/** A plausible capacity announcement. */
export function sampleCapacity(overrides: Partial<CapacityAnnouncement> = {}): CapacityAnnouncement {
  return {
    gpu: { vendor: 'mesa', architecture: 'llvmpipe', description: 'lavapipe', backend: 'vulkan' },
    memoryMb: 4096,
    features: ['shader-f16'],
    score: 12.5,
    price: 1_000n,
    tiers: [2, 3],
    stake: 0n,
    classes: ['render/wgsl'],
    slots: 2,
    busy: 0,
    ...overrides,
  }
}
