import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  getBase58Decoder,
  getBase64Decoder,
  getBase64Encoder,
  getCompiledTransactionMessageDecoder,
  getCompiledTransactionMessageEncoder,
  getSignatureFromTransaction,
  getTransactionDecoder,
  getTransactionEncoder,
  lamports,
  type Address,
  type Transaction,
  type TransactionMessageBytes,
} from '@solana/kit'
import { getNonceDecoder } from '@solana-program/system'
import { FailedTransactionMetadata, LiteSVM } from 'litesvm'
import { WebSocketServer, type WebSocket } from 'ws'
import { durableNonceOf } from '../../src/nonce.js'
import { transactionErrorJsonFromLiteSvm } from '../../src/transport/transaction-error.js'
import type { TransactionErrorJson } from '../../src/transport/transport.js'

/**
 * A Solana JSON-RPC endpoint backed by LiteSVM, for tests: what `solana-test-validator` would be if one could be
 * installed here. It answers just the methods the RPC transport uses, with Solana's reply shapes (preflight
 * failures as error -32002 with `data.err`, statuses, base64 accounts and transactions, signature notifications
 * over WebSocket), and misbehaves on demand so tests can prove the transport's retries and error codes.
 */

/** Ways the endpoint can fail a request. */
export type RpcFault =
  /** HTTP 503, nothing done. */
  | 'http-503'
  /** A reply cut off mid-JSON. */
  | 'malformed-json'
  /** Valid JSON-RPC whose result is not the documented shape. */
  | 'wrong-shape'
  /** No reply until the client gives up (the request is not carried out). */
  | 'stall'
  /** The request is carried out (a transaction executes) but the reply is lost (HTTP 503). */
  | 'lose-reply'
  /** JSON-RPC error -32005 "node is behind". */
  | 'node-behind'
  /** `getSignatureStatuses` from a node that has not seen the transactions yet: every status null. */
  | 'unknown-status'
  /** `getSignatureStatuses` that lies: every known transaction failed. */
  | 'failed-status'
  /** A valid reply padded to 32 MiB, streamed with no length given. */
  | 'huge-reply'
  /** `getTransaction` from a node that kept the transaction but not its status: `meta: null`. */
  | 'null-meta'
  /** `getTransaction` with the real signatures over another message (a different blockhash): a forged record. */
  | 'forged-transaction'
  /** `getTransaction` whose transaction bytes are not a wire transaction. */
  | 'garbled-transaction'
  /** `signatureSubscribe` whose notification comes padded to 4 MiB in one WebSocket frame. */
  | 'huge-ws-frame'
  /** `signatureSubscribe` whose notification comes cut off mid-JSON. */
  | 'garbled-notification'
  /**
   * `sendTransaction` whose transaction is accepted (its signature returned) but never runs, and then its blockhash
   * expires: a leader dropped it while more than 150 blocks passed.
   */
  | 'dropped'
  /** `sendTransaction` whose transaction runs, and then more than 150 blocks pass before anyone asks about it. */
  | 'landed-then-expired'
  /** A reply with a number no parser reads (`1e999999`, a u64 past any bound). */
  | 'unreadable-number'
  /**
   * A reply whose result nests 6,000 levels deep, far past any reply's depth yet within a small reply's bytes (a
   * recursive reader's stack holds some thousands of levels, and a reply past the bytes is refused unread).
   */
  | 'deep-nesting'
  /** A valid reply with `"error": null` beside its result (JSON-RPC 1.0's habit). */
  | 'null-error'
  /**
   * A transaction error nested 12 levels deep, shallow enough to parse but no error Solana has: in every status of
   * `getSignatureStatuses`, or as the preflight failure of `sendTransaction` (which then does not run).
   */
  | 'nested-error'
  /** `getSignatureStatuses` from a node some slots behind that has not seen the transactions yet: every status null. */
  | 'lagging-status'

interface Executed {
  wire: string
  slot: bigint
  err: TransactionErrorJson | null
  logs: string[]
}

const MAX_BODY_BYTES = 64 * 1024
const STALL_MS = 5_000
const HUGE_WS_FRAME_BYTES = 4 * 1024 * 1024
/**
 * A validator notifies of a signature that has already landed at a later slot, not in the same read as its reply to
 * `signatureSubscribe`; kit listens for notifications only once it has read that reply, and would drop one that
 * came with it (so, sent at once, no notification here ever confirmed anything).
 */
