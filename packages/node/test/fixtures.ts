import type { Document } from '@gltf-transform/core'
import { generateKeyPairSigner } from '@solana/kit'
import {
  blobCid,
  DIRECT_DOMAIN,
  generateIdentity,
  type Identity,
  type Inbound,
  ManualClock,
  type MessageBus,
  type Order,
  type Receipt,
  type Result,
  sealEnvelope,
  seededRng,
  type WireMessage,
} from '@tessera/core'
import { generateSceneDocument, onnx } from '@tessera/gpu'
import { signReceipt } from '@tessera/ledger'
import { commitOutput } from '@tessera/proof'
import { buildOrder, type JobSpec, resolveJobSpec } from '@tessera/scheduler'
import type { TaskExecution } from '@tessera/scheduler/driver'
import { pino } from 'pino'
import { concat } from 'uint8arrays/concat'
import { Verification, type VerificationComponents } from '../src/peer/verification.js'

/** The creator every fixture order names. */
export const CREATOR = '12D3KooWJPvoBcKArbt3mcJG4ESAEsNQJKQHQZw8ePv95U2rfpJg'

/** An order as a creator builds it: tier 3, 100 units per benchmark-hour, half an hour per task. */
export function orderOf(
  kind: JobSpec['kind'],
  inputs: string[],
  split: JobSpec['split'],
  nonce = '00000000000000ab',
): Order {
  return buildOrder(
    resolveJobSpec({ kind, inputs, split, tier: 3, maxPrice: 100n, benchHoursPerTask: 0.5 }),
    CREATOR,
    nonce,
    1_000,
  )
}

/** A bus that carries nothing, for components built alone; `self` is who it speaks as. */
export function idleBus(self: string): MessageBus {
  return {
    self,
    publish: () => Promise.resolve(),
    send: () => Promise.resolve(),
    subscribe: () => {},
    unsubscribe: () => {},
    onMessage: () => () => {},
  }
}

/**
 * `count` receipts of `jobId` under `epoch` (tasks `f0/t<i>_0`), signed by a fresh creator and each by its own
 * worker, paying 10,000 × (i + 1).
 */
export async function cosignedReceipts(jobId: string, epoch: number, count = 2): Promise<Receipt[]> {
  const creator = await generateIdentity()
  const workers = await Promise.all(Array.from({ length: count }, () => generateIdentity()))
  return Promise.all(
    workers.map(async (worker, i) => {
      const unsigned: Receipt = {
        jobId,
        taskId: `${jobId}/f0/t${i}_0`,
        creator: creator.peerId.toString(),
        worker: worker.peerId.toString(),
        payee: (await generateKeyPairSigner()).address,
        amount: 10_000n * BigInt(i + 1),
        commitment: new Uint8Array(32).fill(i + 1),
        epoch,
      }
      return signReceipt(signReceipt(unsigned, creator, 'creator'), worker, 'worker')
    }),
  )
}

/** A worker's verification on `bus`: it commits to outputs and answers challenges, and verifies nothing itself. */
export function workerVerification(bus: MessageBus): Verification {
  return new Verification({
    bus,
    clock: new ManualClock(1_000),
    rng: seededRng(1),
    logger: pino({ level: 'silent' }),
    orderOf: () => undefined,
    shapeOf: () => undefined,
    recompute: () => Promise.reject(new Error('not a verifier')),
  })
}

/**
 * Buses of peers in one process, as the network joins them: `busOf(peer)` hands a direct message to its peer's
 * handler and gossip to every other peer's, each on a later turn. `handlers` holds each peer's handler, for a test
 * that delivers a message itself (one with its envelope, say).
 */
export function loopbackBuses(): {
  busOf: (self: string) => MessageBus
  handlers: Map<string, (inbound: Inbound) => void>
} {
  const handlers = new Map<string, (inbound: Inbound) => void>()
  const busOf = (self: string): MessageBus => ({
    ...idleBus(self),
    onMessage: (handler) => (handlers.set(self, handler), () => {}),
    send: async (to: string, message: WireMessage) =>
      void queueMicrotask(() => handlers.get(to)?.({ from: self, message, expiresAt: 2_000 })),
    publish: async (topic, message) =>
      void queueMicrotask(() => {
        for (const [peer, handler] of handlers) {
          if (peer !== self) handler({ from: self, message, topic: topic as Inbound['topic'], expiresAt: 2_000 })
        }
      }),
  })
  return { busOf, handlers }
}

/**
 * Makes peers' Verifications on `busOf`'s buses, checking tasks of two bitwise chunks at time 1,000 and recomputing
 * `chunks` honestly; `init` overrides any part (a creator's logger, orders, verifiers).
 */
export function loopbackVerifiers(
  busOf: (self: string) => MessageBus,
  chunks: readonly Uint8Array[],
): (self: string, init: Partial<VerificationComponents>) => Verification {
  return (self, init) =>
    new Verification({
      bus: busOf(self),
      clock: new ManualClock(1_000),
      rng: seededRng(1),
      logger: pino({ level: 'silent' }),
      orderOf: () => undefined,
      shapeOf: () => ({ tolerance: 'bitwise', chunks: 2 }),
      recompute: async (_order, _taskId, indices) => indices.map((i) => chunks[i] as Uint8Array),
      ...init,
    })
}

