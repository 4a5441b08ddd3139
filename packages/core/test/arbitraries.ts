import fc from 'fast-check'
import {
  AUTHOR_FIELD,
  HASH_BYTES,
  MAX_ADDRS,
  MAX_ARBITRATION_ROUNDS,
  MAX_CHALLENGE_CHUNKS,
  MAX_CID_LENGTH,
  MAX_CLASSES,
  MAX_FEATURES,
  MAX_FLOPS_PER_TASK,
  MAX_FIRST_FRAME,
  MAX_FRAMES_PER_JOB,
  MAX_ID_LENGTH,
  MAX_IMAGE_SIDE,
  MAX_INPUTS_PER_ORDER,
  MAX_LABEL_LENGTH,
  MAX_MERKLE_DEPTH,
  MAX_PEER_ID_LENGTH,
  MAX_PIXEL_SAMPLES_PER_TASK,
  MAX_SAMPLES_PER_PIXEL,
  MAX_TASKS_PER_JOB,
  MAX_TEXT_LENGTH,
  NONCE_BYTES,
  SIGNATURE_BYTES,
  jobIdOf,
  type MessageType,
  type Order,
  type WireMessage,
} from '../src/index.js'

/**
 * fast-check arbitraries for every wire schema: each generates only VALID bodies, across the whole range each field
 * allows (long strings, unicode, huge integers, u64 amounts), so round-trip properties exercise the edges.
 */

/** Strings of at most `max` UTF-16 units: ASCII up to the bound, or any code points up to half of it. */
const text = (max: number, min = 0): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string({ minLength: min, maxLength: max }),
    fc
      .string({ unit: 'binary', minLength: min, maxLength: Math.floor(max / 2) })
      .filter((s) => s.length >= min && s.length <= max),
  )

const uint = fc.oneof(fc.nat({ max: 1_000_000 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }))
const posInt = (max = Number.MAX_SAFE_INTEGER) =>
  fc.oneof(fc.integer({ min: 1, max: Math.min(max, 1000) }), fc.integer({ min: 1, max }))
const nonNegative = fc.oneof(uint, fc.double({ min: 0, max: 1e12, noNaN: true, noDefaultInfinity: true }))
const probability = fc.double({ min: 0, max: 1, noNaN: true })
const amount = fc.oneof(fc.bigInt({ min: 0n, max: 1_000_000n }), fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn }))
const id = text(MAX_ID_LENGTH, 1)
const peerId = text(MAX_PEER_ID_LENGTH, 1)
const cid = text(MAX_CID_LENGTH, 1)
const label = text(MAX_LABEL_LENGTH)
const tier = fc.constantFrom(1 as const, 2 as const, 3 as const)
const bytes = (length: number) => fc.uint8Array({ minLength: length, maxLength: length })
const hash = bytes(HASH_BYTES)
const ids = (max: number, min = 0) => fc.array(id, { minLength: min, maxLength: Math.min(max, 16) })

/** A base58 Solana address, as a payee field holds. */
const payee = fc.stringMatching(/^[1-9A-HJ-NP-Za-km-z]{32,44}$/)

export const capacityBody = fc.record(
  {
    peer: peerId,
    addrs: fc.array(text(MAX_TEXT_LENGTH), { maxLength: MAX_ADDRS }),
    gpu: fc.record({ vendor: label, architecture: label, description: text(MAX_TEXT_LENGTH), backend: label }),
    memoryMb: uint,
    features: fc.array(label, { maxLength: MAX_FEATURES }),
    score: nonNegative,
    price: amount,
    tiers: fc.array(tier, { maxLength: 3 }),
    stake: amount,
    classes: fc.array(label, { maxLength: MAX_CLASSES }),
    slots: uint,
    busy: uint,
    issuedAt: uint,
    payee,
  },
  {
    requiredKeys: [
      'peer',
      'addrs',
      'gpu',
      'memoryMb',
      'features',
      'score',
      'price',
      'tiers',
      'stake',
      'classes',
      'slots',
      'busy',
      'issuedAt',
    ],
  },
)

const renderSplit = fc
  .record(
    {
      kind: fc.constant('render' as const),
      firstFrame: fc.nat({ max: MAX_FIRST_FRAME }),
      frames: posInt(MAX_FRAMES_PER_JOB),
      width: posInt(MAX_IMAGE_SIDE),
      height: posInt(MAX_IMAGE_SIDE),
      tileWidth: posInt(MAX_IMAGE_SIDE),
      tileHeight: posInt(MAX_IMAGE_SIDE),
      samples: posInt(MAX_SAMPLES_PER_PIXEL),
      // Fractions of both signs (never -0, which CBOR keeps but toEqual tells apart).
      environment: fc.record(
        {
          intensity: fc.integer({ min: 1, max: 1_000_000 }).map((x) => x / 64),
          rotation: fc.integer({ min: -64_000, max: 64_000 }).map((x) => x / 64),
          visible: fc.boolean(),
        },
        { requiredKeys: ['intensity', 'rotation'] },
      ),
    },
    { requiredKeys: ['kind', 'firstFrame', 'frames', 'width', 'height', 'tileWidth', 'tileHeight', 'samples'] },
  )
  // A task's pixel-samples are bounded too: samples are cut to what the tile allows (at least 16 for any tile).
  .map((split) => {
    const pixels = Math.min(split.tileWidth, split.width) * Math.min(split.tileHeight, split.height)
    return { ...split, samples: Math.min(split.samples, Math.floor(MAX_PIXEL_SAMPLES_PER_TASK / pixels)) }
  })

