import { describe, expect, it } from 'vitest'
import { MAX_REPLAY_HOLD_MS } from '../src/constants.js'
import { createNode, isCoreError, systemClock } from '../src/index.js'
import { isLocalListen, resolveNodeInit, type NodeInit } from '../src/node/node-init.js'

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

  it('should refuse options of the wrong type with CORE__INVALID_CONFIG, naming the option', async () => {
    const wrong: Array<[string, unknown]> = [
      ['listen', 5],
      ['listen', '/ip4/127.0.0.1/tcp/0'],
      ['announce', [5]],
      ['bootstrap', 'x'],
      ['localNetwork', 'no'],
      ['start', 1],
      ['dhtMode', 'bogus'],
      ['dhtMode', 'Server'],
      ['appSpecificScore', 5],
      ['blobAccess', true],
      ['metrics', {}],
      ['logPrefix', 7],
      ['identity', {}],
      ['clock', {}],
      ['clock', { now: 5 }],
      ['blobstore', {}],
      ['datastore', new Map()],
    ]
    for (const [option, value] of wrong) {
      expect(() => resolveNodeInit({ [option]: value } as NodeInit), `${option}: ${String(value)}`).toThrow(
        expect.objectContaining({ code: 'CORE__INVALID_CONFIG', context: expect.objectContaining({ option }) }),
      )
    }
    for (const init of [null, 5, 'x', []]) {
      await expect(createNode(init as NodeInit)).rejects.toSatisfy((e) => isCoreError(e, 'CORE__INVALID_CONFIG'))
    }
    expect(resolveNodeInit({ clock: systemClock, dhtMode: 'client', start: false, listen: [] }).dhtMode).toBe('client')
  })
})
