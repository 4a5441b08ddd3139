import { setMaxListeners } from 'node:events'
import {
  createDefaultRpcSubscriptionsTransport,
  createSolanaRpcSubscriptionsFromTransport,
  getChannelPoolingChannelCreator,
  getDataPublisherFromEventEmitter,
  getRpcSubscriptionsChannelWithAutoping,
  SOLANA_ERROR__RPC_SUBSCRIPTIONS__CHANNEL_CONNECTION_CLOSED,
  SolanaError,
  transformChannelOutboundMessages,
  type RpcSubscriptions,
  type RpcSubscriptionsChannel,
  type SolanaRpcSubscriptionsApi,
  type TypedEventTarget,
} from '@solana/kit'
import { stringifyJsonWithBigInts } from '@solana/rpc-spec-types'
import WebSocket from 'ws'
import type { RpcReplyBound } from '../constants.js'
import { LedgerError, isLedgerError } from '../errors.js'
import { parseBoundedJson } from './bounded-json.js'
import { parseReply, subscriptionMessage } from './rpc-replies.js'

/** Kit's defaults for its own channels: a ping after 5 s of silence, 100 subscriptions per connection. */
const PING_INTERVAL_MS = 5_000
const MAX_SUBSCRIPTIONS_PER_CHANNEL = 100
/** WebSocket close codes (RFC 6455, 7.4.1). */
const NORMAL_CLOSURE = 1000
/** A message not of the type the channel carries: here, not a JSON-RPC message kit can read. */
const INVALID_PAYLOAD = 1007
const MESSAGE_TOO_BIG = 1009
const WHAT = 'a WebSocket message'

type ChannelEvents<T> = TypedEventTarget<{
  message: CustomEvent<T>
  error: CustomEvent<SolanaError<typeof SOLANA_ERROR__RPC_SUBSCRIPTIONS__CHANNEL_CONNECTION_CLOSED>>
}>

/**
 * Solana's RPC subscriptions over WebSocket, as kit's `createSolanaRpcSubscriptions` composes them (bigint JSON,
 * pings, a pool of channels), but on a channel that reads each inbound message within `bound` and as a JSON-RPC
 * message ({@link readSubscriptionMessage}) before kit sees it: one that is not closes the channel, and the wait on
 * it falls back to polling. A bad `url` (not `ws:` or `wss:`) is `LEDGER__INVALID_INPUT`.
 */
export function boundedRpcSubscriptions(
  url: string,
  bound: RpcReplyBound,
): RpcSubscriptions<SolanaRpcSubscriptionsApi> {
  const protocol = URL.canParse(url) ? new URL(url).protocol : undefined
  if (protocol !== 'ws:' && protocol !== 'wss:') {
    // The URL itself stays out of the error: endpoints often carry an API key in it.
    throw new LedgerError('LEDGER__INVALID_INPUT', 'wsUrl must be a ws: or wss: URL', { protocol })
  }
  const createChannel = getChannelPoolingChannelCreator(
    ({ abortSignal }) =>
      createBoundedWebSocketChannel({
        url,
        signal: abortSignal,
        maxMessageBytes: bound.bytes,
        read: (text) => readSubscriptionMessage(text, bound),
      })
        .then((channel) => transformChannelOutboundMessages(channel, stringifyJsonWithBigInts))
        .then((channel) =>
          getRpcSubscriptionsChannelWithAutoping({ abortSignal, channel, intervalMs: PING_INTERVAL_MS }),
        ),
    { maxSubscriptionsPerChannel: MAX_SUBSCRIPTIONS_PER_CHANNEL, minChannels: 1 },
  )
  return createSolanaRpcSubscriptionsFromTransport(createDefaultRpcSubscriptionsTransport({ createChannel }))
}

/**
 * One inbound message of a subscriptions channel, read as kit's bigint JSON within `bound` (see
 * {@link parseBoundedJson}), and shown to be a JSON-RPC message kit's demultiplexer reads without throwing: a
 * notification, or a reply to a request.
 */
export function readSubscriptionMessage(text: string, bound: RpcReplyBound): unknown {
  const message = parseBoundedJson(text, bound, WHAT)
  parseReply(subscriptionMessage, message, WHAT)
  return message
}

/** Options of {@link createBoundedWebSocketChannel}. */
export interface BoundedWebSocketChannelOptions<T> {
  /** `ws:` or `wss:` endpoint. */
  url: string
  /** Closes the channel (normally: no error event); before it opens, rejects the open with its reason. */
  signal: AbortSignal
  /** The largest inbound message, in bytes after any decompression. */
  maxMessageBytes: number
  /** Reads an inbound message's text; what it throws closes the channel, with it as the error's cause. */
  read: (text: string) => T
}

