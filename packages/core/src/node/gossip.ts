/**
 * The one file that imports a gossipsub implementation. `@libp2p/gossipsub` is ChainSafe's gossipsub moved into the
 * js-libp2p monorepo for libp2p 3 (PROBES.md); switching back to `@chainsafe/libp2p-gossipsub` is a change here only.
 */
import { gossipsub, StrictNoSign, TopicValidatorResult } from '@libp2p/gossipsub'
import type { GossipSub, Message, TopicValidatorFn } from '@libp2p/gossipsub'
import { CoreError } from '../errors.js'
import { sha256 } from '../sha256.js'
import {
  BEHAVIOUR_PENALTY_DECAY,
  BEHAVIOUR_PENALTY_THRESHOLD,
  BEHAVIOUR_PENALTY_WEIGHT,
  GOSSIP_DECODE_LIMITS,
  GOSSIP_MAX_OUTBOUND_BUFFER_BYTES,
  GOSSIP_MAX_RPC_BYTES,
  GOSSIP_SCORE_THRESHOLDS,
  INVALID_MESSAGE_DECAY,
  INVALID_MESSAGE_WEIGHT,
  IP_COLOCATION_WEIGHT,
} from '../constants.js'
import { TOPICS } from '../topics.js'

export { TopicValidatorResult }
export type { GossipSub, Message as GossipMessage, TopicValidatorFn }

/** What the node reads from gossipsub beyond the public interface: scores and mesh membership. */
export interface ScoredGossipSub extends GossipSub {
  getScore(peerId: string): number
  getMeshPeers(topic: string): string[]
}

/** Narrows the service to its implementation, which carries `getScore` and `getMeshPeers`. */
export function asScored(pubsub: GossipSub): ScoredGossipSub {
  const candidate = pubsub as Partial<ScoredGossipSub>
  if (typeof candidate.getScore !== 'function' || typeof candidate.getMeshPeers !== 'function') {
    throw new CoreError(
      'CORE__INVALID_CONFIG',
      'the pubsub service does not expose getScore/getMeshPeers; configure it with tesseraGossipsub',
      { getScore: typeof candidate.getScore, getMeshPeers: typeof candidate.getMeshPeers },
    )
  }
  return pubsub as ScoredGossipSub
}

/** Options of {@link tesseraGossipsub}. */
export interface GossipConfig {
  /** Every peer shares one host (loopback, one LAN): no IP-colocation penalty. */
  localNetwork: boolean
  ipColocationThreshold: number
  seenTtlMs: number
  heartbeatIntervalMs: number
  /** Extra score from the application (reputation), per peer id string. */
  appSpecificScore: (peerId: string) => number
  /** Logging name for this node's gossipsub. */
  debugName: string
}

/**
 * Per-topic scoring. Tessera's topics are low-rate (a capacity record a minute, orders now and then), so the
 * mesh-delivery-deficit penalties (P3, P3b) are off: they would punish honest peers on quiet topics. What matters is
 * P4: every message our validators reject costs its sender `INVALID_MESSAGE_WEIGHT` times the square of its count.
 * P1 (time in mesh) and P2 (first deliveries) give honest peers a small positive score.
 */
export const TOPIC_SCORE_PARAMS = Object.freeze({
  topicWeight: 1,
  timeInMeshWeight: 0.01,
  timeInMeshQuantum: 1_000,
  timeInMeshCap: 300,
  firstMessageDeliveriesWeight: 0.5,
  firstMessageDeliveriesDecay: 0.9,
  firstMessageDeliveriesCap: 10,
  meshMessageDeliveriesWeight: 0,
  meshMessageDeliveriesDecay: 0.5,
  meshMessageDeliveriesCap: 100,
  meshMessageDeliveriesThreshold: 1,
  meshMessageDeliveriesWindow: 10,
  meshMessageDeliveriesActivation: 60_000,
  meshFailurePenaltyWeight: 0,
  meshFailurePenaltyDecay: 0.5,
  invalidMessageDeliveriesWeight: INVALID_MESSAGE_WEIGHT,
  invalidMessageDeliveriesDecay: INVALID_MESSAGE_DECAY,
})

/** Message ids are content hashes: with `StrictNoSign` there is no sender or sequence number to build one from. */
export function contentMessageId(message: Message): Uint8Array {
  return sha256(message.data)
}

/** The gossipsub service factory with Tessera's settings. */
export function tesseraGossipsub(config: GossipConfig): ReturnType<typeof gossipsub> {
  return gossipsub({
    // Envelopes are signed by their authors at the application level; a second gossipsub signature would only
    // double the Ed25519 cost of every delivery (PROBES.md).
    globalSignaturePolicy: StrictNoSign,
    msgIdFn: contentMessageId,
    allowPublishToZeroTopicPeers: true,
    ignoreDuplicatePublishError: true,
    emitSelf: false,
    // Topic validators are awaited before delivery and forwarding: nothing invalid reaches the application or
    // travels further.
    asyncValidation: false,
    heartbeatInterval: config.heartbeatIntervalMs,
    seenTTL: config.seenTtlMs,
    maxInboundDataLength: GOSSIP_MAX_RPC_BYTES,
    maxOutboundBufferSize: GOSSIP_MAX_OUTBOUND_BUFFER_BYTES,
    decodeRpcLimits: { ...GOSSIP_DECODE_LIMITS },
    allowedTopics: Object.values(TOPICS),
    debugName: config.debugName,
    scoreParams: {
      topics: Object.fromEntries(Object.values(TOPICS).map((topic) => [topic, { ...TOPIC_SCORE_PARAMS }])),
      topicScoreCap: 10,
      appSpecificScore: config.appSpecificScore,
      appSpecificWeight: 1,
      IPColocationFactorWeight: config.localNetwork ? 0 : IP_COLOCATION_WEIGHT,
      IPColocationFactorThreshold: config.ipColocationThreshold,
      // P7 counts GRAFT floods and IWANT requests not followed up. A busy honest peer breaks the odd promise;
      // tolerate a few before the penalty starts, as Ethereum's consensus clients do.
      behaviourPenaltyWeight: BEHAVIOUR_PENALTY_WEIGHT,
      behaviourPenaltyThreshold: BEHAVIOUR_PENALTY_THRESHOLD,
      behaviourPenaltyDecay: BEHAVIOUR_PENALTY_DECAY,
      decayInterval: 1_000,
      decayToZero: 0.01,
    },
    scoreThresholds: { ...GOSSIP_SCORE_THRESHOLDS },
  })
}