const inferenceSplit = fc
  .record(
    {
      kind: fc.constant('inference' as const),
      items: posInt(MAX_TASKS_PER_JOB * 1024),
      itemsPerTask: posInt(MAX_TASKS_PER_JOB * 1024),
      flopsPerItem: posInt(MAX_FLOPS_PER_TASK),
    },
    { requiredKeys: ['kind', 'items', 'itemsPerTask'] },
  )
  // A task's declared FLOPs are bounded too: the figure is cut to what a task's items allow (at least 2^21).
  .map((split) =>
    split.flopsPerItem === undefined
      ? split
      : {
          ...split,
          flopsPerItem: Math.min(
            split.flopsPerItem,
            Math.floor(MAX_FLOPS_PER_TASK / Math.min(split.itemsPerTask, split.items)),
          ),
        },
  )

/** An order whose job id is the one its content derives, as the schema requires. */
export const orderBody = fc
  .record(
    {
      creator: peerId,
      nonce: fc.stringMatching(/^[0-9a-f]{16}$/),
      kind: fc.constantFrom('render' as const, 'inference' as const),
      inputs: fc.array(cid, { minLength: 1, maxLength: MAX_INPUTS_PER_ORDER }),
      split: fc.oneof(renderSplit, inferenceSplit),
      tier,
      maxPrice: amount,
      benchHoursPerTask: nonNegative,
      requirements: fc.record({ features: fc.array(label, { maxLength: MAX_FEATURES }), minMemoryMb: uint }),
      bidDeadline: uint,
      minBids: posInt(1024),
      deadline: uint,
      verification: fc.record({
        detect: probability,
        withinTasks: posInt(),
        cheatRate: probability,
        maxOverhead: probability,
      }),
      escrow: text(MAX_ID_LENGTH),
      issuedAt: uint,
      cancelled: fc.boolean(),
    },
    {
      requiredKeys: [
        'creator',
        'nonce',
        'kind',
        'inputs',
        'split',
        'tier',
        'maxPrice',
        'benchHoursPerTask',
        'requirements',
        'bidDeadline',
        'minBids',
        'deadline',
        'verification',
        'escrow',
        'issuedAt',
      ],
    },
  )
  .map((content) => ({ jobId: jobIdOf(content), ...content }) as Order)

export const bidBody = fc.record({
  jobId: id,
  worker: peerId,
  price: amount,
  etaMs: uint,
  score: nonNegative,
  maxTasks: posInt(),
  issuedAt: uint,
})

export const awardBody = fc.record({
  jobId: id,
  creator: peerId,
  worker: peerId,
  taskIds: ids(4096, 1),
  price: amount,
  leaseMs: posInt(),
  heartbeatMs: posInt(),
  issuedAt: uint,
})

export const heartbeatBody = fc.record(
  { jobId: id, worker: peerId, taskIds: ids(4096), withdrawn: ids(4096), leaving: fc.boolean(), issuedAt: uint },
  { requiredKeys: ['jobId', 'worker', 'taskIds', 'issuedAt'] },
)

export const resultBody = fc.record(
  {
    jobId: id,
    taskId: id,
    worker: peerId,
    root: hash,
    chunks: posInt(),
    output: cid,
    tolerance: label,
    computeMs: uint,
    issuedAt: uint,
    payee,
  },
  {
    requiredKeys: ['jobId', 'taskId', 'worker', 'root', 'chunks', 'output', 'tolerance', 'computeMs', 'issuedAt'],
  },
)

export const challengeBody = fc.record({
  jobId: id,
  taskId: id,
  worker: peerId,
  verifier: peerId,
  root: hash,
  nonce: bytes(NONCE_BYTES),
  count: posInt(MAX_CHALLENGE_CHUNKS),
  issuedAt: uint,
})

export const revealBody = fc.record({
  jobId: id,
  taskId: id,
  worker: peerId,
  root: hash,
  indices: fc.array(uint, { maxLength: 8 }),
  chunks: fc.array(fc.uint8Array({ maxLength: 4096 }), { maxLength: 8 }),
  proofs: fc.array(fc.array(hash, { maxLength: MAX_MERKLE_DEPTH }), { maxLength: 8 }),
  issuedAt: uint,
})