/**
 * A WebSocket channel for kit's RPC subscriptions, as `@solana/rpc-subscriptions-channel-websocket`'s, but reading
 * no message past `maxMessageBytes`, and reading each through `read` where a failure is caught. Kit's takes the
 * runtime's WebSocket, and Node's own reads a message of up to 128 MiB whole, a bound no option lowers; `ws` refuses
 * one from its header, before reading it, and a compressed one as it inflates (`maxPayload`). Kit's channels parse a
 * message inside an event listener, where a throw (bad JSON from the endpoint) is rethrown as an uncaught exception
 * that ends the process; here neither `read` nor a subscriber can throw out of a listener. Past the bound, or with a
 * message `read` refuses, the socket closes (1009 for `LEDGER__RPC_REPLY_TOO_LARGE`, else 1007) and the channel emits
 * an error whose cause is that refusal; kit then fails the subscriptions on it and drops it from its pool.
 */
export function createBoundedWebSocketChannel<T>(
  options: BoundedWebSocketChannelOptions<T>,
): Promise<RpcSubscriptionsChannel<string, T>> {
  const { url, signal, maxMessageBytes, read } = options
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise((resolve, reject) => {
    const target = new EventTarget()
    const events: ChannelEvents<T> = target
    const publisher = getDataPublisherFromEventEmitter(events)
    // One listener per subscription and event, and a pooled channel carries up to 100 subscriptions.
    setMaxListeners(Number.MAX_SAFE_INTEGER, target)
    // Outbound messages are subscribe, unsubscribe and ping requests of a few hundred bytes: no send buffering.
    const socket = new WebSocket(url, { maxPayload: maxMessageBytes })
    let opened = false
    let failure: unknown
    /** Closes the socket for `error`, the first failure: the error event on close carries it. */
    const fail = (error: unknown) => {
      if (failure !== undefined) return
      failure = error
      socket.close(isLedgerError(error, 'LEDGER__RPC_REPLY_TOO_LARGE') ? MESSAGE_TOO_BIG : INVALID_PAYLOAD)
    }
    const onAbort = () => {
      if (!opened) reject(signal.reason)
      socket.close(NORMAL_CLOSURE)
    }
    signal.addEventListener('abort', onAbort, { once: true })
    socket.on('open', () => {
      opened = true
      resolve({
        on: (channelName, subscriber, listening) =>
          publisher.on(
            channelName,
            (data) => {
              try {
                ;(subscriber as (data: unknown) => void)(data)
              } catch (cause) {
                fail(
                  new LedgerError(
                    'LEDGER__RPC_MALFORMED_REPLY',
                    `${WHAT} could not be read: ${String(cause)}`,
                    {},
                    { cause },
                  ),
                )
              }
            },
            listening,
          ),
        send: (message) =>
          new Promise<void>((sent, failed) => {
            if (socket.readyState !== WebSocket.OPEN) {
              failed(new SolanaError(SOLANA_ERROR__RPC_SUBSCRIPTIONS__CHANNEL_CONNECTION_CLOSED))
              return
            }
            socket.send(message, (e) => (e === undefined || e === null ? sent() : failed(e)))
          }),
      })
    })
    // With ws's default binary type every message, text or binary, arrives as one Buffer.
    socket.on('message', (data: Buffer) => {
      if (signal.aborted || failure !== undefined) return
      let message: T
      try {
        message = read(data.toString('utf8'))
      } catch (e) {
        fail(e)
        return
      }
      events.dispatchEvent(new CustomEvent('message', { detail: message }))
    })
    socket.on('error', (e: Error & { code?: string }) => {
      failure ??=
        e.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'
          ? new LedgerError(
              'LEDGER__RPC_REPLY_TOO_LARGE',
              `${WHAT} from the RPC endpoint passes ${maxMessageBytes} bytes`,
              { max: maxMessageBytes },
              { cause: e },
            )
          : e
      if (!opened) reject(failure)
    })
    socket.on('close', (code) => {
      signal.removeEventListener('abort', onAbort)
      if (!opened) reject(failure ?? new SolanaError(SOLANA_ERROR__RPC_SUBSCRIPTIONS__CHANNEL_CONNECTION_CLOSED))
      if (signal.aborted || (code === NORMAL_CLOSURE && failure === undefined)) return
      events.dispatchEvent(
        new CustomEvent('error', {
          detail: new SolanaError(SOLANA_ERROR__RPC_SUBSCRIPTIONS__CHANNEL_CONNECTION_CLOSED, {
            cause: failure ?? { code },
          }),
        }),
      )
    })
  })
}
