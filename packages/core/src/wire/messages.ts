import type { z } from 'zod'
import { CoreError } from '../errors.js'
import { TOPICS, type Topic } from '../topics.js'
import { arbitrateSchema } from './arbitrate.js'
import { assignSchema } from './assign.js'
import { awardSchema } from './award.js'
import { bidSchema } from './bid.js'
import { capacitySchema } from './capacity.js'
import { challengeSchema } from './challenge.js'
import { heartbeatSchema } from './heartbeat.js'
import { orderSchema } from './order.js'
import { receiptSchema } from './receipt.js'
import { resultSchema } from './result.js'
import { revealSchema } from './reveal.js'
import { verdictSchema } from './verdict.js'

/** Every wire message schema by type. Adding a type is adding a row here and a version in {@link SCHEMA_VERSIONS}. */
export const MESSAGE_SCHEMAS = Object.freeze({
  capacity: capacitySchema,
  order: orderSchema,
  bid: bidSchema,
  award: awardSchema,
  heartbeat: heartbeatSchema,
  result: resultSchema,
  challenge: challengeSchema,
  reveal: revealSchema,
  verdict: verdictSchema,
  receipt: receiptSchema,
  assign: assignSchema,
  arbitrate: arbitrateSchema,
})

/** The name of a wire message type: the `type` field of a {@link WireMessage}. */
export type MessageType = keyof typeof MESSAGE_SCHEMAS

/** The schema version each type is encoded with; a decoder rejects any other. */
export const SCHEMA_VERSIONS: Readonly<Record<MessageType, number>> = Object.freeze({
  capacity: 1,
  order: 2,
  bid: 1,
  award: 1,
  heartbeat: 1,
  result: 1,
  challenge: 1,
  reveal: 1,
  verdict: 1,
  receipt: 1,
  assign: 1,
  arbitrate: 1,
})

/**
 * The body field that names the message's author: the envelope's signer must be that peer, so one peer cannot
 * speak for another. Receipts are co-signed inside the body and may be carried by either party.
 */
export const AUTHOR_FIELD: Readonly<Record<MessageType, string | undefined>> = Object.freeze({
  capacity: 'peer',
  order: 'creator',
  bid: 'worker',
  award: 'creator',
  heartbeat: 'worker',
  result: 'worker',
  challenge: 'verifier',
  reveal: 'worker',
  verdict: 'verifier',
  receipt: undefined,
  assign: 'creator',
  arbitrate: 'accuser',
})

/** Where a message travels: a gossip topic, or a direct stream to one peer. */
export type Channel = Topic | 'direct'

/**
 * The channels each type may arrive on. Domain separation stops an envelope from being replayed on another channel.
 * This table stops a signer from choosing a channel its type has no business on: an `assign` gossiped to every
 * peer, or a `reveal` flooding the verdicts topic.
 */
export const MESSAGE_CHANNELS: Readonly<Record<MessageType, readonly Channel[]>> = Object.freeze({
  capacity: [TOPICS.capacity],
  order: [TOPICS.orders],
  // Bids go to the bids topic, or straight to the creator when the worker bids directly.
  bid: [TOPICS.bids, 'direct'],
  award: ['direct'],
  heartbeat: ['direct'],
  result: ['direct'],
  challenge: ['direct'],
  reveal: ['direct'],
  verdict: [TOPICS.verdicts],
  receipt: ['direct'],
  assign: ['direct'],
  arbitrate: ['direct'],
})

/** Whether a message of `type` may travel on `channel`. */
export function allowedOn(type: MessageType, channel: Channel): boolean {
  return MESSAGE_CHANNELS[type].includes(channel)
}

/** Throws `CORE__WRONG_CHANNEL` unless a message of `type` may travel on `channel`. */
export function assertChannel(type: MessageType, channel: Channel): void {
  if (!allowedOn(type, channel)) {
    throw new CoreError('CORE__WRONG_CHANNEL', `a ${type} message does not travel on ${channel}`, { type, channel })
  }
}

/** Every wire message type, in schema order. */
export const MESSAGE_TYPES = Object.freeze(Object.keys(MESSAGE_SCHEMAS) as MessageType[])

/** The decoded body of a message of type `T`. */
export type MessageBody<T extends MessageType> = z.output<(typeof MESSAGE_SCHEMAS)[T]>

/** A typed wire message: what the state machines consume and produce. */
export type WireMessage = { [T in MessageType]: { type: T; body: MessageBody<T> } }[MessageType]

/** Narrows a message union to one type. */
export type MessageOfType<T extends MessageType> = Extract<WireMessage, { type: T }>

/** True when `value` names a wire message type, e.g. a decoded envelope's `type` field. */
export function isMessageType(value: unknown): value is MessageType {
  return typeof value === 'string' && Object.hasOwn(MESSAGE_SCHEMAS, value)
}
