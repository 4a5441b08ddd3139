import {
  type Address,
  type Commitment,
  generateKeyPairSigner,
  getBase64Encoder,
  getSignatureFromTransaction,
  getTransactionDecoder,
  lamports,
  type Signature,
} from '@solana/kit'
import { getTransferSolInstruction } from '@solana-program/system'
import type { Receipt } from '@tessera/core'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { isLedgerError, isRetryableLedgerError } from '../src/errors.js'
import { ActionExecutor, actionDigest, type LedgerAction } from '../src/executor.js'
import { SettlementJournal } from '../src/journal.js'
import { sendInstructions } from '../src/transaction.js'
import { associatedTokenAddress, getTokenBalance } from '../src/token.js'
import type { RetryEvent } from '../src/transport/retry.js'
import { createRpcTransport } from '../src/transport/rpc-transport.js'
import type { LedgerTransport } from '../src/transport/transport.js'
import type { SettlementEvent } from '../src/settlement-machine.js'
import { createWorld, SOL, tempDir, type World } from './support/fixtures.js'
import { makeParties, makeReceipts } from './support/receipts.js'
import { RpcDouble, type RpcFault } from './support/rpc-double.js'
import { RpcProxy, type ProxiedRequest } from './support/rpc-proxy.js'
import {
  createSettlementWorld,
  fundEpochVault,
  grossOf,
  openSettlementNode,
  settlementDriver,
} from './support/settlement-world.js'

/** WebSocket close code 1009: a message too big to process (RFC 6455, 7.4.1). */
const WS_MESSAGE_TOO_BIG = 1009
/** WebSocket close code 1007: a message not of the type the connection carries (RFC 6455, 7.4.1). */
const WS_INVALID_PAYLOAD = 1007

/** An action of `world`'s executor paying a tenth of a SOL to `to`. */
function payment(world: World, key: string, to: Address): LedgerAction {
  return {
    key,
    digest: actionDigest([key]),
    instructions: () => [getTransferSolInstruction({ source: world.payer, destination: to, amount: SOL / 10n })],
  }
}

/** A JSON-RPC reply carrying `result`. */
function jsonRpcResult(id: unknown, result: unknown): string {
  return JSON.stringify({ jsonrpc: '2.0', id, result })
}

/** A JSON-RPC error reply. */
function jsonRpcError(id: unknown, code: number, message: string, data?: unknown): string {
  return JSON.stringify({ jsonrpc: '2.0', id, error: { code, message, ...(data === undefined ? {} : { data }) } })
}

