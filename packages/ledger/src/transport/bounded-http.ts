import { SOLANA_ERROR__RPC__TRANSPORT_HTTP_ERROR, SolanaError, type RpcTransport } from '@solana/kit'
import { parseJsonWithBigInts, stringifyJsonWithBigInts } from '@solana/rpc-spec-types'
import { LedgerError } from '../errors.js'

/**
 * JSON-RPC over HTTP, as `@solana/kit`'s default transport does it (POST, JSON with bigints, the same HTTP error),
 * but reading at most `maxReplyBytes` of a reply: kit's reads a body whole, so an endpoint (hostile, or a proxy gone
 * wrong) could stream hundreds of megabytes into the node's memory before the request's timeout. The bound applies
 * to the decoded body, so a compressed reply cannot inflate past it either. Past it: `LEDGER__RPC_MALFORMED_REPLY`.
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
    return parseJsonWithBigInts(await readBounded(response, maxReplyBytes, payload))
  }) as RpcTransport
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
