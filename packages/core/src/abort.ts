import { AbortError } from './errors.js'

/** The message of `AbortSignal.timeout`'s own reason, which {@link withTimeout}'s repeats. */
const TIMEOUT_MESSAGE = 'The operation was aborted due to timeout'

/**
 * Abort helpers: every async public call takes `{ signal }` and rejects with Tessera's {@link AbortError}
 * (code `CORE__ABORTED`), whatever reason the signal carries.
 */

/** Throws an AbortError when `signal` has aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new AbortError()
}

/** Settles with `promise`, or rejects with an AbortError once `signal` aborts (the promise keeps running). */
export async function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise
  throwIfAborted(signal)
  let onAbort: (() => void) | undefined
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new AbortError())
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([promise, aborted])
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort)
  }
}

/**
 * A signal that aborts when `signal` does (with its reason) or after `ms`, whichever is first. The timeout's reason
 * is what `AbortSignal.timeout` gives, a `DOMException` named `TimeoutError`, so callers tell it from an abort alike.
 *
 * Not `AbortSignal.any([signal, AbortSignal.timeout(ms)])`: `any()` holds its sources weakly, and Node lets a
 * timeout signal that nothing else holds be garbage-collected before it fires (nodejs/node#57736, seen on Node 20),
 * which leaves the deadline silently gone. Here the timer itself holds the controller it aborts, and Node's timer
 * list holds the timer; it is unref'd, so it keeps no process alive, as `AbortSignal.timeout`'s does not.
 */
export function withTimeout(signal: AbortSignal | undefined, ms: number): AbortSignal {
  const timeout = new AbortController()
  setTimeout(() => timeout.abort(new DOMException(TIMEOUT_MESSAGE, 'TimeoutError')), ms).unref()
  return signal === undefined ? timeout.signal : AbortSignal.any([signal, timeout.signal])
}

/** Resolves after `ms`, or rejects with an AbortError when `signal` aborts first. */
export async function delay(ms: number, signal?: AbortSignal): Promise<void> {
  throwIfAborted(signal)
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(new AbortError())
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
