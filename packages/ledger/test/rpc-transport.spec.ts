import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { getTransferSolInstruction } from '@solana-program/system'
import {
  address,
  generateKeyPairSigner,
  getSignatureFromTransaction,
  type Blockhash,
  type Commitment,
  type Transaction,
} from '@solana/kit'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { RPC_REPLY_BOUNDS, SMALL_RPC_REPLY_BOUND } from '../src/constants.js'
import { isLedgerError } from '../src/errors.js'
import { buildTransaction } from '../src/transaction.js'
import { createRpcTransport } from '../src/transport/rpc-transport.js'
import { reachedCommitment, type SignatureStatus } from '../src/transport/transport.js'

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

/** A JSON-RPC reply carrying `result`, as text (`result` is written into it as it is). */
function replyText(id: unknown, result: string): string {
  return `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${result}}`
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

describe('RpcTransport reply bounds', () => {
  it("should refuse a reply with more numbers than its method's, before parsing it, and not ask again", async () => {
    let requests = 0
    // Well under its method's bytes: 300 numbers take 600 of them, and kit's parser a bigint each.
    const zeros = Array.from({ length: SMALL_RPC_REPLY_BOUND.numbers + 44 }, () => '0').join(',')
    const endpoint = await scriptedEndpoint((request, res) => {
      requests++
      res.end(replyText(request.id, `{"context":{"slot":1},"value":[${zeros}]}`))
    })
    const transport = createRpcTransport({ url: endpoint.url, retry: { attempts: 3, baseDelayMs: 1 } })
    const error = await transport.getBalance(SOMEONE).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'LEDGER__RPC_REPLY_TOO_LARGE', context: { method: 'getBalance' } })
    expect(requests).toBe(1)
    await transport.close()
    await endpoint.close()
  })

  it("should refuse a reply past its method's bytes, before reading the rest, and not ask again", async () => {
    let requests = 0
    const padding = ' '.repeat(SMALL_RPC_REPLY_BOUND.bytes)
    const endpoint = await scriptedEndpoint((request, res) => {
      requests++
      res.end(replyText(request.id, `{"context":{"slot":1},"value":7}${padding}`))
    })
    const transport = createRpcTransport({ url: endpoint.url, retry: { attempts: 3, baseDelayMs: 1 } })
    const error = await transport.getBalance(SOMEONE).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'LEDGER__RPC_REPLY_TOO_LARGE', context: { max: SMALL_RPC_REPLY_BOUND.bytes } })
    expect(requests).toBe(1)
    await transport.close()
    await endpoint.close()
  })

  it('should read a reply as large as its own method allows, past what a small one may be', async () => {
    const padding = ' '.repeat(RPC_REPLY_BOUNDS.getAccountInfo!.bytes - 1_024)
    const endpoint = await scriptedEndpoint((request, res) => {
      res.end(replyText(request.id, `{"context":{"slot":1},"value":null}${padding}`))
    })
    const transport = createRpcTransport({ url: endpoint.url, retry: { attempts: 1 } })
    expect(await transport.getAccount(SOMEONE)).toBeNull()
    await transport.close()
    await endpoint.close()
  })
})

describe('reachedCommitment', () => {
  const status = (confirmationStatus: Commitment | null): SignatureStatus => ({
    slot: 1n,
    err: null,
    confirmationStatus,
  })

  it('should rank processed below confirmed below finalized', () => {
    expect(reachedCommitment(status('confirmed'), 'confirmed')).toBe(true)
    expect(reachedCommitment(status('finalized'), 'confirmed')).toBe(true)
    expect(reachedCommitment(status('processed'), 'confirmed')).toBe(false)
    expect(reachedCommitment(status('confirmed'), 'finalized')).toBe(false)
    expect(reachedCommitment(status('processed'), 'processed')).toBe(true)
  })

  it('should hold that a status naming no commitment, or none at all, has reached none', () => {
    expect(reachedCommitment(status(null), 'processed')).toBe(false)
    expect(reachedCommitment(null, 'processed')).toBe(false)
  })
})

describe('RpcTransport replies', () => {
  it('should wait before asking again as long as a busy endpoint asks in Retry-After', async () => {
    const asked: number[] = []
    const endpoint = await scriptedEndpoint((request, res) => {
      asked.push(Date.now())
      if (asked.length === 1) res.writeHead(429, { 'retry-after': '1' }).end()
      else res.end(replyText(request.id, '{"context":{"slot":1},"value":42}'))
    })
    const delays: number[] = []
    const transport = createRpcTransport({
      url: endpoint.url,
      retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 5_000 },
      onRetry: (event) => delays.push(event.delayMs),
    })
    expect(await transport.getBalance(SOMEONE)).toBe(42n)
    expect(delays).toEqual([1_000])
    expect(asked[1]! - asked[0]!).toBeGreaterThanOrEqual(900)
    await transport.close()
    await endpoint.close()
  })

  it('should refuse a reply that echoes the id of another request, and ask again', async () => {
    let requests = 0
    const endpoint = await scriptedEndpoint((_request, res) => {
      requests++
      res.end(replyText('someone-else', '{"context":{"slot":1},"value":42}'))
    })
    const transport = createRpcTransport({ url: endpoint.url, retry: { attempts: 2, baseDelayMs: 1 } })
    const error = await transport.getBalance(SOMEONE).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'LEDGER__RPC_MALFORMED_REPLY', context: { replyId: 'someone-else' } })
    expect(requests).toBe(2)
    await transport.close()
    await endpoint.close()
  })
})

