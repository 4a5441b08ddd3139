import { TypedEventEmitter, type EventHandler } from '@libp2p/interface'

/** An event listener as `EventTarget` takes one: a function, or an object with `handleEvent`. */
export type GuardableListener = ((event: never) => unknown) | { handleEvent(event: never): unknown }

/** Told of a listener that threw (or whose promise rejected) on `event`. */
export type ListenerErrorHandler = (error: unknown, event: Event) => void

/**
 * Wraps event listeners so that one that throws, or returns a promise that rejects, is handed to `onError` instead.
 * Node's `EventTarget` rethrows a listener's error on the next tick, and a rejected promise nobody handles is as
 * fatal: an uncaught error that ends the process. A bug in an embedder's listener must not take the node down.
 *
 * A listener always gets the same wrapper, so adding it twice is still one listener, and removing it removes its
 * wrapper: an `EventTarget` registers {@link wrap}'s answer and removes {@link registered}'s.
 */
export class ListenerGuard {
  readonly #wrappers = new WeakMap<object, (event: Event) => void>()
  readonly #onError: ListenerErrorHandler

  constructor(onError: ListenerErrorHandler) {
    this.#onError = onError
  }

  /** The wrapper to register in place of `listener` (typed as it is: it takes the same events). */
  wrap<L extends GuardableListener | null | undefined>(listener: L): L
  wrap(listener: GuardableListener | null | undefined): GuardableListener | null | undefined {
    if (listener === null || listener === undefined) return listener
    let wrapper = this.#wrappers.get(listener)
    if (wrapper === undefined) {
      wrapper = (event) => this.#call(listener, event)
      this.#wrappers.set(listener, wrapper)
    }
    return wrapper
  }

  /** What was registered for `listener`: its wrapper, or `listener` itself when it was never wrapped. */
  registered<L extends GuardableListener | null | undefined>(listener: L): L
  registered(listener: GuardableListener | null | undefined): GuardableListener | null | undefined {
    if (listener === null || listener === undefined) return listener
    return this.#wrappers.get(listener) ?? listener
  }

  #call(listener: GuardableListener, event: Event): void {
    const report = (error: unknown): void => {
      try {
        this.#onError(error, event)
      } catch {
        // The report of an error must not raise another: there is nobody left to tell.
      }
    }
    try {
      const result: unknown =
        typeof listener === 'function'
          ? (listener as (event: Event) => unknown).call(event.currentTarget, event)
          : (listener as { handleEvent(event: Event): unknown }).handleEvent(event)
      if (isPromiseLike(result)) result.then(undefined, report)
    } catch (error) {
      report(error)
    }
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function'
}

/**
 * A typed event emitter whose listeners are guarded (see {@link ListenerGuard}): one that throws or rejects is handed
 * to `onError`, and the emitter carries on. For the event targets an embedder listens to: a node, its capacity view.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- TypedEventEmitter's own bound: event maps are interfaces
export class GuardedEventEmitter<Events extends Record<string, any>> extends TypedEventEmitter<Events> {
  readonly #listeners: ListenerGuard

  constructor(onError: ListenerErrorHandler) {
    super()
    this.#listeners = new ListenerGuard(onError)
  }

  /** Adds a listener; one that throws is caught and handed to the emitter's error handler. */
  override addEventListener<K extends keyof Events>(
    type: K,
    listener: EventHandler<Events[K]> | null,
    options?: Parameters<EventTarget['addEventListener']>[2],
  ): void {
    super.addEventListener(type, this.#listeners.wrap(listener), options)
  }

  override removeEventListener<K extends keyof Events>(
    type: K,
    listener?: EventHandler<Events[K]> | null,
    options?: Parameters<EventTarget['removeEventListener']>[2],
  ): void {
    super.removeEventListener(type, this.#listeners.registered(listener), options)
  }
}
