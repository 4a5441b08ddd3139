import { describe, expect, it } from 'vitest'
import { ByteBudget, isCoreError } from '../src/index.js'
import { PeerBudget, PeerByteBudget } from '../src/peer-budget.js'

describe('ByteBudget', () => {
  it('should grant bytes first come, first served, each waiting for room', async () => {
    const budget = new ByteBudget(100)
    const granted: string[] = []
    const first = await budget.acquire(60)
    const second = budget.acquire(50).then((release) => (granted.push('second'), release))
    // Small enough to fit now, but it does not jump the queue.
    const third = budget.acquire(10).then((release) => (granted.push('third'), release))
    await Promise.resolve()
    expect([budget.held, budget.waiting, granted]).toEqual([60, 2, []])
    first()
    first()
    const [releaseSecond, releaseThird] = await Promise.all([second, third])
    expect(granted).toEqual(['second', 'third'])
    expect(budget.held).toBe(60)
    releaseSecond()
    releaseThird()
    expect(budget.held).toBe(0)
  })

  it('should grant a request larger than the budget alone, once nothing else is held', async () => {
    const budget = new ByteBudget(100)
    const small = await budget.acquire(10)
    let large = false
    const pending = budget.acquire(500).then((release) => ((large = true), release))
    await Promise.resolve()
    expect(large).toBe(false)
    small()
    const release = await pending
    expect([large, budget.held]).toEqual([true, 500])
    release()
  })

  it('should give back part of a grant, then the rest, and never more than it holds', async () => {
    const budget = new ByteBudget(100)
    const release = await budget.acquire(80)
    release(30)
    release(Number.NaN)
    expect(budget.held).toBe(50)
    release(500)
    expect(budget.held).toBe(0)
    release()
    expect(budget.held).toBe(0)
  })

  it('should drop a waiter whose signal aborts, letting the one behind it in', async () => {
    const budget = new ByteBudget(100)
    const held = await budget.acquire(70)
    const controller = new AbortController()
    const blocked = budget.acquire(80, { signal: controller.signal })
    const behind = budget.acquire(30)
    controller.abort()
    await expect(blocked).rejects.toSatisfy((e) => isCoreError(e, 'CORE__ABORTED'))
    const release = await behind
    expect([budget.held, budget.waiting]).toEqual([100, 0])
    release()
    held()
  })
})

describe('PeerBudget', () => {
  it("should hold each peer to its share and all peers to the total, freeing a peer's bytes on release", () => {
    const budget = new PeerBudget(100, 40)
    const a1 = budget.tryAcquire('a', 30)
    expect(budget.tryAcquire('a', 20)).toBeUndefined()
    const b = budget.tryAcquire('b', 40)
    const c = budget.tryAcquire('c', 30)
    expect([a1, b, c].every((r) => r !== undefined)).toBe(true)
    // 100 held: within its share, d still does not fit the total.
    expect(budget.tryAcquire('d', 1)).toBeUndefined()
    a1!()
    a1!()
    expect(budget.held).toBe(70)
    expect(budget.tryAcquire('a', 30)).toBeDefined()
  })
})

describe('PeerByteBudget', () => {
  it("should hold each peer to its share, a request past it waiting behind the peer's own and not ahead of others", async () => {
    const budget = new PeerByteBudget(100, 50)
    const a1 = budget.tryAcquire('a', 50)!
    expect(budget.tryAcquire('a', 10)).toBeUndefined()
    let grantedA2 = false
    const a2 = budget.acquire('a', 30).then((release) => ((grantedA2 = true), release))
    // a's share is full and a waits, yet b's bytes fit the total: they are not queued behind a's.
    const b = budget.tryAcquire('b', 40)
    expect(b).toBeDefined()
    await Promise.resolve()
    expect([budget.held, budget.waiting, grantedA2]).toEqual([90, 1, false])
    a1()
    const releaseA2 = await a2
    expect([budget.held, budget.waiting]).toEqual([70, 0])
    // Given back in part, then whole, from the share and the total alike.
    releaseA2(20)
    expect(budget.tryAcquire('a', 40)).toBeDefined()
    releaseA2()
    b!()
    expect(budget.held).toBe(40)
  })

  it('should grant a peer one request larger than its share while it holds nothing else', async () => {
    const budget = new PeerByteBudget(100, 20)
    const large = budget.tryAcquire('a', 80)
    expect(large).toBeDefined()
    expect(budget.tryAcquire('a', 1)).toBeUndefined()
    expect(budget.tryAcquire('b', 20)).toBeDefined()
    large!()
    expect(budget.held).toBe(20)
  })

  it("should give back a request's share when its signal aborts while it waits for the total", async () => {
    const budget = new PeerByteBudget(100, 60)
    const b = budget.tryAcquire('b', 60)!
    const controller = new AbortController()
    const a = budget.acquire('a', 50, { signal: controller.signal })
    await Promise.resolve()
    expect(budget.waiting).toBe(1)
    controller.abort()
    await expect(a).rejects.toSatisfy((e) => isCoreError(e, 'CORE__ABORTED'))
    expect(budget.waiting).toBe(0)
    // a holds none of its share: a request filling it is granted at once.
    b()
    expect(budget.tryAcquire('a', 60)).toBeDefined()
  })
})
