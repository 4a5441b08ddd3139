import type { ComponentLogger, Connection, Libp2p, Logger, PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { delay, raceSignal, throwIfAborted, withTimeout } from '../abort.js'
import type { AbortOptions, Inbound, MessageBus } from '../bus.js'
import type { Clock } from '../clock.js'
import {
  DEFAULT_MESSAGE_TTL_MS,
  DIRECT_BUSY_FIRST_PAUSE_MS,
  DIRECT_SEND_TIMEOUT_MS,
  DIRECT_SMALL_CHUNK_ALLOWANCE,
  EXPIRY_GRACE_MS,
  MAX_DIRECT_ENVELOPE_BYTES,
  MAX_ENVELOPE_TTL_MS,
  INBOUND_DIRECT_PEER_SHARE,
  MAX_GOSSIP_ENVELOPE_BYTES,
  MAX_INBOUND_DIRECT_BYTES,
  MAX_INBOUND_TASK_STREAMS,
  MIN_DIRECT_CHUNK_COST_BYTES,
} from '../constants.js'
import { openEnvelope, sealEnvelope, type Opened, type Signer } from '../envelope.js'
import { CoreError, isCoreError, type CoreErrorCode } from '../errors.js'
import { ReplayGuard, SequenceCounter } from '../replay.js'
import { PeerBudget } from '../peer-budget.js'
import type { PeerPenalties } from './peer-penalties.js'
import { DIRECT_DOMAIN, domainOf, isTopic, PROTOCOLS, TOPICS, type Topic } from '../topics.js'
import { decodeCanonical, encodeCanonical } from '../wire/codec.js'
import { assertChannel, type WireMessage } from '../wire/messages.js'
import { TopicValidatorResult, type GossipMessage, type GossipSub, type TopicValidatorFn } from './gossip.js'
import { abortStreamOnSignal, metered, nextFrame, readFrames, sendFrames } from './stream-io.js'

/** Largest acknowledgement frame on `/tessera/task/1`. */
const MAX_ACK_BYTES = 256
/** The most bytes a frame's varint length prefix takes. */
const MAX_LENGTH_PREFIX_BYTES = 10

/** Options of {@link Libp2pMessageBus.publish}. */
export interface PublishOptions extends AbortOptions {
  /**
   * Lifetime of the envelope: receivers drop it afterwards.
   * @default DEFAULT_MESSAGE_TTL_MS (5 minutes); at most MAX_ENVELOPE_TTL_MS
   */
  ttlMs?: number
}

export type SendOptions = PublishOptions

/** A message a validator turned away, and why. */
export interface RejectedMessage {
  /** The peer that handed it to us (the gossip propagation source or the stream's remote peer). */
  from: string
  /** The gossip topic, or undefined for a direct message. */
  topic?: Topic
  code: CoreErrorCode
  /**
   * True when the sender's gossip score was penalised (a Reject on a topic; a direct message counted against its
   * sender's application score); false when the message was only ignored.
   */
  penalised: boolean
}

/** Callbacks the node turns into `message:received` / `message:rejected` events. */
export interface BusObserver {
  received?(inbound: Inbound): void
  rejected?(rejected: RejectedMessage): void
}

/** What the bus needs from its node: a signer, the clock for envelope expiry, gossipsub and stream handling. */
export interface Libp2pBusComponents {
  signer: Signer
  peerId: PeerId
  clock: Clock
  pubsub: GossipSub
  libp2p: Pick<Libp2p, 'handle' | 'unhandle' | 'dialProtocol'>
  logger: ComponentLogger
}

/** Options of {@link Libp2pMessageBus}. */
export interface Libp2pBusInit {
  observer?: BusObserver
  /** Remembers seen (signer, domain, seq) triples; shared by gossip and direct messages. */
  replay?: ReplayGuard
  /** Where equivocations, which gossipsub cannot see, are charged to their signer (fed to gossipsub as P5). */
  penalties?: PeerPenalties
  /**
   * Bytes of direct messages read at once, all peers together; one peer may hold a quarter of it. A message that
   * does not fit is refused with `CORE__PEER_BUSY` before its bytes are buffered.
   * @default MAX_INBOUND_DIRECT_BYTES (256 MiB)
   */
  maxInboundDirectBytes?: number
}

/**
 * The {@link MessageBus} over libp2p. Gossip: a signed envelope published with gossipsub; every topic has a validator
 * that opens the envelope (size, shape, domain, expiry, signature, schema, author, replay) and answers Reject, so
 * gossipsub penalises the sender's score, before the application or any further peer sees it (or Ignore, for what
 * the sender could not know was wrong: a replay, a signer's equivocation). Direct: one
 * length-prefixed envelope on a `/tessera/task/1` stream, answered by an acknowledgement.
 */
export class Libp2pMessageBus implements MessageBus {
  readonly self: string
  readonly #components: Libp2pBusComponents
  readonly #observer: BusObserver
  readonly #replay: ReplayGuard
  readonly #penalties: PeerPenalties | undefined
  readonly #inbound: PeerBudget
  readonly #seq = new SequenceCounter()
  readonly #handlers = new Set<(inbound: Inbound) => void>()
  /** Topics subscribed to, kept across a stop: gossipsub forgets its subscriptions when it stops. */
  readonly #topics = new Set<Topic>()
  /** Envelopes opened by a validator, handed to the delivery listener without a second verification. */
  readonly #validated = new WeakMap<GossipMessage, Opened>()
  readonly #log: Logger
  #started = false

  constructor(components: Libp2pBusComponents, init: Libp2pBusInit = {}) {
    this.#components = components
    this.self = components.peerId.toString()
    this.#observer = init.observer ?? {}
    this.#replay = init.replay ?? new ReplayGuard()
    this.#penalties = init.penalties
    // Every share holds at least one whole envelope with its length prefix, and the few small chunks it may arrive
    // in, or the largest messages never fit.
    const frame =
      MAX_DIRECT_ENVELOPE_BYTES + MAX_LENGTH_PREFIX_BYTES + DIRECT_SMALL_CHUNK_ALLOWANCE * MIN_DIRECT_CHUNK_COST_BYTES
    const inbound = Math.max(init.maxInboundDirectBytes ?? MAX_INBOUND_DIRECT_BYTES, frame)
    this.#inbound = new PeerBudget(inbound, Math.max(Math.floor(inbound / INBOUND_DIRECT_PEER_SHARE), frame))
    this.#log = components.logger.forComponent('tessera:core:bus')
  }

  get isStarted(): boolean {
    return this.#started
  }

  /**
   * Installs the topic validators, the delivery listener and the direct protocol handler, and subscribes to the
   * topics {@link subscribe}d to (before this start, or before a stop). Idempotent; gossipsub must be started.
   */
  async start(options: AbortOptions = {}): Promise<void> {
    if (this.#started) return
    const { pubsub, libp2p } = this.#components
    for (const topic of Object.values(TOPICS)) pubsub.topicValidators.set(topic, this.#validator(topic))
    pubsub.addEventListener('message', this.#onGossip)
    await libp2p.handle(PROTOCOLS.task, (stream, connection) => this.#onTaskStream(stream, connection), {
      maxInboundStreams: MAX_INBOUND_TASK_STREAMS,
      signal: options.signal,
    })
    for (const topic of this.#topics) pubsub.subscribe(topic)
    this.#started = true
  }

  /** Removes what {@link start} installed. Idempotent. */
  async stop(options: AbortOptions = {}): Promise<void> {
    if (!this.#started) return
    this.#started = false
    const { pubsub, libp2p } = this.#components
    for (const topic of Object.values(TOPICS)) pubsub.topicValidators.delete(topic)
    pubsub.removeEventListener('message', this.#onGossip)
    await libp2p.unhandle(PROTOCOLS.task, options)
  }

  async publish(topic: Topic, message: WireMessage, options: PublishOptions = {}): Promise<void> {
    throwIfAborted(options.signal)
    this.#assertStarted('publish')
    if (!isTopic(topic))
      throw new CoreError('CORE__INVALID_CONFIG', `${String(topic)} is not a Tessera topic`, { topic })
    assertChannel(message.type, topic)
    const bytes = this.#seal(domainOf(topic), message, options.ttlMs)
    if (bytes.byteLength > MAX_GOSSIP_ENVELOPE_BYTES) {
      // Peers would reject it and penalise us: refuse here instead.
      throw new CoreError(
        'CORE__MESSAGE_TOO_LARGE',
        `a ${message.type} envelope of ${bytes.byteLength} bytes is too large for gossip`,
        {
          bytes: bytes.byteLength,
          max: MAX_GOSSIP_ENVELOPE_BYTES,
        },
      )
    }
    await raceSignal(this.#components.pubsub.publish(topic, bytes), options.signal)
  }

  async send(to: string, message: WireMessage, options: SendOptions = {}): Promise<void> {
    throwIfAborted(options.signal)
    this.#assertStarted('send')
    assertChannel(message.type, 'direct')
    const bytes = this.#seal(DIRECT_DOMAIN, message, options.ttlMs)
    if (bytes.byteLength > MAX_DIRECT_ENVELOPE_BYTES) {
      throw new CoreError(
        'CORE__MESSAGE_TOO_LARGE',
        `a ${message.type} envelope of ${bytes.byteLength} bytes is too large`,
        {
          bytes: bytes.byteLength,
          max: MAX_DIRECT_ENVELOPE_BYTES,
        },
      )
    }
    if (to === this.self) {
      this.#deliverDirect(bytes, this.self)
      return
    }
    let peer: PeerId
    try {
      peer = peerIdFromString(to)
    } catch (cause) {
      throw new CoreError('CORE__INVALID_CONFIG', `${to} is not a peer id`, { to }, { cause })
    }
    const signal = withTimeout(options.signal, DIRECT_SEND_TIMEOUT_MS)
    // A peer busy reading other messages refused this one before reading it: sent again after a pause, within the
    // send's time.
    for (let pause = DIRECT_BUSY_FIRST_PAUSE_MS; ; pause *= 2) {
      try {
        return await this.#sendOnce(peer, bytes, message.type, signal, options.signal)
      } catch (e) {
        if (!isCoreError(e, 'CORE__MESSAGE_REJECTED') || e.context.code !== 'CORE__PEER_BUSY') throw e
        try {
          await delay(pause, signal)
        } catch {
          throwIfAborted(options.signal)
          throw e
        }
      }
    }
  }

  /** One try at a direct message: a stream, the envelope, and the peer's acknowledgement. */
  async #sendOnce(
    peer: PeerId,
    bytes: Uint8Array,
    type: WireMessage['type'],
    signal: AbortSignal,
    callerSignal: AbortSignal | undefined,
  ): Promise<void> {
    const to = peer.toString()
    let stream: Stream
    try {
      stream = await this.#components.libp2p.dialProtocol(peer, PROTOCOLS.task, { signal })
    } catch (cause) {
      throwIfAborted(callerSignal)
      throw new CoreError('CORE__PEER_UNREACHABLE', `could not open ${PROTOCOLS.task} to ${to}`, { to }, { cause })
    }
    const unwatch = abortStreamOnSignal(stream, signal)
    try {
      await sendFrames(stream, [bytes], MAX_DIRECT_ENVELOPE_BYTES, { signal })
      await stream.close({ signal })
      const ack = await nextFrame(readFrames(stream, MAX_ACK_BYTES))
      const verdict = ack === undefined ? undefined : decodeAck(ack)
      if (verdict === undefined) {
        throw new CoreError('CORE__PEER_UNREACHABLE', `${to} closed ${PROTOCOLS.task} without an acknowledgement`, {
          to,
        })
      }
      if (verdict !== 'ok') {
        throw new CoreError('CORE__MESSAGE_REJECTED', `${to} rejected the ${type}: ${verdict}`, {
          to,
          code: verdict,
        })
      }
    } catch (e) {
      stream.abort(e instanceof Error ? e : new Error(String(e)))
      throwIfAborted(callerSignal)
      if (isCoreError(e)) throw e
      throw new CoreError('CORE__PEER_UNREACHABLE', `sending a ${type} to ${to} failed`, { to }, { cause: e })
    } finally {
      unwatch()
    }
  }

  /**
   * Subscribes to `topic`: at once when the bus is started, else when it starts. The subscription outlasts a stop:
   * the bus subscribes again when it starts again, until {@link unsubscribe}.
   */
  subscribe(topic: Topic): void {
    if (!isTopic(topic))
      throw new CoreError('CORE__INVALID_CONFIG', `${String(topic)} is not a Tessera topic`, { topic })
    this.#topics.add(topic)
    if (this.#started) this.#components.pubsub.subscribe(topic)
  }

  unsubscribe(topic: Topic): void {
    this.#topics.delete(topic)
    if (this.#started) this.#components.pubsub.unsubscribe(topic)
  }

  onMessage(handler: (inbound: Inbound) => void): () => void {
    this.#handlers.add(handler)
    return () => this.#handlers.delete(handler)
  }

  #assertStarted(what: string): void {
    if (!this.#started) throw new CoreError('CORE__NOT_STARTED', `cannot ${what}: the node is not started`, {})
  }

  #seal(domain: string, message: WireMessage, ttlMs = DEFAULT_MESSAGE_TTL_MS): Uint8Array {
    if (!(ttlMs > 0 && ttlMs <= MAX_ENVELOPE_TTL_MS)) {
      throw new CoreError('CORE__EXPIRY_TOO_FAR', `ttlMs must be in (0, ${MAX_ENVELOPE_TTL_MS}]`, { ttlMs })
    }
    const now = this.#components.clock.now()
    return sealEnvelope(this.#components.signer, message, {
      domain,
      seq: this.#seq.next(now),
      expiresAt: Math.floor(now + ttlMs),
    })
  }

  #validator(topic: Topic): TopicValidatorFn {
    const domain = domainOf(topic)
    return (peer, message) => {
      const from = peer.toString()
      if (message.type !== 'unsigned')
        return this.#reject({ from, topic, code: 'CORE__MALFORMED_MESSAGE', penalised: true })
      const now = this.#components.clock.now()
      try {
        const opened = openEnvelope(message.data, {
          domain,
          maxBytes: MAX_GOSSIP_ENVELOPE_BYTES,
          now,
          replay: this.#replay,
        })
        assertChannel(opened.message.type, topic)
        this.#validated.set(message, opened)
        return TopicValidatorResult.Accept
      } catch (e) {
        const code: CoreErrorCode = isCoreError(e) ? e.code : 'CORE__MALFORMED_MESSAGE'
        if (!isCoreError(e)) this.#log.error('validator raised a non-coded error on %s - %e', topic, e)
        return this.#reject({ from, topic, code, penalised: this.#atFault(e, from, now) })
      }
    }
  }

  /**
   * True when refusing the envelope is the fault of `from`, the peer that handed it to us. An honest relay may hand on
   * a message that expired in flight: those are dropped, the stale ones punished. A relay cannot know what our replay
   * guard holds: a replay (which gossipsub's seen cache, kept as long as the guard's entries, drops before us unless it
   * comes by other bytes or after a restart) is dropped, not punished, and so is what a full replay guard cannot
   * remember (our state, not the relay's fault), or what the signer alone is to blame for (see #signerAtFault).
   */
  #atFault(e: unknown, from: string, now: number): boolean {
    const code: CoreErrorCode = isCoreError(e) ? e.code : 'CORE__MALFORMED_MESSAGE'
    const lateBy = code === 'CORE__MESSAGE_EXPIRED' ? now - Number((e as CoreError).context.expiresAt) : Infinity
    const guarded = code === 'CORE__MESSAGE_REPLAYED' || code === 'CORE__REPLAY_GUARD_FULL'
    const signerAtFault = this.#signerAtFault(e, from)
    return !(lateBy <= EXPIRY_GRACE_MS || guarded || signerAtFault)
  }

  /**
   * True when refusing the envelope is no fault of `from`, the peer that handed it on, but its signer's: `from`
   * cannot know what our replay guard holds. An equivocation, proof against the signer, is charged to it (P5), and
   * costs `from` too only when `from` is the signer; a distrusted signer's later envelopes are only dropped.
   */
  #signerAtFault(e: unknown, from: string): boolean {
    if (isCoreError(e, 'CORE__SIGNER_DISTRUSTED')) return true
    if (!isCoreError(e, 'CORE__MESSAGE_EQUIVOCATED')) return false
    const signer = String(e.context.from)
    this.#penalties?.add(signer)
    return signer !== from
  }

  #reject(rejected: RejectedMessage): TopicValidatorResult {
    this.#log('rejected a message on %s from %s: %s', rejected.topic ?? 'direct', rejected.from, rejected.code)
    this.#observer.rejected?.(rejected)
    return rejected.penalised ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore
  }

  readonly #onGossip = (event: CustomEvent<GossipMessage>): void => {
    const message = event.detail
    const opened = this.#validated.get(message)
    if (opened === undefined || !isTopic(message.topic)) return
    this.#validated.delete(message)
    this.#dispatch({
      from: opened.from,
      message: opened.message,
      topic: message.topic,
      expiresAt: opened.expiresAt,
      seq: opened.seq,
      envelope: message.data,
    })
  }

  async #onTaskStream(stream: Stream, connection: Connection): Promise<void> {
    const remote = connection.remotePeer.toString()
    const unwatch = abortStreamOnSignal(stream, AbortSignal.timeout(DIRECT_SEND_TIMEOUT_MS))
    try {
      let verdict: 'ok' | CoreErrorCode
      try {
        this.#deliverDirect(await this.#readDirect(stream, remote), remote)
        verdict = 'ok'
      } catch (e) {
        // Not a coded error: the stream broke (reset, its connection gone) before a whole envelope arrived.
        verdict = isCoreError(e) ? e.code : 'CORE__PEER_UNREACHABLE'
        if (!isCoreError(e)) this.#log('reading a direct message from %s failed - %e', remote, e)
        // Counted as an equivocation is (P5): gossipsub cannot see direct streams, and a peer sending garbage there
        // kept a spotless score. Its own equivocation was counted once already.
        const penalised = this.#directAtFault(e, remote)
        if (penalised && verdict !== 'CORE__MESSAGE_EQUIVOCATED') this.#penalties?.add(remote)
        this.#observer.rejected?.({ from: remote, code: verdict, penalised })
      }
      await sendFrames(stream, [encodeAck(verdict)], MAX_ACK_BYTES)
      await stream.close()
    } catch (e) {
      this.#log('answering a direct message from %s failed - %e', remote, e)
      stream.abort(e instanceof Error ? e : new Error(String(e)))
    } finally {
      unwatch()
    }
  }

  /**
   * True when refusing a direct message is its sender's doing. A direct envelope is signed by its sender, so what is
   * wrong with it or its framing is, as with a gossip relay (see #atFault). Not our own busy budget, nor a stream
   * that broke before the envelope was whole: reset by a sender whose caller gave up, cut with its connection, or
   * aborted by our own timeout (`CORE__ABORTED`). An honest sender cannot rule those out, and charged for them it
   * was graylisted after three.
   */
  #directAtFault(e: unknown, remote: string): boolean {
    if (!isCoreError(e) || e.code === 'CORE__PEER_BUSY' || e.code === 'CORE__ABORTED') return false
    return this.#atFault(e, remote, this.#components.clock.now())
  }

  /**
   * Reads one direct envelope, its bytes counted against the inbound budget as they arrive (a length announced and
   * never sent costs nothing), each chunk as at least MIN_DIRECT_CHUNK_COST_BYTES (what holding a chunk costs besides
   * its bytes); `CORE__PEER_BUSY` when they do not fit the sender's share or the total.
   */
  async #readDirect(stream: Stream, remote: string): Promise<Uint8Array> {
    const releases: Array<() => void> = []
    const take = (bytes: number): void => {
      const release = this.#inbound.tryAcquire(remote, Math.max(bytes, MIN_DIRECT_CHUNK_COST_BYTES))
      if (release === undefined) {
        throw new CoreError('CORE__PEER_BUSY', 'no room to read more of a direct message now', { bytes, remote })
      }
      releases.push(release)
    }
    try {
      const bytes = await nextFrame(readFrames(metered(stream, take), MAX_DIRECT_ENVELOPE_BYTES))
      if (bytes === undefined) throw new CoreError('CORE__MALFORMED_MESSAGE', 'the stream ended before an envelope', {})
      return bytes
    } finally {
      for (const release of releases) release()
    }
  }

  /** Opens a direct envelope (which must be signed by the peer that sent it) and dispatches it. Throws CoreError. */
  #deliverDirect(bytes: Uint8Array, remote: string): void {
    const opened = openEnvelope(bytes, {
      domain: DIRECT_DOMAIN,
      maxBytes: MAX_DIRECT_ENVELOPE_BYTES,
      now: this.#components.clock.now(),
      replay: this.#replay,
      sender: remote,
    })
    assertChannel(opened.message.type, 'direct')
    this.#dispatch({
      from: opened.from,
      message: opened.message,
      expiresAt: opened.expiresAt,
      seq: opened.seq,
      envelope: bytes,
    })
  }

  #dispatch(inbound: Inbound): void {
    this.#observer.received?.(inbound)
    for (const handler of this.#handlers) {
      try {
        handler(inbound)
      } catch (e) {
        this.#log.error('a message handler threw on a %s - %e', inbound.message.type, e)
      }
    }
  }
}

function encodeAck(verdict: 'ok' | CoreErrorCode): Uint8Array {
  return encodeCanonical({ r: verdict })
}

/** The acknowledgement's verdict, or undefined for anything that is not one. */
function decodeAck(bytes: Uint8Array): string | undefined {
  try {
    const value = decodeCanonical(bytes, 'ack') as { r?: unknown } | null
    return typeof value?.r === 'string' && value.r.length <= 64 ? value.r : undefined
  } catch {
    return undefined
  }
}
