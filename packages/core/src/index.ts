/**
 * @packageDocumentation
 *
 * Tessera's foundation: peer identity, signed envelopes and wire schemas, the Clock/Rng/MessageBus seams that the
 * sans-IO state machines run on, and (in `createNode`) the libp2p node that carries them.
 *
 * @example
 * ```ts
 * import { generateIdentity, sealEnvelope, openEnvelope, domainOf, TOPICS } from '@tessera/core'
 *
 * const me = await generateIdentity()
 * const bytes = sealEnvelope(me, { type: 'heartbeat', body: { jobId: 'j1', worker: me.peerId.toString(), taskIds: [], issuedAt: 0 } },
 *   { domain: domainOf('direct'), seq: 1n, expiresAt: Date.now() + 60_000 })
 * const opened = openEnvelope(bytes, { domain: domainOf('direct'), maxBytes: 65536, now: Date.now() })
 * ```
 */
export * from './abort.js'
export * from './blob/blob-cid.js'
export * from './blob/blob-frames.js'
export * from './blob/blob-protocol.js'
export * from './blob/blob-service.js'
export * from './byte-budget.js'
export * from './blob/blobstore.js'
export * from './blob/fs-blobstore.js'
export * from './bus.js'
export * from './capacity/capacity-announcer.js'
export * from './capacity/capacity-service.js'
export * from './capacity/capacity-view.js'
export * from './capacity/classes.js'
export * from './clock.js'
export * from './constants.js'
export * from './envelope.js'
export * from './errors.js'
export * from './fs/durable-write.js'
export * from './fs/read-bounded.js'
export * from './identity.js'
export * from './listener-guard.js'
export * from './deadlines.js'
export * from './fifo.js'
export * from './machine.js'
export * from './node/address-problem.js'
export * from './node/libp2p-bus.js'
export * from './node/node-init.js'
export * from './node/tessera-node.js'
export * from './replay.js'
export * from './rng.js'
export * from './serial-queue.js'
export * from './sha256.js'
export * from './topics.js'
export * from './wire/arbitrate.js'
export * from './wire/assign.js'
export * from './wire/award.js'
export * from './wire/bid.js'
export * from './wire/capacity.js'
export * from './wire/challenge.js'
export * from './wire/codec.js'
export * from './wire/heartbeat.js'
export * from './wire/job-id.js'
export * from './wire/messages.js'
export * from './wire/order.js'
export * from './wire/receipt.js'
export * from './wire/result.js'
export * from './wire/reveal.js'
export * from './wire/verdict.js'
