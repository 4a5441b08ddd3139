import { describe, expect, it } from 'vitest'
import { RequestBudget } from '../src/peer/request-budget.js'

describe('RequestBudget', () => {
  it('should admit a few requests a peer in a window, and more once the window has moved on', () => {
    const budget = new RequestBudget({ perPeer: 2, total: 100, windowMs: 1_000, peers: 10 })
    expect([0, 10, 20].map((t) => budget.admit('a', t))).toEqual([true, true, false])
    // Another peer has its own share.
    expect(budget.admit('b', 20)).toBe(true)
    // The first request leaves the window at 1,000 ms: one more fits, not two.
    expect([1_001, 1_002].map((t) => budget.admit('a', t))).toEqual([true, false])
  })

  it('should bound the requests of all peers together, so many identities cannot fill the queue', () => {
    const budget = new RequestBudget({ perPeer: 2, total: 3, windowMs: 1_000, peers: 10 })
    expect(['a', 'b', 'c', 'd'].map((p) => budget.admit(p, 0))).toEqual([true, true, true, false])
    expect(budget.admit('e', 1_001)).toBe(true)
  })

  it('should forget the peer heard from longest ago past its bound on peers', () => {
    const budget = new RequestBudget({ perPeer: 1, total: 100, windowMs: 1_000, peers: 2 })
    expect(['a', 'b', 'c'].map((p) => budget.admit(p, 0))).toEqual([true, true, true])
    // c is still counted; a, heard from longest ago, was forgotten.
    expect(budget.admit('c', 1)).toBe(false)
    expect(budget.admit('a', 1)).toBe(true)
  })
})
