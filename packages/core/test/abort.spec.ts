import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { withTimeout } from '../src/abort.js'

const ABORT_MODULE = fileURLToPath(new URL('../src/abort.ts', import.meta.url))

describe('withTimeout', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('should abort with a TimeoutError once its timer fires, and not before', () => {
    // Fake timers reach a deadline kept by a timer; AbortSignal.timeout's own clock is out of their reach.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const signal = withTimeout(new AbortController().signal, 1_000)
    vi.advanceTimersByTime(999)
    expect(signal.aborted).toBe(false)
    vi.advanceTimersByTime(1)
    expect(signal.aborted).toBe(true)
    expect(signal.reason).toMatchObject({ name: 'TimeoutError' })
  })

  it("should abort with the caller's reason when the caller aborts first", () => {
    const caller = new AbortController()
    const signal = withTimeout(caller.signal, 60_000)
    caller.abort(new Error('stop'))
    expect(signal.aborted).toBe(true)
    expect(signal.reason).toMatchObject({ message: 'stop' })
  })

  it('should still fire after garbage collection has run while it waits', () => {
    // A child with gc() exposed collects every 10 ms while a 200 ms deadline, held by nothing but its caller's
    // composite signal, waits (AbortSignal.timeout inside AbortSignal.any was collected there on Node 20).
    const script = `
      const { withTimeout } = await import(${JSON.stringify(ABORT_MODULE)})
      const signals = [withTimeout(new AbortController().signal, 200), withTimeout(undefined, 200)]
      const collect = setInterval(() => globalThis.gc(), 10)
      await new Promise((resolve) => setTimeout(resolve, 1_000))
      clearInterval(collect)
      console.log(JSON.stringify(signals.map((s) => s.aborted && s.reason.name)))
    `
    const child = spawnSync(
      process.execPath,
      ['--expose-gc', '--conditions=tessera-src', '--import', 'tsx', '--input-type=module', '-e', script],
      { encoding: 'utf8', timeout: 30_000 },
    )
    expect(child.stderr).toBe('')
    expect(JSON.parse(child.stdout)).toEqual(['TimeoutError', 'TimeoutError'])
  })
})