const NOTIFICATION_DELAY_MS = 50
const API_VERSION = '2.2.0'
/** A blockhash is valid for 150 blocks after the one it names (Solana's MAX_PROCESSING_AGE). */
const BLOCKHASH_VALIDITY_BLOCKS = 150n
/** How far behind a `lagging-status` node is. */
const LAGGING_NODE_SLOTS = 32n
const DEEP_NESTING_LEVELS = 6_000
const NESTED_ERROR_LEVELS = 12
/** A well-formed blockhash no transaction was built on (32 zero bytes). */
const FORGED_BLOCKHASH = '11111111111111111111111111111111'

export class RpcDouble {
  readonly svm: LiteSVM
  /** Requests received, per method (after faults are counted). */
  readonly requests = new Map<string, number>()
  /** Close codes of the WebSocket connections closed so far (1009: the client refused a message too big). */
  readonly socketCloseCodes: number[] = []
  readonly #server: Server
  readonly #wss: WebSocketServer
  readonly #faults = new Map<string, RpcFault[]>()
  readonly #executed = new Map<string, Executed>()
  readonly #subscriptions = new Map<number, { socket: WebSocket; signature: string; fault?: RpcFault }>()
  readonly #stalled = new Set<ServerResponse>()
  #nextSubscription = 1

