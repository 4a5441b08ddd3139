import { setMaxListeners } from 'node:events'
import {
  createDefaultRpcSubscriptionsTransport,
  createSolanaRpcSubscriptionsFromTransport,
  getChannelPoolingChannelCreator,
  getDataPublisherFromEventEmitter,
  getRpcSubscriptionsChannelWithAutoping,
  getRpcSubscriptionsChannelWithBigIntJSONSerialization,
  SOLANA_ERROR__RPC_SUBSCRIPTIONS__CHANNEL_CONNECTION_CLOSED,
  SolanaError,
  type RpcSubscriptions,
  type RpcSubscriptionsChannel,
  type SolanaRpcSubscriptionsApi,
  type TypedEventTarget,
} from '@solana/kit'
import WebSocket from 'ws'
import { LedgerError } from '../errors.js'

/** Kit's defaults for its own channels: a ping after 5 s of silence, 100 subscriptions per connection. */
const PING_INTERVAL_MS = 5_000
const MAX_SUBSCRIPTIONS_PER_CHANNEL = 100
const NORMAL_CLOSURE = 1000

type ChannelEvents = TypedEventTarget<{
  message: CustomEvent<string>
  error: CustomEvent<SolanaError<typeof SOLANA_ERROR__RPC_SUBSCRIPTIONS__CHANNEL_CONNECTION_CLOSED>>
}>

/**
 * Solana's RPC subscriptions over WebSocket, as kit's `createSolanaRpcSubscriptions` composes them (bigint JSON,
 * pings, a pool of channels), but on a channel that refuses an inbound message past `maxMessageBytes`. A bad
 * `url` (not `ws:` or `wss:`) is `LEDGER__INVALID_INPUT`.
 */
export function boundedRpcSubscriptions(
  url: string,
  maxMessageBytes: number,
): RpcSubscriptions<SolanaRpcSubscriptionsApi> {
  const protocol = URL.canParse(url) ? new URL(url).protocol : undefined
  if (protocol !== 'ws:' && protocol !== 'wss:') {
    // The URL itself stays out of the error: endpoints often carry an API key in it.
    throw new LedgerError('LEDGER__INVALID_INPUT', 'wsUrl must be a ws: or wss: URL', { protocol })
  }
  const createChannel = getChannelPoolingChannelCreator(
    ({ abortSignal }) =>
      createBoundedWebSocketChannel({ url, signal: abortSignal, maxMessageBytes })
        .then(getRpcSubscriptionsChannelWithBigIntJSONSerialization)
        .then((channel) =>
          getRpcSubscriptionsChannelWithAutoping({ abortSignal, channel, intervalMs: PING_INTERVAL_MS }),
        ),
    { maxSubscriptionsPerChannel: MAX_SUBSCRIPTIONS_PER_CHANNEL, minChannels: 1 },
  )
  return createSolanaRpcSubscriptionsFromTransport(createDefaultRpcSubscriptionsTransport({ createChannel }))
}

/** Options of {@link createBoundedWebSocketChannel}. */
export interface BoundedWebSocketChannelOptions {
  /** `ws:` or `wss:` endpoint. */
  url: string
  /** Closes the channel (normally: no error event); before it opens, rejects the open with its reason. */
  signal: AbortSignal
  /** The largest inbound message, in bytes after any decompression. */
  maxMessageBytes: number
}

/**
 * A WebSocket channel for kit's RPC subscriptions, as `@solana/rpc-subscriptions-channel-websocket`'s, but reading
 * no message past `maxMessageBytes`. Kit's takes the runtime's WebSocket, and Node's own reads a message of up to
 * 128 MiB whole, a bound no option lowers; `ws` refuses one from its header, before reading it, and a compressed
 * one as it inflates (`maxPayload`). Past the bound the socket closes with 1009 and the channel emits an error whose
 * cause is `LEDGER__RPC_REPLY_TOO_LARGE`; kit then fails the subscriptions on it and drops it from its pool.
 */
export function createBoundedWebSocketChannel(
  options: BoundedWebSocketChannelOptions,
): Promise<RpcSubscriptionsChannel<string, string>> {
  const { url, signal, maxMessageBytes } = options
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise((resolve, reject) => {
    const target = new EventTarget()
    const events: ChannelEvents = target
    // One listener per subscription and event, and a pooled channel carries up to 100 subscriptions.
    setMaxListeners(Number.MAX_SAFE_INTEGER, target)
    // Outbound messages are subscribe, unsubscribe and ping requests of a few hundred bytes: no send buffering.
    const socket = new WebSocket(url, { maxPayload: maxMessageBytes })
    let opened = false
    let failure: unknown
    const onAbort = () => {
      if (!opened) reject(signal.reason)
      socket.close(NORMAL_CLOSURE)
    }
    signal.addEventListener('abort', onAbort, { once: true })
    socket.on('open', () => {
      opened = true
      resolve({
        ...getDataPublisherFromEventEmitter(events),
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
      if (!signal.aborted) events.dispatchEvent(new CustomEvent('message', { detail: data.toString('utf8') }))
    })
    socket.on('error', (e: Error & { code?: string }) => {
      failure =
        e.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'
          ? new LedgerError(
              'LEDGER__RPC_REPLY_TOO_LARGE',
              `a WebSocket message from the RPC endpoint passes ${maxMessageBytes} bytes`,
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
