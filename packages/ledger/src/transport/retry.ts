import { delay, throwIfAborted, type AbortOptions } from '@tessera/core'
import { DEFAULT_RETRY_ATTEMPTS, DEFAULT_RETRY_BASE_DELAY_MS, DEFAULT_RETRY_MAX_DELAY_MS } from '../constants.js'
import { isLedgerError, isTransientLedgerError } from '../errors.js'

/** How a failed call is retried: exponential backoff, base·2^attempt, capped. */
export interface RetryPolicy {
  /** Attempts in all, the first included. @default 5 */
  attempts?: number
  /** @default 200 */
  baseDelayMs?: number
  /** @default 10_000 */
  maxDelayMs?: number
}

/** What a caller may watch: each retry's attempt number (1 = first retry), delay and the error that caused it. */
export interface RetryEvent {
  operation: string
  attempt: number
  delayMs: number
  error: unknown
}

/** Options of {@link withRetry}: its signal, and a hook that hears each retry. */
export interface RetryOptions extends AbortOptions {
  onRetry?: (event: RetryEvent) => void
}

/** The delay before retry number `attempt` (1-based). Deterministic: tests and logs can predict it. */
export function backoffDelay(attempt: number, policy: RetryPolicy = {}): number {
  const base = policy.baseDelayMs ?? DEFAULT_RETRY_BASE_DELAY_MS
  const max = policy.maxDelayMs ?? DEFAULT_RETRY_MAX_DELAY_MS
  return Math.min(max, base * 2 ** (attempt - 1))
}

/**
 * The wait an HTTP `Retry-After` header asks for, in ms from `now` (RFC 9110, 10.2.3): a number of seconds, or an
 * HTTP date (one already past asks for none). Undefined when there is no header or it is neither.
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1_000
  // Every HTTP date names its month (and Date.parse alone would read `-5` as a year).
  const date = /[A-Za-z]/.test(trimmed) ? Date.parse(trimmed) : Number.NaN
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/** The wait `error` says the endpoint asked for (`context.retryAfterMs`, from `Retry-After`), if any. */
function retryAfterOf(error: unknown): number {
  const asked = isLedgerError(error) ? error.context['retryAfterMs'] : undefined
  return typeof asked === 'number' ? asked : 0
}

/**
 * Resolves after `ms`, or rejects with AbortError when `signal` fires first.
 * @deprecated the same as `delay` from `@tessera/core`; kept for callers of the earlier export.
 */
export const sleep: (ms: number, signal?: AbortSignal) => Promise<void> = delay

/**
 * Runs `call` until it succeeds, fails with a non-retryable error, or runs out of attempts (then the last error
 * is thrown: it is coded, so callers see why). Only transient endpoint failures (`isTransientLedgerError`) are retried,
 * each after its backoff, or after the wait the endpoint asked for (`context.retryAfterMs`) when that is longer, up to
 * the policy's longest delay.
 */
export async function withRetry<T>(
  operation: string,
  call: (attempt: number) => Promise<T>,
  policy: RetryPolicy = {},
  options: RetryOptions = {},
): Promise<T> {
  const attempts = Math.max(1, policy.attempts ?? DEFAULT_RETRY_ATTEMPTS)
  for (let attempt = 0; ; attempt++) {
    throwIfAborted(options.signal)
    try {
      return await call(attempt)
    } catch (error) {
      if (!isTransientLedgerError(error) || attempt + 1 >= attempts) throw error
      const longest = policy.maxDelayMs ?? DEFAULT_RETRY_MAX_DELAY_MS
      const delayMs = Math.min(longest, Math.max(backoffDelay(attempt + 1, policy), retryAfterOf(error)))
      options.onRetry?.({ operation, attempt: attempt + 1, delayMs, error })
      await delay(delayMs, options.signal)
    }
  }
}
