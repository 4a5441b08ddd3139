import { NodeError } from '../errors.js'

/** The name of the error libp2p's start throws when a configured listen address cannot be listened on. */
const LIBP2P_LISTEN_ERROR = 'UnsupportedListenAddressesError'

/**
 * One line of libp2p's message per address that failed, `  <multiaddr>: <error>`, whose error's stack follows on
 * lines indented further.
 */
const FAILED_ADDRESS_LINE = /^ {2}(\/\S+): (.+)$/gm

/**
 * `NODE__LISTEN_FAILED` naming the listen addresses libp2p could not listen on, each with why, when `cause` is libp2p's
 * refusal to start for that reason; undefined for any other error. libp2p's own message runs over many lines with
 * each failure's stack, and names a libp2p option the node does not expose.
 */
export function listenFailure(cause: unknown, listen: readonly string[]): NodeError | undefined {
  if (!(cause instanceof Error) || cause.name !== LIBP2P_LISTEN_ERROR) return undefined
  const failed = [...cause.message.matchAll(FAILED_ADDRESS_LINE)].map(([, address, why]) => ({
    address: address as string,
    reason: (why as string).replace(/^Error: /, ''),
  }))
  // Its message not of the shape expected (another libp2p version): every configured address is named.
  const addresses = failed.length > 0 ? failed.map((f) => f.address) : [...listen]
  const reasons = failed.length > 0 ? failed.map((f) => `${f.address} (${f.reason})`) : addresses
  return new NodeError(
    'NODE__LISTEN_FAILED',
    `libp2p cannot listen on ${reasons.join(', ')}: free the port, or listen elsewhere with --listen or listen in ` +
      'config.json',
    { addresses, reasons: failed.map((f) => f.reason) },
    { cause },
  )
}
