import { describe, expect, it } from 'vitest'
import { isCoreError } from '../src/index.js'
import { asScored, type GossipSub } from '../src/node/gossip.js'

describe('asScored', () => {
  it('should refuse a pubsub service without scores with CORE__INVALID_CONFIG', () => {
    expect(() => asScored({} as GossipSub)).toThrow(
      expect.toSatisfy((e) => isCoreError(e, 'CORE__INVALID_CONFIG') && e.context['getScore'] === 'undefined'),
    )
  })
})
