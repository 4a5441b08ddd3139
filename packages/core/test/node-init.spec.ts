import { describe, expect, it } from 'vitest'
import { MAX_REPLAY_HOLD_MS } from '../src/constants.js'
import { isLocalListen, resolveNodeInit } from '../src/node/node-init.js'

describe('resolveNodeInit', () => {
  it('should use local-network settings only when every listen and announce address is loopback or private', () => {
    expect(resolveNodeInit({})).toMatchObject({ localNetwork: true, dhtMode: 'server' })
    expect(isLocalListen(['/ip4/192.168.1.20/tcp/4001', '/ip6/::1/tcp/0', '/memory/a'])).toBe(true)
    expect(isLocalListen(['/ip4/127.0.0.1/tcp/0', '/ip4/93.184.216.34/tcp/4001'])).toBe(false)
    // A wildcard binds public interfaces too.
    for (const wildcard of ['/ip4/0.0.0.0/tcp/4001', '/ip6/::/tcp/4001']) {
      expect(resolveNodeInit({ listen: [wildcard] })).toMatchObject({ localNetwork: false, dhtMode: 'auto' })
    }
    expect(resolveNodeInit({ announce: ['/ip4/93.184.216.34/tcp/4001'] }).localNetwork).toBe(false)
    // Said outright, it wins.
    expect(resolveNodeInit({ listen: ['/ip4/0.0.0.0/tcp/4001'], localNetwork: true }).localNetwork).toBe(true)
  })

  it('should have gossipsub remember message ids as long as the replay guard holds an entry', () => {
    // Shorter, a captured envelope replayed to a newcomer after its peers' seen caches forgot it reaches their
    // validators, where only the replay guard knows it.
    expect(resolveNodeInit({}).seenTtlMs).toBe(MAX_REPLAY_HOLD_MS)
  })
})