  private constructor(svm: LiteSVM) {
    this.svm = svm
    this.#server = createServer((req, res) => void this.#onRequest(req, res))
    this.#wss = new WebSocketServer({ server: this.#server })
    this.#wss.on('connection', (socket) => {
      socket.on('message', (data) => this.#onSocketMessage(socket, String(data)))
      socket.on('close', (code) => this.socketCloseCodes.push(code))
    })
  }

  static async start(options: { transactionHistory?: number } = {}): Promise<RpcDouble> {
    const double = new RpcDouble(new LiteSVM().withTransactionHistory(BigInt(options.transactionHistory ?? 100_000)))
    await new Promise<void>((resolve) => double.#server.listen(0, '127.0.0.1', resolve))
    return double
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${(this.#server.address() as AddressInfo).port}`
  }

  /** The next `times` requests of `method` fail with `fault`. */
  inject(method: string, fault: RpcFault, times = 1): void {
    const queue = this.#faults.get(method) ?? []
    for (let i = 0; i < times; i++) queue.push(fault)
    this.#faults.set(method, queue)
  }

  count(method: string): number {
    return this.requests.get(method) ?? 0
  }

  async close(): Promise<void> {
    for (const res of this.#stalled) res.destroy()
    for (const client of this.#wss.clients) client.terminate()
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()))
    this.#server.closeAllConnections()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  async #onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body = ''
    for await (const chunk of req) {
      body += String(chunk)
      if (body.length > MAX_BODY_BYTES) {
        res.writeHead(413).end()
        return
      }
    }
    let request: { id?: unknown; method?: unknown; params?: unknown }
    try {
      request = JSON.parse(body) as typeof request
    } catch {
      this.#reply(res, { jsonrpc: '2.0', error: { code: -32700, message: 'Parse error' }, id: null })
      return
    }
    const method = typeof request.method === 'string' ? request.method : ''
    const params = Array.isArray(request.params) ? (request.params as unknown[]) : []
    this.requests.set(method, this.count(method) + 1)
    const fault = this.#faults.get(method)?.shift()
    const id = request.id ?? null
    switch (fault) {
      case 'http-503':
        res.writeHead(503, 'Service Unavailable').end()
        return
      case 'malformed-json':
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","result":{"cont')
        return
      case 'wrong-shape':
        this.#reply(res, { jsonrpc: '2.0', result: { unexpected: [1, 2, 3] }, id })
        return
      case 'unreadable-number':
        this.#replyText(
          res,
          `{"jsonrpc":"2.0","result":{"context":{"slot":1e999999},"value":1e999999},"id":${stringify(id)}}`,
        )
        return
      case 'deep-nesting': {
        const value = '['.repeat(DEEP_NESTING_LEVELS) + '0' + ']'.repeat(DEEP_NESTING_LEVELS)
        this.#replyText(res, `{"jsonrpc":"2.0","result":{"context":{"slot":0},"value":${value}},"id":${stringify(id)}}`)
        return
      }
      case 'node-behind':
        this.#reply(res, { jsonrpc: '2.0', error: { code: -32005, message: 'Node is behind by 42 slots' }, id })
        return
      case 'huge-reply': {
        res.writeHead(200, { 'content-type': 'application/json' })
        const padding = ' '.repeat(1024 * 1024)
        for (let i = 0; i < 32 && !res.destroyed; i++) {
          if (!res.write(padding)) await new Promise((resolve) => res.once('drain', resolve).once('close', resolve))
        }
        res.end(stringify({ jsonrpc: '2.0', result: this.#dispatch(method, params), id }))
        return
      }
      case 'stall':
        this.#stalled.add(res)
        setTimeout(() => {
          this.#stalled.delete(res)
          if (!res.destroyed) res.writeHead(503).end()
        }, STALL_MS).unref()
        return
      default:
        break
    }
    let reply: object
    try {
      reply = { jsonrpc: '2.0', result: this.#dispatch(method, params, fault), id }
    } catch (e) {
      reply = { jsonrpc: '2.0', error: e instanceof RpcError ? e.toJSON() : { code: -32603, message: String(e) }, id }
    }
    if (fault === 'lose-reply') {
      res.writeHead(503, 'Service Unavailable').end()
      return
    }
    this.#reply(res, fault === 'null-error' && 'result' in reply ? { ...reply, error: null } : reply)
  }

  #reply(res: ServerResponse, value: unknown): void {
    this.#replyText(res, stringify(value))
  }

  #replyText(res: ServerResponse, body: string): void {
    res.writeHead(200, { 'content-type': 'application/json' }).end(body)
  }

  #context() {
    return { slot: this.svm.getClock().slot, apiVersion: API_VERSION }
  }

  #dispatch(method: string, params: unknown[], fault?: RpcFault): unknown {
    switch (method) {
      case 'getLatestBlockhash':
        return {
          context: this.#context(),
          value: {
            blockhash: this.svm.latestBlockhash(),
            lastValidBlockHeight: this.svm.getClock().slot + BLOCKHASH_VALIDITY_BLOCKS,
          },
        }
      case 'getEpochInfo': {
        // Every slot here has a block, so the block height is the slot.
        const slot = this.svm.getClock().slot
        return {
          absoluteSlot: slot,
          blockHeight: slot,
          epoch: 0n,
          slotIndex: slot,
          slotsInEpoch: 432_000n,
          transactionCount: null,
        }
      }
      case 'getBalance':
        return { context: this.#context(), value: this.svm.getBalance(params[0] as Address) ?? 0n }
      case 'getMinimumBalanceForRentExemption':
        return this.svm.minimumBalanceForRentExemption(BigInt(params[0] as number))
      case 'getAccountInfo':
        return { context: this.#context(), value: this.#account(params[0] as Address) }
      case 'getSignatureStatuses':
        if (fault === 'unknown-status')
          return { context: this.#context(), value: (params[0] as string[]).map(() => null) }
        if (fault === 'lagging-status') {
          const slot = this.svm.getClock().slot
          return {
            context: { ...this.#context(), slot: slot > LAGGING_NODE_SLOTS ? slot - LAGGING_NODE_SLOTS : 0n },
            value: (params[0] as string[]).map(() => null),
          }
        }
        if (fault === 'nested-error') {
          const nest = (s: string) => {
            const status = this.#status(s)
            return status === null ? null : { ...status, err: nestedError(), status: { Err: nestedError() } }
          }
          return { context: this.#context(), value: (params[0] as string[]).map(nest) }
        }
        if (fault === 'failed-status') {
          const err = { InstructionError: [0, 'InvalidAccountData'] }
          const lie = (s: string) => {
            const status = this.#status(s)
            return status === null ? null : { ...status, err, status: { Err: err } }
          }
          return { context: this.#context(), value: (params[0] as string[]).map(lie) }
        }
        return { context: this.#context(), value: (params[0] as string[]).map((s) => this.#status(s)) }
      case 'getTransaction':
        return this.#transaction(params[0] as string, fault)
      case 'sendTransaction': {
        if (fault === 'nested-error') throw preflightFailure(nestedError(), [])
        if (fault === 'dropped') {
          this.#passBlockhashLifetime()
          return getSignatureFromTransaction(
            getTransactionDecoder().decode(getBase64Encoder().encode(params[0] as string)),
          )
        }
        const signature = this.#send(params[0] as string)
        if (fault === 'landed-then-expired') this.#passBlockhashLifetime()
        return signature
      }
      case 'requestAirdrop': {
        const result = this.svm.airdrop(params[0] as Address, lamports(BigInt(params[1] as number)))
        if (result === null || result instanceof FailedTransactionMetadata) throw new RpcError(-32603, 'airdrop failed')
        const signature = getBase58Decoder().decode(result.signature())
        this.#executed.set(signature, { wire: '', slot: this.svm.getClock().slot, err: null, logs: [] })
        return signature
      }
      default:
        throw new RpcError(-32601, 'Method not found')
    }
  }

  #account(address: Address) {
    const account = this.svm.getAccount(address)
    if (!account.exists) return null
    return {
      data: [getBase64Decoder().decode(account.data), 'base64'],
      executable: account.executable,
      lamports: account.lamports,
      owner: account.programAddress,
      rentEpoch: 18446744073709551615n,
      space: account.space,
    }
  }

  #status(signature: string) {
    const executed = this.#executed.get(signature)
    if (executed === undefined) return null
    return {
      slot: executed.slot,
      confirmations: null,
      err: executed.err,
      status: executed.err === null ? { Ok: null } : { Err: executed.err },
      confirmationStatus: 'finalized',
    }
  }

  #transaction(signature: string, fault?: RpcFault) {
    const executed = this.#executed.get(signature)
    if (executed === undefined || executed.wire === '') return null
    if (fault === 'null-meta') {
      return { slot: executed.slot, blockTime: null, meta: null, transaction: [executed.wire, 'base64'], version: 0 }
    }
    const wire =
      fault === 'forged-transaction' ? forge(executed.wire) : fault === 'garbled-transaction' ? 'AQID' : executed.wire
    return {
      slot: executed.slot,
      blockTime: null,
      meta: {
        err: executed.err,
        status: executed.err === null ? { Ok: null } : { Err: executed.err },
        fee: 5000,
        preBalances: [],
        postBalances: [],
        innerInstructions: [],
        logMessages: executed.logs,
        preTokenBalances: [],
        postTokenBalances: [],
        rewards: [],
        loadedAddresses: { writable: [], readonly: [] },
        computeUnitsConsumed: 0,
      },
      transaction: [wire, 'base64'],
      version: 0,
    }
  }

  /** Preflight (status cache, then simulation) and execution, as a validator's sendTransaction does. */
  #send(wire: string): string {
    const transaction = getTransactionDecoder().decode(getBase64Encoder().encode(wire))
    const signature = getSignatureFromTransaction(transaction)
    this.#advanceBlockForNonce(transaction)
    // Agave checks a transaction's age (blockhash or nonce) before its status cache, then simulates it.
    const simulated = this.svm.simulateTransaction(transaction)
    const simulatedErr =
      simulated instanceof FailedTransactionMetadata ? transactionErrorJsonFromLiteSvm(simulated.err()) : null
    if (simulatedErr === 'BlockhashNotFound') throw preflightFailure(simulatedErr, [])
    if (this.#executed.has(signature)) throw preflightFailure('AlreadyProcessed', [])
    if (simulated instanceof FailedTransactionMetadata) {
      throw preflightFailure(simulatedErr ?? 'GenericError', simulated.meta().logs())
    }
    const result = this.svm.sendTransaction(transaction)
    const err = result instanceof FailedTransactionMetadata ? transactionErrorJsonFromLiteSvm(result.err()) : null
    const logs = result instanceof FailedTransactionMetadata ? result.meta().logs() : result.logs()
    this.#executed.set(signature, { wire, slot: this.svm.getClock().slot, err, logs })
    this.#notify(signature, err)
    return signature
  }

  /**
   * More blocks pass than a blockhash lives: LiteSVM's blockhash moves on (it accepts only its latest), and the slot,
   * which is the block height here, passes the last valid block height of every blockhash handed out so far.
   */
  #passBlockhashLifetime(): void {
    this.svm.expireBlockhash()
    this.svm.warpToSlot(this.svm.getClock().slot + BLOCKHASH_VALIDITY_BLOCKS + 1n)
  }

  /** A validator's blockhash moves every slot; LiteSVM's only when told. A nonce set in this block needs the next. */
  #advanceBlockForNonce(transaction: Transaction): void {
    const bound = durableNonceOf(transaction)
    if (bound === undefined) return
    const account = this.svm.getAccount(bound.nonceAccount)
    if (!account.exists) return
    if ((getNonceDecoder().decode(account.data).blockhash as string) !== (bound.nonce as string)) return
    const probe = this.svm.simulateTransaction(transaction)
    if (
      probe instanceof FailedTransactionMetadata &&
      transactionErrorJsonFromLiteSvm(probe.err()) === 'BlockhashNotFound'
    ) {
      this.svm.expireBlockhash()
    }
  }

  #onSocketMessage(socket: WebSocket, text: string): void {
    let message: { id?: unknown; method?: unknown; params?: unknown[] }
    try {
      message = JSON.parse(text) as typeof message
    } catch {
      return
    }
    if (message.method === 'signatureSubscribe') {
      this.requests.set(message.method, this.count(message.method) + 1)
      const fault = this.#faults.get(message.method)?.shift()
      const id = this.#nextSubscription++
      const signature = String(message.params?.[0])
      socket.send(stringify({ jsonrpc: '2.0', result: id, id: message.id }))
      const executed = this.#executed.get(signature)
      if (executed !== undefined) {
        setTimeout(() => this.#sendNotification(socket, id, executed.err, fault), NOTIFICATION_DELAY_MS).unref()
      } else this.#subscriptions.set(id, { socket, signature, fault })
    } else if (message.method === 'signatureUnsubscribe') {
      this.#subscriptions.delete(Number(message.params?.[0]))
      socket.send(stringify({ jsonrpc: '2.0', result: true, id: message.id }))
    }
  }

  #notify(signature: string, err: TransactionErrorJson | null): void {
    for (const [id, subscription] of this.#subscriptions) {
      if (subscription.signature !== signature) continue
      this.#subscriptions.delete(id)
      this.#sendNotification(subscription.socket, id, err, subscription.fault)
    }
  }

  #sendNotification(socket: WebSocket, subscription: number, err: TransactionErrorJson | null, fault?: RpcFault): void {
    const notification = stringify({
      jsonrpc: '2.0',
      method: 'signatureNotification',
      params: { result: { context: { slot: this.svm.getClock().slot }, value: { err } }, subscription },
    })
    // Whitespace is valid JSON: the padded notification still parses, so only a size bound refuses it.
    if (fault === 'huge-ws-frame') socket.send(notification + ' '.repeat(HUGE_WS_FRAME_BYTES))
    else if (fault === 'garbled-notification') socket.send(notification.slice(0, notification.indexOf('"params"')))
    else socket.send(notification)
  }
}

class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message)
  }

  toJSON() {
    return { code: this.code, message: this.message, ...(this.data === undefined ? {} : { data: this.data }) }
  }
}

