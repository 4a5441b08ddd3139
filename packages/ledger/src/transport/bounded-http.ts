import { SOLANA_ERROR__RPC__TRANSPORT_HTTP_ERROR, SolanaError, type RpcTransport } from '@solana/kit'
import { parseJsonWithBigInts, stringifyJsonWithBigInts } from '@solana/rpc-spec-types'
import { MAX_RPC_REPLY_DEPTH } from '../constants.js'
import { LedgerError } from '../errors.js'
import { nestsWithin } from './json-depth.js'

/**
 * JSON-RPC over HTTP, as `@solana/kit`'s default transport does it (POST, JSON with bigints, the same HTTP error),
 * but reading at most `maxReplyBytes` of a reply: kit's reads a body whole, so an endpoint (hostile, or a proxy gone
 * wrong) could stream hundreds of megabytes into the node's memory before the request's timeout. The bound applies
 * to the decoded body, so a compressed reply cannot inflate past it either. Past it, and for a body that is not JSON
 * kit reads or that nests past {@link MAX_RPC_REPLY_DEPTH}: `LEDGER__RPC_MALFORMED_REPLY`.
 */
export function boundedHttpTransport(url: string, maxReplyBytes: number): RpcTransport {
  return (async ({ payload, signal }) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json; charset=utf-8' },
      body: stringifyJsonWithBigInts(payload),
      signal,
    })
    if (!response.ok) {
      throw new SolanaError(SOLANA_ERROR__RPC__TRANSPORT_HTTP_ERROR, {
        headers: response.headers,
        message: response.statusText,
        statusCode: response.status,
      })
    }
    return parseReplyBody(await readBounded(response, maxReplyBytes, payload), payload)
  }) as RpcTransport
}

/**
 * A reply's body parsed as kit parses it (integers as bigints). Whatever kit's parser throws is the reply's fault,
 * not the endpoint's reachability: invalid JSON, a number no bigint holds (`1e999999`), or nesting deep enough to
 * overflow its reviver's stack.
 */
function parseReplyBody(body: string, payload: unknown): unknown {
  const method = String((payload as { method?: unknown }).method)
  let reply: unknown
  try {
    reply = parseJsonWithBigInts(body)
  } catch (cause) {
    throw new LedgerError(
      'LEDGER__RPC_MALFORMED_REPLY',
      `the reply to ${method} is not JSON that can be read: ${String(cause)}`,
      { method },
      { cause },
    )
  }
  if (!nestsWithin(reply, MAX_RPC_REPLY_DEPTH)) {
    throw new LedgerError(
      'LEDGER__RPC_MALFORMED_REPLY',
      `the reply to ${method} nests deeper than ${MAX_RPC_REPLY_DEPTH} levels`,
      { method, max: MAX_RPC_REPLY_DEPTH },
    )
  }
  return reply
}

/** A reply's body as text, refused once it passes `max` bytes. */
async function readBounded(response: Response, max: number, payload: unknown): Promise<string> {
  const method = (payload as { method?: unknown }).method
  const declared = Number(response.headers.get('content-length') ?? Number.NaN)
  const tooLarge = (bytes: number) =>
    new LedgerError('LEDGER__RPC_MALFORMED_REPLY', `the reply to ${String(method)} passes ${max} bytes`, {
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
  const chunks: Uint8Array[] = []
  let total = 0
  for (let next = await reader.read(); next.done !== true; next = await reader.read()) {
    total += next.value.byteLength
    if (total > max) {
      await reader.cancel()
      throw tooLarge(total)
    }
    chunks.push(next.value)
  }
  return Buffer.concat(chunks, total).toString('utf8')
}
