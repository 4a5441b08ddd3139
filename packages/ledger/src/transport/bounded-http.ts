import { SOLANA_ERROR__RPC__TRANSPORT_HTTP_ERROR, SolanaError, type RpcTransport } from '@solana/kit'
import { stringifyJsonWithBigInts } from '@solana/rpc-spec-types'
import { RPC_REPLY_BOUNDS, SMALL_RPC_REPLY_BOUND, type RpcReplyBound } from '../constants.js'
import { LedgerError } from '../errors.js'
import { parseBoundedJson } from './bounded-json.js'

/** The bound on a reply to `method`: its own in {@link RPC_REPLY_BOUNDS}, else {@link SMALL_RPC_REPLY_BOUND}. */
export function rpcReplyBound(method: string): RpcReplyBound {
  return Object.hasOwn(RPC_REPLY_BOUNDS, method) ? RPC_REPLY_BOUNDS[method]! : SMALL_RPC_REPLY_BOUND
}

/**
 * JSON-RPC over HTTP, as `@solana/kit`'s default transport does it (POST, JSON with bigints, the same HTTP error),
 * but reading a reply only as far as its method's bound ({@link rpcReplyBound}): kit's reads a body whole, so an
 * endpoint (hostile, or a proxy gone wrong) could stream hundreds of megabytes into the node's memory before the
 * request's timeout, and parses every integer in it at a cost. The byte bound applies to the decoded body, so a
 * compressed reply cannot inflate past it either. Past it, or past its numbers, `LEDGER__RPC_REPLY_TOO_LARGE`, not
 * asked again; a body that is not JSON kit reads, or that nests too deep, is `LEDGER__RPC_MALFORMED_REPLY` (see
 * {@link parseBoundedJson}).
 */
export function boundedHttpTransport(url: string): RpcTransport {
  return (async ({ payload, signal }) => {
    const method = String((payload as { method?: unknown }).method)
    let response: Response
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { accept: 'application/json', 'content-type': 'application/json; charset=utf-8' },
        body: stringifyJsonWithBigInts(payload),
        signal,
      })
    } catch (e) {
      throw unreachable(e, method, signal)
    }
    if (!response.ok) {
      // Its body is not read: released now rather than held until it is collected.
      await response.body?.cancel().catch(() => {})
      throw new SolanaError(SOLANA_ERROR__RPC__TRANSPORT_HTTP_ERROR, {
        headers: response.headers,
        message: response.statusText,
        statusCode: response.status,
      })
    }
    const bound = rpcReplyBound(method)
    return parseBoundedJson(await readBounded(response, bound.bytes, method, signal), bound, method)
  }) as RpcTransport
}

/** A reply's body as text, refused once it passes `max` bytes. */
async function readBounded(
  response: Response,
  max: number,
  method: string,
  signal: AbortSignal | undefined,
): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN)
  const tooLarge = (bytes: number) =>
    new LedgerError('LEDGER__RPC_REPLY_TOO_LARGE', `the reply to ${method} passes ${max} bytes`, {
      method,
      bytes,
      max,
    })
  if (declared > max) {
    await response.body?.cancel()
    throw tooLarge(declared)
  }
  if (response.body === null) return ''
  const reader = response.body.getReader()
  const read = () => reader.read().catch((e: unknown) => Promise.reject(unreachable(e, method, signal)))
  const chunks: Uint8Array[] = []
  let total = 0
  for (let next = await read(); next.done !== true; next = await read()) {
    total += next.value.byteLength
    if (total > max) {
      await reader.cancel()
      throw tooLarge(total)
    }
    chunks.push(next.value)
  }
  return Buffer.concat(chunks, total).toString('utf8')
}

/**
 * What `fetch` threw, or its body's reader, as the endpoint being out of reach (`LEDGER__RPC_UNAVAILABLE`, retried):
 * refused, reset, cut off mid-body. Once the request's signal has aborted it is the abort's reason, left as it is
 * for the caller to tell a timeout from an abort. Only here does a `TypeError` mean the endpoint: anywhere else it is
 * a reply's (or a bug's), and no reason to ask again.
 */
function unreachable(e: unknown, method: string, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted === true) return e
  const message = e instanceof Error ? e.message : String(e)
  return new LedgerError(
    'LEDGER__RPC_UNAVAILABLE',
    `${method} could not reach the endpoint: ${message}`,
    { method },
    {
      cause: e,
    },
  )
}