describe('RpcTransport against a misbehaving endpoint', () => {
  let double: RpcDouble
  let transport: LedgerTransport
  let retries: RetryEvent[]

  beforeEach(async () => {
    double = await RpcDouble.start()
    retries = []
    transport = createRpcTransport({
      url: double.url,
      // Generous: a loaded CI machine must not turn a slow honest reply into a timeout. Only `stall` waits it out.
      requestTimeoutMs: 2_000,
      pollIntervalMs: 5,
      retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 40 },
      onRetry: (event) => retries.push(event),
    })
  })

  afterEach(async () => {
    await transport.close()
    await double.close()
  })

  const cases: Array<[RpcFault, string]> = [
    ['malformed-json', 'LEDGER__RPC_MALFORMED_REPLY'],
    ['wrong-shape', 'LEDGER__RPC_MALFORMED_REPLY'],
    ['unreadable-number', 'LEDGER__RPC_MALFORMED_REPLY'],
    ['deep-nesting', 'LEDGER__RPC_MALFORMED_REPLY'],
    ['http-503', 'LEDGER__RPC_UNAVAILABLE'],
    ['node-behind', 'LEDGER__RPC_UNAVAILABLE'],
    ['stall', 'LEDGER__RPC_TIMEOUT'],
  ]
  for (const [fault, code] of cases) {
    it(`should retry a ${fault} reply as ${code} with exponential backoff and then succeed`, async () => {
      double.inject('getLatestBlockhash', fault, 3)
      const latest = await transport.getLatestBlockhash()
      expect(latest.blockhash).toBe(double.svm.latestBlockhash())
      expect(retries.map((r) => [r.operation, r.attempt, r.delayMs, (r.error as { code: string }).code])).toEqual([
        ['getLatestBlockhash', 1, 5, code],
        ['getLatestBlockhash', 2, 10, code],
        ['getLatestBlockhash', 3, 20, code],
      ])
    })
  }

  it('should refuse a reply larger than any it reads, before it fills memory, and not ask again', async () => {
    double.inject('getLatestBlockhash', 'huge-reply', 1)
    const error = await transport.getLatestBlockhash().catch((e: unknown) => e)
    expect(isLedgerError(error, 'LEDGER__RPC_REPLY_TOO_LARGE')).toBe(true)
    expect(isRetryableLedgerError(error)).toBe(true)
    expect(double.count('getLatestBlockhash')).toBe(1)
    expect(retries).toEqual([])
  })

  it('should read a reply with "error": null beside its result as that result, without a retry', async () => {
    double.inject('getLatestBlockhash', 'null-error', 1)
    expect((await transport.getLatestBlockhash()).blockhash).toBe(double.svm.latestBlockhash())
    expect(retries).toEqual([])
  })

  it("should refuse a status whose error nests deeper than any of Solana's as malformed, and try again", async () => {
    const { signature } = await confirmedTransfer()
    double.inject('getSignatureStatuses', 'nested-error', 1)
    expect(await transport.getSignatureStatus(signature)).toMatchObject({ err: null })
    expect(retries.map((r) => [r.operation, (r.error as { code: string }).code])).toEqual([
      ['getSignatureStatuses', 'LEDGER__RPC_MALFORMED_REPLY'],
    ])
  })

  it("should refuse a preflight failure whose error nests deeper than any of Solana's, and send again", async () => {
    const alice = await generateKeyPairSigner()
    const bob = await generateKeyPairSigner()
    await transport.requestAirdrop(alice.address, lamports(SOL))
    double.inject('sendTransaction', 'nested-error', 1)
    await sendInstructions(transport, {
      feePayer: alice,
      instructions: [getTransferSolInstruction({ source: alice, destination: bob.address, amount: SOL / 2n })],
    })
    expect(await transport.getBalance(bob.address)).toBe(SOL / 2n)
    expect(retries.map((r) => [r.operation, (r.error as { code: string }).code])).toEqual([
      ['sendTransaction', 'LEDGER__RPC_MALFORMED_REPLY'],
    ])
  })

  it('should give up with the coded error once the attempts are spent', async () => {
    double.inject('getBalance', 'http-503', 10)
    const error = await transport.getBalance((await generateKeyPairSigner()).address).catch((e: unknown) => e)
    expect(isLedgerError(error, 'LEDGER__RPC_UNAVAILABLE')).toBe(true)
    expect(double.count('getBalance')).toBe(4)
  })

  it('should validate account data before trusting it', async () => {
    double.inject('getAccountInfo', 'wrong-shape', 4)
    const error = await transport.getAccount((await generateKeyPairSigner()).address).catch((e: unknown) => e)
    expect(isLedgerError(error, 'LEDGER__RPC_MALFORMED_REPLY')).toBe(true)
  })

  it('should pay once when a sent transaction executes but its reply is lost', async () => {
    const alice = await generateKeyPairSigner()
    const bob = await generateKeyPairSigner()
    await transport.requestAirdrop(alice.address, lamports(SOL))
    double.inject('sendTransaction', 'lose-reply', 1)
    await sendInstructions(transport, {
      feePayer: alice,
      instructions: [getTransferSolInstruction({ source: alice, destination: bob.address, amount: SOL / 2n })],
    })
    expect(double.count('sendTransaction')).toBe(2)
    expect(await transport.getBalance(bob.address)).toBe(SOL / 2n)
  })

  /** Sends half a SOL from a fresh wallet, funded before `faults` are injected; resolves with the payee. */
  async function sendHalfSol(faults: () => void): Promise<Address> {
    const alice = await generateKeyPairSigner()
    const bob = await generateKeyPairSigner()
    await transport.requestAirdrop(alice.address, lamports(SOL))
    faults()
    await sendInstructions(transport, {
      feePayer: alice,
      instructions: [getTransferSolInstruction({ source: alice, destination: bob.address, amount: SOL / 2n })],
    })
    return bob.address
  }

  it('should build a transaction anew once its blockhash expired before it landed, and pay once', async () => {
    // Without the block height check, every rebroadcast is refused (BlockhashNotFound) until confirmTimeoutMs.
    const bob = await sendHalfSol(() => double.inject('sendTransaction', 'dropped', 1))
    expect(await transport.getBalance(bob)).toBe(SOL / 2n)
    expect(double.count('getLatestBlockhash')).toBe(2)
  })

  it('should not build a blockhash transaction anew that landed before its blockhash expired', async () => {
    // The first poll misses it; the status asked again once the blockhash has expired finds it.
    const bob = await sendHalfSol(() => {
      double.inject('sendTransaction', 'landed-then-expired', 1)
      double.inject('getSignatureStatuses', 'unknown-status', 1)
    })
    expect(await transport.getBalance(bob)).toBe(SOL / 2n)
    expect(double.count('getLatestBlockhash')).toBe(1)
  })

  it('should not read an expired blockhash as proof from a node behind the block height that passed it', async () => {
    const bob = await sendHalfSol(() => {
      double.inject('sendTransaction', 'landed-then-expired', 1)
      double.inject('getSignatureStatuses', 'lagging-status', 4)
    })
    expect(await transport.getBalance(bob)).toBe(SOL / 2n)
    expect(double.count('getLatestBlockhash')).toBe(1)
  })

  it('should never build a payment anew while a lagging node does not know the one that moved its nonce', async () => {
    const world = await createWorld(transport)
    const bob = await generateKeyPairSigner()
    const pay = payment(world, 'pay-bob', bob.address)
    // The transfer runs, and moves the nonce; the status node has not seen it for a while.
    double.inject('getSignatureStatuses', 'unknown-status', 6)
    const first = await world.executor.execute(pay).catch((e: unknown) => e)
    expect(isLedgerError(first, 'LEDGER__RECONCILE_AMBIGUOUS')).toBe(true)
    // The settlement machine tries it again (which only ever looks it up), rather than giving up on it.
    expect(isRetryableLedgerError(first)).toBe(true)
    expect(world.executor.status('pay-bob')).toBe('intent')
    // Asked again, as the settlement machine retries it, until the node has caught up: the first transfer is found,
    // never made a second time.
    let result
    for (let attempt = 0; result === undefined && attempt < 10; attempt++) {
      result = await world.executor.execute(pay).catch((e: unknown) => {
        if (!isLedgerError(e, 'LEDGER__RECONCILE_AMBIGUOUS')) throw e
        return undefined
      })
    }
    expect(result?.replayed).toBe(true)
    expect(world.executor.status('pay-bob')).toBe('confirmed')
    expect(await transport.getBalance(bob.address)).toBe(SOL / 10n)
    await world.close()
  })

  it('should believe a failure report only as the transaction record tells it, and pay once', async () => {
    const world = await createWorld(transport)
    const bob = await generateKeyPairSigner()
    const pay = payment(world, 'pay-bob', bob.address)
    // The transfer runs; the node says, twice, that it failed (a status answers by its place in a list, which a node
    // can mix up with another's): its record, tied to its signature, says it succeeded.
    double.inject('getSignatureStatuses', 'failed-status', 2)
    const transactions = double.count('getTransaction')
    expect((await world.executor.execute(pay)).replayed).toBe(false)
    expect(world.executor.status('pay-bob')).toBe('confirmed')
    expect(double.count('getTransaction')).toBeGreaterThan(transactions)
    // Tried again (a settlement retries what it saw fail): the journal has it, and nothing is built.
    expect((await world.executor.execute(pay)).replayed).toBe(true)
    expect(await transport.getBalance(bob.address)).toBe(SOL / 10n)
    await world.close()
  })

  /**
   * A world whose transport talks to the double through a proxy that can hold a payment's first copy (as a node that
   * forwarded it to the leader and lost its reply) and land it the moment after a retry has checked the nonce: at
   * the next request after the executor's next read of its nonce account.
   */
  async function racingWorld(hold: (request: ProxiedRequest) => string | undefined) {
    let phase: 'setup' | 'hold' | 'race' = 'setup'
    let held: string | undefined
    let nonceRead = false
    let nonceAccount = ''
    const proxy = await RpcProxy.start(double.url, async (request) => {
      if (phase === 'setup') return undefined
      if (phase === 'hold') {
        if (request.method !== 'sendTransaction' || held !== undefined) return hold(request)
        held = request.body
        return hold(request)
      }
      if (held !== undefined && nonceRead) {
        await proxy.forward(held)
        held = undefined
      }
      if (request.method === 'getAccountInfo' && request.params[0] === nonceAccount) nonceRead = true
      return undefined
    })
    const racing = createRpcTransport({
      url: proxy.url,
      requestTimeoutMs: 2_000,
      pollIntervalMs: 5,
      retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 40 },
    })
    const world = await createWorld(racing)
    nonceAccount = world.executor.nonceAccount
    phase = 'hold'
    return {
      world,
      race: () => {
        phase = 'race'
      },
      close: async () => {
        await world.close()
        await racing.close()
        await proxy.close()
      },
    }
  }

  it('should rebuild a refused payment on the nonce it held, so a late copy of the first cannot pay twice', async () => {
    const bob = await generateKeyPairSigner()
    // One node forwards the payment and loses its reply; the one asked refuses it in preflight.
    const { world, race, close } = await racingWorld((request) =>
      request.method === 'sendTransaction'
        ? jsonRpcError(request.id, -32002, 'Transaction simulation failed', {
            err: { InstructionError: [1, 'InvalidArgument'] },
            logs: [],
          })
        : undefined,
    )
    const pay = payment(world, 'pay-bob', bob.address)
    const refused = await world.executor.execute(pay).catch((e: unknown) => e)
    expect(isLedgerError(refused, 'LEDGER__TRANSACTION_REJECTED')).toBe(true)
    expect(world.executor.status('pay-bob')).toBe('failed')
    const first = (refused as { context: { signature: Signature } }).context.signature

    // Tried again: no node knows the first and its nonce is where it was, so a second is built, on that nonce;
    // the first copy lands right after the check, and the second cannot run any more.
    race()
    const second = await world.executor.execute(pay).catch((e: unknown) => e)
    expect(await transport.getBalance(bob.address)).toBe(SOL / 10n)
    expect(isLedgerError(second, 'LEDGER__RECONCILE_AMBIGUOUS')).toBe(true)

    // After a restart, tried again: the first attempt, named in the second's intent, is the outcome.
    await world.journal.close()
    const journal = await SettlementJournal.open(world.journal.path)
    const executor = await ActionExecutor.open({ transport: world.executor.transport, journal, payer: world.payer })
    expect(await executor.execute(pay)).toMatchObject({ signature: first, replayed: true })
    expect(executor.status('pay-bob')).toBe('confirmed')
    expect(await transport.getBalance(bob.address)).toBe(SOL / 10n)
    await journal.close()
    await close()
  })

  it('should leave a payment open, not failed, when a status poll errs after the send, and pay it once', async () => {
    const bob = await generateKeyPairSigner()
    let polls = 0
    // The node takes the payment (its copy reaches the leader late); the first status poll gets an error.
    const { world, race, close } = await racingWorld((request) => {
      if (request.method === 'sendTransaction') {
        const wire = getBase64Encoder().encode(request.params[0] as string)
        return jsonRpcResult(request.id, getSignatureFromTransaction(getTransactionDecoder().decode(wire)))
      }
      if (request.method === 'getSignatureStatuses' && polls++ === 0) {
        return jsonRpcError(request.id, -32000, 'Server error: try again')
      }
      return undefined
    })
    const pay = payment(world, 'pay-bob', bob.address)
    await expect(world.executor.execute(pay)).rejects.toMatchObject({ code: 'LEDGER__RPC_ERROR' })
    const afterError = world.executor.status('pay-bob')
    const sent = world.journal.intent('pay-bob')?.signature

    // Tried again while the first copy is on its way: it lands right after the nonce is checked.
    race()
    const result = await world.executor.execute(pay)
    expect(await transport.getBalance(bob.address)).toBe(SOL / 10n)
    // Sent, and maybe on its way, it was never taken for refused: its same bytes were looked up and sent again.
    expect(afterError).toBe('intent')
    expect(result.signature).toBe(sent)
    expect(world.executor.status('pay-bob')).toBe('confirmed')
    await close()
  })

  it("should build a payment anew once another action's transaction was confirmed on its nonce, and pay it once", async () => {
    const world = await createWorld(transport)
    const [bob, carol] = [await generateKeyPairSigner(), await generateKeyPairSigner()]
    // The payment to bob never reaches the chain: its intent stays open.
    double.inject('sendTransaction', 'http-503', 4)
    await expect(world.executor.execute(payment(world, 'pay-bob', bob.address))).rejects.toMatchObject({
      code: 'LEDGER__RPC_UNAVAILABLE',
    })
    // The next action reads the same nonce and runs on it.
    await world.executor.execute(payment(world, 'pay-carol', carol.address))
    // Bob's transaction can never run now: said so once, then built anew on the next nonce.
    await expect(world.executor.execute(payment(world, 'pay-bob', bob.address))).rejects.toMatchObject({
      code: 'LEDGER__BLOCKHASH_EXPIRED',
    })
    expect((await world.executor.execute(payment(world, 'pay-bob', bob.address))).replayed).toBe(false)
    expect(await transport.getBalance(bob.address)).toBe(SOL / 10n)
    expect(await transport.getBalance(carol.address)).toBe(SOL / 10n)
    await world.close()
  })

  /**
   * A world whose transport asks the double through a proxy that answers as `lie` says once it is set (undefined, or
   * a `lie` that answers undefined, forwards the request), with a short confirmation timeout.
   */
  async function proxiedWorld(commitment: Commitment = 'confirmed') {
    let lie: ((request: ProxiedRequest) => Promise<string | undefined> | string | undefined) | undefined
    const proxy = await RpcProxy.start(double.url, (request) => lie?.(request))
    const proxied = createRpcTransport({
      url: proxy.url,
      commitment,
      requestTimeoutMs: 2_000,
      confirmTimeoutMs: 300,
      pollIntervalMs: 5,
      retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 40 },
    })
    const world = await createWorld(proxied)
    return {
      world,
      proxy,
      lie: (next: typeof lie) => {
        lie = next
      },
      close: async () => {
        await world.close()
        await proxied.close()
        await proxy.close()
      },
    }
  }

  // A node takes the payment and never forwards it, and reports a success the transport must not take for done.
  const swallowedPayments: Array<[string, Record<string, unknown>]> = [
    // Its statuses name no commitment (Solana allows it).
    [
      'should never take a status that names no commitment for a confirmation, and pay once',
      { confirmations: 0, confirmationStatus: null },
    ],
    // Its statuses say finalized, but no node has the record (a status answers by its place in a list, which a node
    // can mix up with another's).
    [
      'should believe a success report only as the transaction record tells it, and pay once',
      { confirmations: null, confirmationStatus: 'finalized' },
    ],
  ]
  for (const [title, reported] of swallowedPayments) {
    it(title, async () => {
      const bob = await generateKeyPairSigner()
      const { world, lie, close } = await proxiedWorld()
      lie((request) => {
        if (request.method === 'sendTransaction') {
          const wire = getBase64Encoder().encode(request.params[0] as string)
          return jsonRpcResult(request.id, getSignatureFromTransaction(getTransactionDecoder().decode(wire)))
        }
        if (request.method === 'getSignatureStatuses') {
          const status = { slot: 5, err: null, status: { Ok: null }, ...reported }
          return jsonRpcResult(request.id, { context: { slot: 5 }, value: [status] })
        }
        return undefined
      })
      const pay = payment(world, 'pay-bob', bob.address)
      await expect(world.executor.execute(pay)).rejects.toMatchObject({ code: 'LEDGER__CONFIRMATION_TIMEOUT' })
      // Tried again, the open intent is settled against the same statuses: not taken for done either.
      await expect(world.executor.execute(pay)).rejects.toMatchObject({ code: 'LEDGER__CONFIRMATION_TIMEOUT' })
      expect(world.executor.status('pay-bob')).toBe('intent')
      // Once the node is honest the same bytes are sent again, and land: bob is paid, once.
      lie(undefined)
      await world.executor.execute(pay)
      expect(world.executor.status('pay-bob')).toBe('confirmed')
      expect(await transport.getBalance(bob.address)).toBe(SOL / 10n)
      await close()
    })
  }

  it('should not journal a payment confirmed while it falls short of a finalized commitment', async () => {
    const bob = await generateKeyPairSigner()
    const { world, proxy, lie, close } = await proxiedWorld('finalized')
    // The payment lands; every status says it is confirmed, none that it is finalized.
    lie(async (request) => {
      if (request.method !== 'getSignatureStatuses') return undefined
      const reply = JSON.parse(await proxy.forward(request.body)) as { result: { value: Array<object | null> } }
      reply.result.value = reply.result.value.map((s) => (s === null ? s : { ...s, confirmationStatus: 'confirmed' }))
      return JSON.stringify(reply)
    })
    const pay = payment(world, 'pay-bob', bob.address)
    await expect(world.executor.execute(pay)).rejects.toMatchObject({ code: 'LEDGER__CONFIRMATION_TIMEOUT' })
    await expect(world.executor.execute(pay)).rejects.toMatchObject({ code: 'LEDGER__CONFIRMATION_TIMEOUT' })
    expect(world.executor.status('pay-bob')).toBe('intent')
    lie(undefined)
    expect(await world.executor.execute(pay)).toMatchObject({ replayed: true })
    expect(world.executor.status('pay-bob')).toBe('confirmed')
    expect(await transport.getBalance(bob.address)).toBe(SOL / 10n)
    await close()
  })

  it('should not build a refused payment anew on a failure report its record does not back', async () => {
    const bob = await generateKeyPairSigner()
    const { world, proxy, lie, close } = await proxiedWorld()
    // One node forwards the payment, which lands, and answers that preflight refused it: journaled failed.
    lie(async (request) => {
      if (request.method !== 'sendTransaction') return undefined
      await proxy.forward(request.body)
      const data = { err: { InstructionError: [1, 'InvalidArgument'] }, logs: [] }
      return jsonRpcError(request.id, -32002, 'Transaction simulation failed', data)
    })
    const pay = payment(world, 'pay-bob', bob.address)
    await expect(world.executor.execute(pay)).rejects.toMatchObject({ code: 'LEDGER__TRANSACTION_REJECTED' })
    expect(world.executor.status('pay-bob')).toBe('failed')
    // Tried again: its status says it ran and failed, and its nonce has moved, but no node has its record yet.
    lie((request) => (request.method === 'getTransaction' ? jsonRpcResult(request.id, null) : undefined))
    double.inject('getSignatureStatuses', 'failed-status', 1)
    await expect(world.executor.execute(pay)).rejects.toMatchObject({ code: 'LEDGER__RECONCILE_AMBIGUOUS' })
    // Tried again with its record at hand: whatever its status says, the record says it succeeded.
    lie(undefined)
    double.inject('getSignatureStatuses', 'failed-status', 1)
    expect(await world.executor.execute(pay)).toMatchObject({ replayed: true })
    expect(world.executor.status('pay-bob')).toBe('confirmed')
    expect(await transport.getBalance(bob.address)).toBe(SOL / 10n)
    await close()
  })

  /** A transfer from a fresh wallet, confirmed: its signature and fee payer. */
  async function confirmedTransfer(): Promise<{ signature: Signature; feePayer: Address }> {
    const alice = await generateKeyPairSigner()
    const bob = await generateKeyPairSigner()
    await transport.requestAirdrop(alice.address, lamports(SOL))
    const signature = await sendInstructions(transport, {
      feePayer: alice,
      instructions: [getTransferSolInstruction({ source: alice, destination: bob.address, amount: SOL / 2n })],
    })
    return { signature, feePayer: alice.address }
  }

  it('should refuse a transaction read back without its status meta, not read it as succeeded', async () => {
    const { signature } = await confirmedTransfer()
    double.inject('getTransaction', 'null-meta', 1)
    await expect(transport.getTransaction(signature)).rejects.toMatchObject({
      code: 'LEDGER__RPC_MALFORMED_REPLY',
      context: { method: 'getTransaction', signature },
    })
    // A node that kept the status answers.
    expect(await transport.getTransaction(signature)).toMatchObject({ signature, err: null })
  })

  it('should refuse a transaction read back whose signature does not verify over its message', async () => {
    const { signature, feePayer } = await confirmedTransfer()
    // The real signature over a message the fee payer never signed.
    double.inject('getTransaction', 'forged-transaction', 1)
    await expect(transport.getTransaction(signature)).rejects.toMatchObject({
      code: 'LEDGER__RPC_MALFORMED_REPLY',
      context: { method: 'getTransaction', signature, signer: feePayer },
    })
    expect(await transport.getTransaction(signature)).toMatchObject({ signature, err: null })
  })

  it('should refuse transaction bytes read back that are not a transaction as a malformed reply', async () => {
    const { signature } = await confirmedTransfer()
    double.inject('getTransaction', 'garbled-transaction', 1)
    await expect(transport.getTransaction(signature)).rejects.toMatchObject({
      code: 'LEDGER__RPC_MALFORMED_REPLY',
      context: { method: 'getTransaction', signature },
    })
  })

  it('should not retry a transaction the chain rejects', async () => {
    const alice = await generateKeyPairSigner()
    const bob = await generateKeyPairSigner()
    await transport.requestAirdrop(alice.address, lamports(SOL))
    const error = await sendInstructions(transport, {
      feePayer: alice,
      instructions: [getTransferSolInstruction({ source: alice, destination: bob.address, amount: 2n * SOL })],
    }).catch((e: unknown) => e)
    expect(isLedgerError(error, 'LEDGER__INSUFFICIENT_FUNDS')).toBe(true)
    expect((error as { context: { executed: boolean } }).context.executed).toBe(false)
    expect(double.count('sendTransaction')).toBe(1)
    expect(retries).toEqual([])
  })
})

