import type { IncomingMessage, ServerResponse } from 'node:http'
import { AbortError } from '@tessera/core'
import type { z } from 'zod'
import { MAX_API_BODY_BYTES, MIN_API_UPLOAD_BYTES_PER_SECOND } from '../constants.js'
import { NodeError } from '../errors.js'

/*
 * Reading what a control API request carries: its body within a size and a deadline, JSON of an expected shape, a
 * query string; everything refused with a coded NodeError the server answers as the error's HTTP status.
 */

/** The length a request declares for its body, or undefined when it declares none (a chunked body). */
export function declaredLength(req: IncomingMessage): number | undefined {
  const header = req.headers['content-length']
  // Node refuses a request whose Content-Length is not digits, so this is a number.
  return header === undefined ? undefined : Number(header)
}

/**
 * Requests that sent `Expect: 100-continue`, with the reply that tells their client to send the body: written only
 * once the request passed every check made before its body is read (its caller, token, media type and length).
 */
const awaitingContinue = new WeakMap<IncomingMessage, ServerResponse>()

/** Holds `req`'s `100 Continue` until its body is about to be read (see {@link readBody}). */
export function continueOnRead(req: IncomingMessage, res: ServerResponse): void {
  awaitingContinue.set(req, res)
}

/**
 * A request's body, at most `max` bytes, arrived within `deadlineMs`: one that declares more is refused before any of
 * it is read, one that sends more once it has (`NODE__API_BODY_TOO_LARGE`), and one still arriving at the deadline
 * with `NODE__API_REQUEST_TIMEOUT`. A client that hangs up before it is sent rejects it with `AbortError`. A client
 * waiting on `100 Continue` is told to send the body only here, past the last check.
 */
export function readBody(req: IncomingMessage, max: number, deadlineMs: number): Promise<Buffer> {
  const tooLarge = (): NodeError =>
    new NodeError('NODE__API_BODY_TOO_LARGE', `request body exceeds ${max} bytes`, { max })
  if ((declaredLength(req) ?? 0) > max) return Promise.reject(tooLarge())
  awaitingContinue.get(req)?.writeContinue()
  awaitingContinue.delete(req)
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const settle = (error?: Error): void => {
      clearTimeout(deadline)
      req.off('data', onData).off('end', onEnd).off('error', onGone).off('close', onGone)
      // What still arrives is left unread: the reply closes the connection (see `send`).
      req.pause()
      if (error === undefined) resolve(Buffer.concat(chunks))
      else reject(error)
    }
    const onData = (chunk: Buffer): void => {
      size += chunk.byteLength
      if (size > max) settle(tooLarge())
      else chunks.push(chunk)
    }
    const onEnd = (): void => settle()
    const onGone = (): void => settle(new AbortError())
    const deadline = setTimeout(
      () =>
        settle(
          new NodeError('NODE__API_REQUEST_TIMEOUT', `the request body did not arrive within ${deadlineMs} ms`, {
            deadlineMs,
            received: size,
          }),
        ),
      deadlineMs,
    )
    req.on('data', onData).on('end', onEnd).on('error', onGone).on('close', onGone)
  })
}

/**
 * How long a blob upload of `bytes` may take to arrive: `bodyTimeoutMs`, and its length at
 * {@link MIN_API_UPLOAD_BYTES_PER_SECOND}.
 */
export function uploadDeadlineMs(bytes: number, bodyTimeoutMs: number): number {
  return bodyTimeoutMs + Math.ceil((bytes / MIN_API_UPLOAD_BYTES_PER_SECOND) * 1000)
}

function parseJson<T>(body: Buffer, schema: z.ZodType<T>): T {
  let value: unknown
  try {
    value = JSON.parse(body.toString('utf8'))
  } catch {
    throw new NodeError('NODE__API_MALFORMED_REQUEST', 'request body is not JSON', {})
  }
  return validate(value, schema, 'body')
}

/** The media type of the JSON bodies the API takes; a parameter (`; charset=utf-8`) may follow it. */
export const JSON_MEDIA_TYPE = 'application/json'

/**
 * A JSON request body checked against `schema`. One sent as another media type (a form, text) is refused unread: a
 * browser sends those cross-origin without asking first, and the API takes nothing a page may send unasked.
 */
export async function readJsonBody<T>(req: IncomingMessage, schema: z.ZodType<T>, deadlineMs: number): Promise<T> {
  const contentType = req.headers['content-type']
  if (contentType?.split(';', 1)[0]?.trim().toLowerCase() !== JSON_MEDIA_TYPE) {
    throw new NodeError(
      'NODE__API_UNSUPPORTED_MEDIA_TYPE',
      `the request body must be sent as Content-Type: ${JSON_MEDIA_TYPE}${contentType !== undefined ? `, not ${contentType}` : ''}`,
      { contentType: contentType ?? null },
    )
  }
  return parseJson(await readBody(req, MAX_API_BODY_BYTES, deadlineMs), schema)
}

/** A query string's parameters checked against `schema`; a parameter given twice is refused, not guessed at. */
export function parseQuery<T>(params: URLSearchParams, schema: z.ZodType<T>): T {
  const query: Record<string, string> = {}
  for (const [key, value] of params) {
    if (Object.hasOwn(query, key)) {
      throw new NodeError('NODE__API_MALFORMED_REQUEST', `query parameter ${key} is given more than once`, { key })
    }
    query[key] = value
  }
  return validate(query, schema, 'query')
}

/** `value` checked against `schema`; `NODE__API_MALFORMED_REQUEST` naming the first bad field (or `what`). */
export function validate<T>(value: unknown, schema: z.ZodType<T>, what: string): T {
  const parsed = schema.safeParse(value)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new NodeError('NODE__API_MALFORMED_REQUEST', `${issue?.path.join('.') || what}: ${issue?.message}`, {})
  }
  return parsed.data
}