/**
 * Runs `chunks` as task `taskId` of `order` through a worker's `prover`, so it holds their commitment and answers
 * challenges of them, and returns the Result the worker sends with the direct envelope `worker` seals it in: what a
 * creator's Verification receives from an honest worker.
 */
export async function provenResult(
  prover: Verification,
  worker: Identity,
  order: Order,
  taskId: string,
  chunks: Uint8Array[],
): Promise<{ result: Result; envelope: Uint8Array }> {
  await prover
    .wrapExecutor({ execute: async () => ({ chunks, tolerance: 'bitwise' }) })
    .execute({ order, task: { taskId }, minPrice: 1n } as TaskExecution, { signal: new AbortController().signal })
  const result: Result = {
    jobId: order.jobId,
    taskId,
    worker: worker.peerId.toString(),
    root: commitOutput(chunks).root,
    chunks: chunks.length,
    output: blobCid(concat(chunks)).toString(),
    tolerance: 'bitwise',
    computeMs: 1,
    issuedAt: 1_000,
  }
  const envelope = sealEnvelope(
    worker,
    { type: 'result', body: result },
    { domain: DIRECT_DOMAIN, seq: 1n, expiresAt: 2_000 },
  )
  return { result, envelope }
}

/** The procedural scene with an animation, `pan`, that slides its camera sideways by 1 over the first second. */
export function cameraPan(): Document {
  const doc = generateSceneDocument({ subdivisions: 1 })
  const camera = doc
    .getRoot()
    .listNodes()
    .find((n) => n.getCamera() !== null)!
  const buffer = doc.getRoot().listBuffers()[0]!
  const accessor = (type: 'SCALAR' | 'VEC3', values: number[]) =>
    doc.createAccessor().setType(type).setArray(new Float32Array(values)).setBuffer(buffer)
  const sampler = doc
    .createAnimationSampler()
    .setInput(accessor('SCALAR', [0, 1]))
    .setOutput(accessor('VEC3', [0, 1, 3.4, 1, 1, 3.4]))
  doc
    .createAnimation('pan')
    .addSampler(sampler)
    .addChannel(doc.createAnimationChannel().setTargetNode(camera).setTargetPath('translation').setSampler(sampler))
  return doc
}

/**
 * The procedural scene with an animation, `roll`, that rolls its diffuse sphere across the room over 2 s, from
 * (-0.5, 0.375, -0.25) to `to`: its triangles move, frame by frame.
 */
export function rollingSphere(
  options: { subdivisions?: number; to?: readonly [number, number, number] } = {},
): Document {
  const { subdivisions = 1, to = [0.5, 0.625, 0.375] } = options
  const doc = generateSceneDocument({ subdivisions })
  const sphere = doc
    .getRoot()
    .listNodes()
    .find((n) => n.getName() === 'diffuse-sphere')!
  const buffer = doc.getRoot().listBuffers()[0]!
  const accessor = (type: 'SCALAR' | 'VEC3', values: number[]) =>
    doc.createAccessor().setType(type).setArray(new Float32Array(values)).setBuffer(buffer)
  const sampler = doc
    .createAnimationSampler()
    .setInput(accessor('SCALAR', [0, 2]))
    .setOutput(accessor('VEC3', [-0.5, 0.375, -0.25, ...to]))
  doc
    .createAnimation('roll')
    .addSampler(sampler)
    .addChannel(doc.createAnimationChannel().setTargetNode(sphere).setTargetPath('translation').setSampler(sampler))
  return doc
}

/** ONNX bytes of y = x @ w, x of [batch, 4] floats and w a 4x8 weight. */
export function linearModel(): Uint8Array {
  return matMulModel('linear', ['x', 'w'], [4, 8], { x: ['b', 4], y: ['b', 8] })
}

/**
 * ONNX bytes of y = w @ x, x of [4, 3] floats (a batch of 4 items) and w a 2x4 weight: the product sums over the
 * items, so no task can compute some of them apart.
 */
export function batchSummingModel(): Uint8Array {
  return matMulModel('batch-summing', ['w', 'x'], [2, 4], { x: ['b', 3], y: [2, 3] })
}

/** A graph multiplying x and a weight w of `dims`, in the order of `operands`; x's and y's dims as given. */
function matMulModel(
  name: string,
  operands: [string, string],
  dims: [number, number],
  values: { x: (number | string)[]; y: (number | string)[] },
): Uint8Array {
  const info = (name: string, shape: (number | string)[]) => ({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: shape.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  })
  const w = {
    name: 'w',
    dataType: onnx.TensorProto.DataType.FLOAT,
    dims,
    floatData: new Array(dims[0] * dims[1]).fill(0.5),
  }
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name,
      input: [info('x', values.x)],
      output: [info('y', values.y)],
      node: [{ opType: 'MatMul', input: operands, output: ['y'] }],
      initializer: [w],
    },
  }).finish()
}
