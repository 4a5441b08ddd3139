import { describe, expect, it } from 'vitest'
import { SerialQueue } from '../src/serial-queue.js'

/** A promise and the function that resolves it. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {}
  const promise = new Promise<void>((resolve) => (open = resolve))
  return { promise, open }
}

describe('SerialQueue', () => {
  it('should run calls one at a time, in call order, a failure not stopping the next', async () => {
    const queue = new SerialQueue()
    const log: string[] = []
    const first = gate()
    const a = queue.run(async () => {
      log.push('a:start')
      await first.promise
      log.push('a:end')
    })
    const b = queue.run(async () => {
      log.push('b')
      throw new Error('b failed')
    })
    const c = queue.run(async () => void log.push('c'))
    await new Promise((resolve) => setImmediate(resolve))
    expect(log).toEqual(['a:start'])
    first.open()
    await a
    await expect(b).rejects.toThrow('b failed')
    await c
    expect(log).toEqual(['a:start', 'a:end', 'b', 'c'])
  })

  it('should reject a waiting call whose signal aborts at once, never run it, and keep the calls behind it waiting', async () => {
    const queue = new SerialQueue()
    const log: string[] = []
    const first = gate()
    const a = queue.run(async () => {
      await first.promise
      log.push('a')
    })
    const controller = new AbortController()
    const b = queue.run(async () => void log.push('b'), { signal: controller.signal })
    const c = queue.run(async () => void log.push('c'))
    controller.abort()
    await expect(b).rejects.toMatchObject({ code: 'CORE__ABORTED' })
    await new Promise((resolve) => setImmediate(resolve))
    // c still waits for a: the aborted call gave up its turn, not a's.
    expect(log).toEqual([])
    first.open()
    await Promise.all([a, c])
    expect(log).toEqual(['a', 'c'])
    await queue.idle()
  })
})
