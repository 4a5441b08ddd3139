import { isCoreError } from '@tessera/core'
import { describe, expect, it } from 'vitest'
import { LedgerError } from '../src/errors.js'
import { parseRetryAfter, withRetry, type RetryEvent } from '../src/transport/retry.js'

describe('withRetry', () => {
  it('should reject with CORE__ABORTED, calling nothing, once its signal has aborted', async () => {
    let calls = 0
    const call = async (): Promise<number> => ++calls
    await expect(withRetry('op', call, {}, { signal: AbortSignal.abort() })).rejects.toSatisfy((e) =>
      isCoreError(e, 'CORE__ABORTED'),
    )
    expect(calls).toBe(0)
  })

  it('should reject with CORE__ABORTED when aborted during a backoff', async () => {
    const controller = new AbortController()
    const failing = async (): Promise<never> => {
      throw new LedgerError('LEDGER__RPC_UNAVAILABLE', 'down')
    }
    const pending = withRetry('op', failing, { baseDelayMs: 60_000 }, { signal: controller.signal })
    controller.abort()
    await expect(pending).rejects.toSatisfy((e) => isCoreError(e, 'CORE__ABORTED'))
  })
})

describe('withRetry and Retry-After', () => {
  /** The delays withRetry waits before each retry of a call that fails with `error` once, under `maxDelayMs`. */
  async function delaysAfter(error: unknown, maxDelayMs: number): Promise<number[]> {
    const events: RetryEvent[] = []
    let calls = 0
    const call = async (): Promise<string> => {
      if (calls++ === 0) throw error
      return 'ok'
    }
    await withRetry('op', call, { baseDelayMs: 1, maxDelayMs }, { onRetry: (event) => events.push(event) })
    return events.map((e) => e.delayMs)
  }

  it('should wait at least what the endpoint asked for, when that is longer than the backoff', async () => {
    const busy = new LedgerError('LEDGER__RPC_UNAVAILABLE', 'busy', { retryAfterMs: 120 })
    expect(await delaysAfter(busy, 10_000)).toEqual([120])
  })

  it("should wait no longer than the policy's longest delay, whatever the endpoint asked for", async () => {
    const busy = new LedgerError('LEDGER__RPC_UNAVAILABLE', 'busy', { retryAfterMs: 30_000 })
    expect(await delaysAfter(busy, 50)).toEqual([50])
  })
})

describe('parseRetryAfter', () => {
  const now = Date.UTC(2025, 0, 1, 12, 0, 0)

  it('should read a number of seconds and an HTTP date', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000)
    expect(parseRetryAfter(' 0 ', now)).toBe(0)
    expect(parseRetryAfter(new Date(now + 5_000).toUTCString(), now)).toBe(5_000)
  })

  it('should ask for no wait after a date already past, and none for a header that is absent or neither', () => {
    expect(parseRetryAfter(new Date(now - 5_000).toUTCString(), now)).toBe(0)
    expect(parseRetryAfter(null, now)).toBeUndefined()
    expect(parseRetryAfter('soon', now)).toBeUndefined()
    expect(parseRetryAfter('-5', now)).toBeUndefined()
  })
})
