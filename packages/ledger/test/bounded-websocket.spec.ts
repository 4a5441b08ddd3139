import type { AddressInfo } from 'node:net'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { WebSocketServer, type WebSocket } from 'ws'
import { LedgerError, isLedgerError } from '../src/errors.js'
import {
  boundedRpcSubscriptions,
  createBoundedWebSocketChannel,
  readSubscriptionMessage,
  type BoundedWebSocketChannelOptions,
} from '../src/transport/bounded-websocket.js'

const MAX = 64 * 1024
/** A channel's messages as the text they came as. */
const asText = (text: string): string => text

/** A WebSocket server that answers a message `n` with `n` bytes, and records close codes. */
async function startServer(
  options: { deflate?: boolean } = {},
): Promise<{ url: string; closeCodes: number[]; close(): Promise<void> }> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: options.deflate ?? false })
  await new Promise<void>((resolve) => server.once('listening', resolve))
  const closeCodes: number[] = []
  server.on('connection', (socket: WebSocket) => {
    socket.on('message', (data) => socket.send('x'.repeat(Number(String(data)))))
    socket.on('close', (code) => closeCodes.push(code))
  })
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`,
    closeCodes,
    close: () => {
      for (const client of server.clients) client.terminate()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

describe('createBoundedWebSocketChannel', () => {
  let server: Awaited<ReturnType<typeof startServer>>
  let controller: AbortController

  /** A channel to the test's server, bounded at MAX and reading text, with `options` in place of those. */
  const open = (options: Partial<BoundedWebSocketChannelOptions<string>> = {}) =>
    createBoundedWebSocketChannel({
      url: server.url,
      signal: controller.signal,
      maxMessageBytes: MAX,
      read: asText,
      ...options,
    })

  beforeEach(async () => {
    server = await startServer()
    controller = new AbortController()
  })

  afterEach(async () => {
    controller.abort()
    await server.close()
  })

  it('should deliver a message as large as the bound', async () => {
    const channel = await open()
    const received = new Promise<string>((resolve) => channel.on('message', resolve))
    await channel.send(String(MAX))
    expect((await received).length).toBe(MAX)
  })

  it('should close on a message past the bound with a coded cause, delivering none of it', async () => {
    const channel = await open()
    const messages: string[] = []
    channel.on('message', (message) => messages.push(message))
    const failed = new Promise<unknown>((resolve) => channel.on('error', resolve))
    await channel.send(String(MAX + 1))
    const error = (await failed) as Error
    expect(isLedgerError(error.cause, 'LEDGER__RPC_REPLY_TOO_LARGE')).toBe(true)
    expect(messages).toEqual([])
    await vi.waitFor(() => expect(server.closeCodes).toEqual([1009]))
    await expect(channel.send('1')).rejects.toThrow()
  })

  it('should close on a compressed message that inflates past the bound', async () => {
    const deflating = await startServer({ deflate: true })
    const channel = await open({ url: deflating.url })
    const failed = new Promise<unknown>((resolve) => channel.on('error', resolve))
    // Ten times the bound of one repeated byte deflates to well under the bound.
    await channel.send(String(10 * MAX))
    expect(isLedgerError(((await failed) as Error).cause, 'LEDGER__RPC_REPLY_TOO_LARGE')).toBe(true)
    await deflating.close()
  })

  it('should close with the refusal as cause, throwing nothing, when a message cannot be read', async () => {
    const refusal = new LedgerError('LEDGER__RPC_MALFORMED_REPLY', 'not JSON')
    const channel = await open({
      read: (): string => {
        throw refusal
      },
    })
    const messages: string[] = []
    channel.on('message', (message) => messages.push(message))
    const failed = new Promise<unknown>((resolve) => channel.on('error', resolve))
    await channel.send('10')
    expect(((await failed) as Error).cause).toBe(refusal)
    expect(messages).toEqual([])
    await vi.waitFor(() => expect(server.closeCodes).toEqual([1007]))
  })

  it('should close with a coded cause, throwing nothing, when a subscriber throws on a message', async () => {
    const channel = await open()
    channel.on('message', () => {
      throw new TypeError("Cannot use 'in' operator")
    })
    const failed = new Promise<unknown>((resolve) => channel.on('error', resolve))
    await channel.send('10')
    expect(isLedgerError(((await failed) as Error).cause, 'LEDGER__RPC_MALFORMED_REPLY')).toBe(true)
    await vi.waitFor(() => expect(server.closeCodes).toEqual([1007]))
  })

  it('should close normally, with no error, when its signal aborts', async () => {
    const channel = await open()
    const errors: unknown[] = []
    channel.on('error', (e) => errors.push(e))
    controller.abort()
    await vi.waitFor(() => expect(server.closeCodes).toEqual([1000]))
    expect(errors).toEqual([])
  })

  it('should reject the open with the reason of a signal that aborts first', async () => {
    await expect(
      createBoundedWebSocketChannel({
        url: server.url,
        signal: AbortSignal.abort(),
        maxMessageBytes: MAX,
        read: asText,
      }),
    ).rejects.toMatchObject({ name: 'AbortError' })
  })

  it('should reject the open when nothing listens at the address', async () => {
    await server.close()
    await expect(open()).rejects.toThrow()
  })
})

describe('boundedRpcSubscriptions', () => {
  it('should refuse an endpoint that is not ws: or wss: with LEDGER__INVALID_INPUT', () => {
    expect(() => boundedRpcSubscriptions('http://127.0.0.1:8900', { bytes: MAX, numbers: 256 })).toThrow(
      expect.objectContaining({ code: 'LEDGER__INVALID_INPUT' }),
    )
  })
})

describe('readSubscriptionMessage', () => {
  const bound = { bytes: MAX, numbers: 16 }

  it('should read a notification and a reply, integers as bigints', () => {
    const notification =
      '{"jsonrpc":"2.0","method":"signatureNotification","params":{"result":{"value":{"err":null}},"subscription":7}}'
    expect(readSubscriptionMessage(notification, bound)).toMatchObject({ params: { subscription: 7n } })
    expect(readSubscriptionMessage('{"jsonrpc":"2.0","result":7,"id":"1"}', bound)).toMatchObject({ result: 7n })
  })

  const malformed: Array<[string, string]> = [
    ['text that is not JSON', '{"jsonrpc":"2.0","method":"signatureNotification","params":{'],
    ['nesting past any reply', '['.repeat(100) + ']'.repeat(100)],
    ['a number', '5'],
    ['null', 'null'],
    ['an array', '[{"id":"1"}]'],
    ['a method without params', '{"jsonrpc":"2.0","method":"signatureNotification"}'],
    ['a method that is not a name', '{"method":5,"params":{"result":null,"subscription":1}}'],
  ]
  for (const [what, text] of malformed) {
    it(`should refuse ${what} as LEDGER__RPC_MALFORMED_REPLY`, () => {
      expect(() => readSubscriptionMessage(text, bound)).toThrow(
        expect.objectContaining({ code: 'LEDGER__RPC_MALFORMED_REPLY' }),
      )
    })
  }

  it('should refuse a message with more numbers than its bound, before parsing it, as LEDGER__RPC_REPLY_TOO_LARGE', () => {
    const text = `{"jsonrpc":"2.0","method":"x","params":{"result":[${Array(17).fill(0).join(',')}],"subscription":1}}`
    expect(() => readSubscriptionMessage(text, bound)).toThrow(
      expect.objectContaining({ code: 'LEDGER__RPC_REPLY_TOO_LARGE' }),
    )
  })
})