export const verdictBody = fc.record(
  {
    jobId: id,
    taskId: id,
    worker: peerId,
    verifier: peerId,
    root: hash,
    outcome: fc.constantFrom('pass' as const, 'fail' as const, 'refused' as const),
    fraudProof: hash,
    round: uint,
    issuedAt: uint,
  },
  { requiredKeys: ['jobId', 'taskId', 'worker', 'verifier', 'root', 'outcome', 'round', 'issuedAt'] },
)

export const receiptBody = fc.record(
  {
    jobId: id,
    taskId: id,
    creator: peerId,
    worker: peerId,
    payee,
    amount,
    commitment: hash,
    epoch: uint,
    creatorSig: bytes(SIGNATURE_BYTES),
    workerSig: bytes(SIGNATURE_BYTES),
  },
  { requiredKeys: ['jobId', 'taskId', 'creator', 'worker', 'amount', 'commitment', 'epoch'] },
)

export const assignBody = fc
  .record({
    taskId: id,
    result: fc.uint8Array({ maxLength: 1024 }),
    order: orderBody,
    issuedAt: uint,
  })
  .map(({ order, ...rest }) => ({ jobId: order.jobId, creator: order.creator, order, ...rest }))

/** A creator's own accusation (carries its order) or a delegate's (carries the creator's assignment). */
export const arbitrateBody = fc
  .record({
    taskId: id,
    accuser: peerId,
    round: posInt(MAX_ARBITRATION_ROUNDS),
    fraudProof: fc.uint8Array({ maxLength: 4096 }),
    order: orderBody,
    assignment: fc.uint8Array({ maxLength: 2048 }),
    byCreator: fc.boolean(),
    issuedAt: uint,
  })
  .map(({ order, assignment, byCreator, accuser, ...rest }) => {
    const ids = { ...rest, jobId: order.jobId, creator: order.creator }
    return byCreator || accuser === order.creator
      ? { ...ids, accuser: order.creator, order }
      : { ...ids, accuser, assignment }
  })

/** A valid body arbitrary for each message type. */
export const BODY_ARBITRARIES: { [T in MessageType]: fc.Arbitrary<Extract<WireMessage, { type: T }>['body']> } = {
  capacity: capacityBody,
  order: orderBody,
  bid: bidBody,
  award: awardBody,
  heartbeat: heartbeatBody,
  result: resultBody,
  challenge: challengeBody,
  reveal: revealBody,
  verdict: verdictBody,
  receipt: receiptBody,
  assign: assignBody,
  arbitrate: arbitrateBody,
}

/**
 * `message` as written by `author`: its author field set, and the fields that must agree with it (an assignment's
 * order, a creator's own accusation) moved along, so the message stays valid.
 */
export function authoredBy(message: WireMessage, author: string): WireMessage {
  switch (message.type) {
    case 'order':
      return { type: 'order', body: orderedBy(message.body, author) }
    case 'assign': {
      const order = orderedBy(message.body.order, author)
      return { type: 'assign', body: { ...message.body, jobId: order.jobId, creator: author, order } }
    }
    case 'arbitrate': {
      if (message.body.order === undefined) {
        return { type: 'arbitrate', body: { ...message.body, accuser: author, creator: `${author}-creator` } }
      }
      const order = orderedBy(message.body.order, author)
      return {
        type: 'arbitrate',
        body: { ...message.body, jobId: order.jobId, accuser: author, creator: author, order },
      }
    }
    default: {
      const field = AUTHOR_FIELD[message.type]
      return field === undefined
        ? message
        : ({ type: message.type, body: { ...message.body, [field]: author } } as WireMessage)
    }
  }
}

/** `order` issued by `creator` instead: the job id commits to the creator, so it is derived again. */
function orderedBy(order: Order, creator: string): Order {
  const content = { ...order, creator }
  return { ...content, jobId: jobIdOf(content) }
}

/** A valid message of type `type`. */
export function messageOf<T extends MessageType>(type: T): fc.Arbitrary<WireMessage> {
  return (BODY_ARBITRARIES[type] as fc.Arbitrary<unknown>).map((body) => ({ type, body }) as WireMessage)
}

/** A valid message of any type. */
export const anyMessage: fc.Arbitrary<WireMessage> = fc.oneof(
  ...(Object.keys(BODY_ARBITRARIES) as MessageType[]).map((type) => messageOf(type)),
)

/** Bytes that are sometimes valid CBOR and often almost-valid: random, structured garbage, or mutated encodings. */
export function hostileBytes(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  const mutated = fc
    .tuple(valid, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }))
    .map(([bytes, flips]) => {
      const out = bytes.slice()
      for (const [at, value] of flips) if (out.length > 0) out[at % out.length] = value
      return out
    })
  const truncated = fc
    .tuple(valid, fc.nat())
    .map(([bytes, cut]) => bytes.subarray(0, bytes.length === 0 ? 0 : cut % bytes.length))
  return fc.oneof(fc.uint8Array({ maxLength: 512 }), mutated, truncated, valid)
}
