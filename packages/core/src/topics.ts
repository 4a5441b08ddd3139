import { PROTOCOL_VERSION } from './constants.js'

/** Gossipsub topics (DESIGN.md, "Protocol sketch"). */
export const TOPICS = Object.freeze({
  capacity: `/tessera/${PROTOCOL_VERSION}/capacity`,
  orders: `/tessera/${PROTOCOL_VERSION}/orders`,
  bids: `/tessera/${PROTOCOL_VERSION}/bids`,
  verdicts: `/tessera/${PROTOCOL_VERSION}/verdicts`,
})

/** One of the gossipsub topics in {@link TOPICS}. */
export type Topic = (typeof TOPICS)[keyof typeof TOPICS]

/** Direct-stream protocols. */
export const PROTOCOLS = Object.freeze({
  blob: '/tessera/blob/1',
  task: '/tessera/task/1',
})

/** The kad-dht protocol prefix, so Tessera's DHT is separate from the public IPFS one. */
export const DHT_PROTOCOL_PREFIX = '/tessera'

/** Domain of envelopes sent on direct task streams. */
export const DIRECT_DOMAIN = `tessera/${PROTOCOL_VERSION}/direct`

/**
 * The signing domain of a channel. An envelope is valid only on the channel it was signed for: a bid cannot be
 * replayed as an order, nor a gossip message as a direct one.
 */
export function domainOf(channel: Topic | 'direct'): string {
  return channel === 'direct' ? DIRECT_DOMAIN : `tessera${channel.slice('/tessera'.length)}`
}

/** True when `value` is one of Tessera's gossipsub topics. */
export function isTopic(value: unknown): value is Topic {
  return typeof value === 'string' && (Object.values(TOPICS) as string[]).includes(value)
}
