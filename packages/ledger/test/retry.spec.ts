import { isCoreError } from '@tessera/core'
import { describe, expect, it } from 'vitest'
import { LedgerError } from '../src/errors.js'
import { withRetry } from '../src/transport/retry.js'

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