describe('RpcTransport against a misbehaving WebSocket endpoint', () => {
  let double: RpcDouble
  let transport: LedgerTransport

  beforeEach(async () => {
    double = await RpcDouble.start()
    transport = createRpcTransport({
      url: double.url,
      wsUrl: double.wsUrl,
      requestTimeoutMs: 2_000,
      // The fallback poll runs every second: the WebSocket has that long to deliver (or refuse) its notification.
      pollIntervalMs: 200,
      retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 40 },
    })
  })

  afterEach(async () => {
    await transport.close()
    await double.close()
  })

  it('should confirm by notification while the polls find nothing', async () => {
    const alice = await generateKeyPairSigner()
    const bob = await generateKeyPairSigner()
    await transport.requestAirdrop(alice.address, lamports(SOL))
    double.inject('getSignatureStatuses', 'unknown-status', 100)
    const polls = double.count('getSignatureStatuses')
    await sendInstructions(transport, {
      feePayer: alice,
      instructions: [getTransferSolInstruction({ source: alice, destination: bob.address, amount: SOL / 2n })],
    })
    expect(double.count('getSignatureStatuses') - polls).toBe(1)
  })

  it.each([
    { what: 'message passes the bound', fault: 'huge-ws-frame', closeCode: WS_MESSAGE_TOO_BIG },
    { what: 'notification is not JSON', fault: 'garbled-notification', closeCode: WS_INVALID_PAYLOAD },
  ] as const)('should close a channel whose $what, and confirm by polling instead', async ({ fault, closeCode }) => {
    const alice = await generateKeyPairSigner()
    const bob = await generateKeyPairSigner()
    await transport.requestAirdrop(alice.address, lamports(SOL))
    double.inject('signatureSubscribe', fault, 1)
    // The first poll finds nothing, so only the notification or the next poll can confirm the transfer.
    double.inject('getSignatureStatuses', 'unknown-status', 1)
    const polls = double.count('getSignatureStatuses')
    await sendInstructions(transport, {
      feePayer: alice,
      instructions: [getTransferSolInstruction({ source: alice, destination: bob.address, amount: SOL / 2n })],
    })
    expect(double.socketCloseCodes).toContain(closeCode)
    expect(double.count('getSignatureStatuses') - polls).toBe(2)
    expect(await transport.getBalance(bob.address)).toBe(SOL / 2n)
  })
})

