import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { address } from '@solana/kit'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { isLedgerError } from '../src/errors.js'
import { createRpcTransport } from '../src/transport/rpc-transport.js'

const SOMEONE = address('11111111111111111111111111111111')

/** One JSON-RPC request as the scripted endpoint read it. */
interface Request {
  id: unknown
  method: string
  params: unknown[]
}

/** An HTTP endpoint that answers each request as `answer` says; `close` also drops requests it never answered. */
async function scriptedEndpoint(
  answer: (request: Request, res: ServerResponse, req: IncomingMessage) => void,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => (body += String(chunk)))
    req.on('end', () => answer(JSON.parse(body) as Request, res, req))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** Settles with `promise`'s outcome, or with 'pending' once `ms` of real time has passed. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | 'pending'> {
  return Promise.race([promise, new Promise<'pending'>((resolve) => setTimeout(() => resolve('pending'), ms))])
}

describe('RpcTransport deadlines', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('should keep its request deadline on a timer of its own, which no garbage collection can take away', async () => {
    const endpoint = await scriptedEndpoint(() => {})
    // Fake timers reach only a deadline a timer keeps (see withTimeout): AbortSignal.timeout's is out of their reach.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const transport = createRpcTransport({ url: endpoint.url, requestTimeoutMs: 60_000, retry: { attempts: 1 } })
    const call = transport.getBalance(SOMEONE).catch((e: unknown) => e)
    await vi.advanceTimersByTimeAsync(60_000)
    vi.useRealTimers()
    expect(isLedgerError(await within(call, 5_000), 'LEDGER__RPC_TIMEOUT')).toBe(true)
    await transport.close()
    await endpoint.close()
  })
})
