import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'

/**
 * Why `text` is not a usable multiaddr, or undefined when it is one: one that does not parse, an empty one, or, with
 * `peerId` (a bootstrap peer's), one without a `/p2p/<peer id>` part naming a valid peer id. Shared by the node's
 * options and the config file that sets them, so both refuse the same addresses, for the same reason.
 */
export function multiaddrProblem(text: string, options: { peerId?: boolean } = {}): string | undefined {
  let components
  try {
    components = multiaddr(text).getComponents()
  } catch (e) {
    return (e as Error).message
  }
  if (components.length === 0) return 'it is empty'
  if (options.peerId !== true) return undefined
  const id = components.find((c) => c.name === 'p2p')?.value
  if (id === undefined) return 'a bootstrap peer ends in /p2p/<peer id>'
  try {
    peerIdFromString(id)
  } catch {
    return `${id} is not a peer id`
  }
  return undefined
}