describe('RpcTransport preflight failures', () => {
  /** A transfer signed on a blockhash no chain knows: only the scripted endpoint ever sees it. */
  async function transfer(): Promise<Transaction> {
    const [payer, payee] = [await generateKeyPairSigner(), await generateKeyPairSigner()]
    return buildTransaction({
      feePayer: payer,
      instructions: [getTransferSolInstruction({ source: payer, destination: payee.address, amount: 1n })],
      lifetime: { blockhash: { blockhash: SOMEONE as string as Blockhash, lastValidBlockHeight: 100n } },
    })
  }

  /** What sending a transfer gives when every send is refused in preflight with `err`, and how many were sent. */
  async function refusedWith(err: unknown): Promise<{ error: unknown; sends: number }> {
    let sends = 0
    const endpoint = await scriptedEndpoint((request, res) => {
      sends++
      const data = { err, logs: ['Program log: refused', 7] }
      res.end(JSON.stringify({ jsonrpc: '2.0', id: request.id, error: { code: -32002, message: 'failed', data } }))
    })
    const transport = createRpcTransport({ url: endpoint.url, retry: { attempts: 2, baseDelayMs: 1 } })
    const error = await transport.sendAndConfirm(await transfer()).catch((e: unknown) => e)
    await transport.close()
    await endpoint.close()
    return { error, sends }
  }

  const odd: Array<[string, unknown]> = [
    ['null', null],
    ['a number', 7],
    ['a boolean', true],
    ['an array', []],
    ['an object of no variant', {}],
    ['an object of two variants', { AccountInUse: null, AccountNotFound: null }],
    ['a sentence', 'the transaction was bad'],
    ['a name longer than any variant', 'X'.repeat(200)],
    ['an InstructionError without its index', { InstructionError: 'InvalidArgument' }],
    ['an InstructionError without its error', { InstructionError: [0] }],
  ]
  for (const [what, err] of odd) {
    it(`should refuse an error that is ${what} as a malformed reply, not a refusal, and send again`, async () => {
      const { error, sends } = await refusedWith(err)
      expect(error).toMatchObject({ code: 'LEDGER__RPC_MALFORMED_REPLY', context: { method: 'sendTransaction' } })
      expect(sends).toBe(2)
    })
  }

  it("should read Solana's error as a refusal, with the logs that are text, and not send again", async () => {
    const { error, sends } = await refusedWith({ InstructionError: [0, 'InvalidArgument'] })
    expect(error).toMatchObject({
      code: 'LEDGER__TRANSACTION_REJECTED',
      context: { executed: false, instruction: 0, logs: ['Program log: refused'] },
    })
    expect(sends).toBe(1)
  })

  it('should refuse a status whose error is an object of no variant as malformed, as a preflight failure', async () => {
    const endpoint = await scriptedEndpoint((request, res) => {
      const status = { slot: 1, confirmations: null, err: {}, confirmationStatus: 'finalized' }
      res.end(replyText(request.id, JSON.stringify({ context: { slot: 1 }, value: [status] })))
    })
    const transport = createRpcTransport({ url: endpoint.url, retry: { attempts: 1 } })
    const signature = getSignatureFromTransaction(await transfer())
    await expect(transport.getSignatureStatus(signature)).rejects.toMatchObject({
      code: 'LEDGER__RPC_MALFORMED_REPLY',
      context: { method: 'getSignatureStatuses', path: ['value', '0', 'err'] },
    })
    await transport.close()
    await endpoint.close()
  })

  it('should report an endpoint nothing listens at as unavailable, and try again', async () => {
    const endpoint = await scriptedEndpoint(() => {})
    await endpoint.close()
    const retried: string[] = []
    const transport = createRpcTransport({
      url: endpoint.url,
      retry: { attempts: 2, baseDelayMs: 1 },
      onRetry: (event) => retried.push((event.error as { code: string }).code),
    })
    await expect(transport.getBalance(SOMEONE)).rejects.toMatchObject({ code: 'LEDGER__RPC_UNAVAILABLE' })
    expect(retried).toEqual(['LEDGER__RPC_UNAVAILABLE'])
    await transport.close()
  })
})
