import type { Stream, StreamCloseEvent } from '@libp2p/interface'
import * as lp from 'it-length-prefixed'
import { pipe } from 'it-pipe'
import type { Uint8ArrayList } from 'uint8arraylist'
import type { AbortOptions } from '../bus.js'
import { throwIfAborted } from '../abort.js'
import { AbortError, CoreError } from '../errors.js'

/**
 * Small adapters between libp2p 3 streams (async-iterable, written with `send` and back-pressured by `drain`) and
 * it-pipe pipelines of length-prefixed frames.
 */

/**
 * A sink that writes every chunk to the stream, waiting for it to drain when its buffer is full, then closes it. Give
 * it a signal that aborts with the stream (an idle watchdog's): closing waits for the stream to drain, and a stream
 * aborted meanwhile never does.
 */
export function streamSink(stream: Stream, options: AbortOptions = {}) {
  return async (source: AsyncIterable<Uint8Array | Uint8ArrayList> | Iterable<Uint8Array | Uint8ArrayList>) => {
    for await (const chunk of source) {
      throwIfAborted(options.signal)
      if (!stream.send(chunk)) await drained(stream, options)
    }
    await stream.close(options)
  }
}

/**
 * Waits until `stream` takes data again after `send` said its buffer is full: rejects when the stream closes first
 * (`CORE__PEER_UNREACHABLE`) or `signal` aborts. Not `stream.onDrain()`: @libp2p/utils 7.4.1 keeps the promise it
 * first resolved and hands it out ever after, so every later wait ended at once and a reader that stopped reading had
 * all we wrote buffered for it (a whole blob). A drain resumes sending, which may fill the buffer again: hence the loop.
 */
export async function drained(stream: Stream, options: AbortOptions = {}): Promise<void> {
  while (stream.writableNeedsDrain) {
    throwIfAborted(options.signal)
    if (stream.writeStatus === 'closed') throw streamClosed(undefined)
    await nextDrain(stream, options.signal)
  }
}

/** The stream's next `drain` event; rejects at its `close` event or when `signal` aborts. */
function nextDrain(stream: Stream, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const settle = (outcome: () => void): void => {
      stream.removeEventListener('drain', onDrain)
      stream.removeEventListener('close', onClose)
      signal?.removeEventListener('abort', onAbort)
      outcome()
    }
    const onDrain = (): void => settle(resolve)
    const onClose = (event: StreamCloseEvent): void => settle(() => reject(streamClosed(event.error)))
    const onAbort = (): void => settle(() => reject(new AbortError()))
    stream.addEventListener('drain', onDrain)
    stream.addEventListener('close', onClose)
    signal?.addEventListener('abort', onAbort)
  })
}

function streamClosed(cause: Error | undefined): CoreError {
  return new CoreError('CORE__PEER_UNREACHABLE', 'the stream closed while data waited to be sent', {}, { cause })
}

/** Writes frames, each length-prefixed, then closes the stream for writing. */
export async function writeFrames(
  stream: Stream,
  frames: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: AbortOptions = {},
): Promise<void> {
  await pipe(frames, (source) => lp.encode(source), streamSink(stream, options))
}

/**
 * Writes frames of at most `maxFrameBytes` (the bound the receiver reads them with) without closing the stream (a
 * reply follows on the same stream). Not it-length-prefixed's own bound, 4 MiB, which refused the larger direct
 * envelopes the receiver takes.
 */
export async function sendFrames(
  stream: Stream,
  frames: Iterable<Uint8Array>,
  maxFrameBytes: number,
  options: AbortOptions = {},
): Promise<void> {
  for (const frame of lp.encode(frames, { maxDataLength: maxFrameBytes })) {
    throwIfAborted(options.signal)
    if (!stream.send(frame)) await drained(stream, options)
  }
}

/** What went wrong in a length-prefixed stream, from it-length-prefixed's error names; undefined for anything else. */
export function framingFault(e: unknown): 'too-long' | 'malformed' | undefined {
  switch ((e as Error | undefined)?.name) {
    case 'InvalidDataLengthError':
    case 'InvalidDataLengthLengthError':
      return 'too-long'
    case 'InvalidMessageLengthError':
    case 'UnexpectedEOFError':
      return 'malformed'
    default:
      return undefined
  }
}

/**
 * The stream's incoming data as length-prefixed frames of at most `maxFrameBytes`. A longer frame is
 * `CORE__MESSAGE_TOO_LARGE`, a broken prefix or a truncated frame `CORE__MALFORMED_MESSAGE`.
 */
export async function* readFrames(
  source: AsyncIterable<Uint8Array | Uint8ArrayList>,
  maxFrameBytes: number,
): AsyncGenerator<Uint8ArrayList> {
  try {
    yield* lp.decode(source, { maxDataLength: maxFrameBytes })
  } catch (e) {
    const fault = framingFault(e)
    if (fault === 'too-long') {
      throw new CoreError('CORE__MESSAGE_TOO_LARGE', `a frame exceeded ${maxFrameBytes} bytes`, { max: maxFrameBytes })
    }
    if (fault === 'malformed')
      throw new CoreError('CORE__MALFORMED_MESSAGE', 'a length-prefixed frame is malformed', {})
    throw e
  }
}

/**
 * The stream's data, each chunk first shown to `take` (which may throw to end the read): what a reader is about to
 * buffer, counted as it arrives rather than as a sender announces it.
 */
export async function* metered(
  source: AsyncIterable<Uint8Array | Uint8ArrayList>,
  take: (bytes: number) => void,
): AsyncGenerator<Uint8Array | Uint8ArrayList> {
  for await (const chunk of source) {
    take(chunk.byteLength)
    yield chunk
  }
}

/** Reads the next frame, or undefined when the stream ended first. */
export async function nextFrame(frames: AsyncIterator<Uint8ArrayList>): Promise<Uint8Array | undefined> {
  const next = await frames.next()
  return next.done === true ? undefined : next.value.subarray()
}

/** Aborts `stream` when `signal` fires; returns a function that stops watching. */
export function abortStreamOnSignal(stream: Stream, signal: AbortSignal | undefined): () => void {
  if (signal === undefined) return () => {}
  const onAbort = (): void => stream.abort(new AbortError())
  if (signal.aborted) onAbort()
  signal.addEventListener('abort', onAbort, { once: true })
  return () => signal.removeEventListener('abort', onAbort)
}