function preflightFailure(err: TransactionErrorJson, logs: string[]): RpcError {
  return new RpcError(-32002, `Transaction simulation failed: ${JSON.stringify(err)}`, {
    accounts: null,
    err,
    innerInstructions: null,
    logs,
    replacementBlockhash: null,
    returnData: null,
    unitsConsumed: 0,
  })
}

/** A transaction error nested {@link NESTED_ERROR_LEVELS} deep: `{ "Nested": { "Nested": … "GenericError" } }`. */
function nestedError(): TransactionErrorJson {
  let err: TransactionErrorJson = 'GenericError'
  for (let level = 0; level < NESTED_ERROR_LEVELS; level++) err = { Nested: err }
  return err
}

/** `wire` with its signatures kept over a message that names another blockhash: what a forger can make. */
function forge(wire: string): string {
  const transaction = getTransactionDecoder().decode(getBase64Encoder().encode(wire))
  const message = getCompiledTransactionMessageDecoder().decode(transaction.messageBytes)
  const messageBytes = getCompiledTransactionMessageEncoder().encode({ ...message, lifetimeToken: FORGED_BLOCKHASH })
  return getBase64Decoder().decode(
    getTransactionEncoder().encode({ ...transaction, messageBytes: messageBytes as TransactionMessageBytes }),
  )
}

/** JSON with bigints written as plain integers, as Solana's RPC writes u64s. */
function stringify(value: unknown): string {
  const marker = '__bigint__'
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${marker}${v}` : v)).replace(
    new RegExp(`"${marker}(\\d+)"`, 'g'),
    '$1',
  )
}