describe('settlement over a misbehaving endpoint', () => {
  let receipts: Receipt[]
  let double: RpcDouble
  let transport: LedgerTransport
  let dir: Awaited<ReturnType<typeof tempDir>>

  beforeAll(async () => {
    receipts = makeReceipts(await makeParties(10), 120, 2)
  })

  beforeEach(async () => {
    double = await RpcDouble.start()
    dir = await tempDir()
    transport = createRpcTransport({
      url: double.url,
      // Generous: a loaded CI machine must not turn a slow honest reply into a timeout. Only `stall` waits it out.
      requestTimeoutMs: 2_000,
      pollIntervalMs: 5,
      retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 20 },
    })
  })

  afterEach(async () => {
    await transport.close()
    await double.close()
    await dir.remove()
  })

  it('should settle exactly once through lost replies, outages and timeouts, retrying with backoff', async () => {
    const world = await createSettlementWorld(transport, grossOf(receipts))
    const node = await openSettlementNode(world, { dir: dir.path })
    const vault = await fundEpochVault(world, node.executor, 2, grossOf(receipts))
    const { machine, driver } = settlementDriver(world, node, vault, {
      retry: { baseMs: 10, maxMs: 50, maxAttempts: 6 },
    })
    const events: SettlementEvent[] = []
    driver.onEvent((e) => events.push(e))
    for (const receipt of receipts) driver.handle({ type: 'receipt', receipt })

    // The anchor executes but its reply is lost; then the endpoint is down for longer than the transport's
    // retries (the machine retries the action later); the payout's first send stalls past the request timeout.
    double.inject('sendTransaction', 'lose-reply', 1)
    double.inject('getSignatureStatuses', 'http-503', 3)
    double.inject('getAccountInfo', 'malformed-json', 2)
    driver.handle({ type: 'close-epoch', epoch: 2 })
    await driver.run()

    expect(events.some((e) => e.name === 'action:retrying')).toBe(true)
    expect(events.find((e) => e.name === 'epoch:settled')).toMatchObject({
      epoch: 2,
      signatures: [expect.any(String), expect.any(String)],
    })
    const batch = machine.batch(2)!
    for (const payout of batch.payouts) {
      expect(await getTokenBalance(transport, await associatedTokenAddress(payout.payee, world.mint))).toBe(payout.net)
    }
    expect(await getTokenBalance(transport, world.treasuryAccount)).toBe(batch.fee)
    expect(await getTokenBalance(transport, vault.address)).toBe(0n)
    const intents = [...node.journal.entries()].filter(([key]) => key.includes('/2/'))
    expect(intents.map(([, r]) => r.t)).toEqual(['confirmed', 'confirmed'])
    await node.close()
  })
})
