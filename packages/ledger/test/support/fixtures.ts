import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  generateKeyPairSigner,
  lamports,
  type Address,
  type KeyPairSigner,
  type Signature,
  type TransactionSigner,
} from '@solana/kit'
import { getTransferSolInstruction } from '@solana-program/system'
import { MAX_JOURNAL_LINE_BYTES, TRANSACTION_LOG_FILE } from '../../src/constants.js'
import { DurableLog } from '../../src/durable-file.js'
import { ActionExecutor, type ExecutorHooks } from '../../src/executor.js'
import { SettlementJournal } from '../../src/journal.js'
import { createMint, ensureTokenAccount, mintTokens } from '../../src/token.js'
import { sendInstructions } from '../../src/transaction.js'
import { createLiteSvmTransport } from '../../src/transport/litesvm-transport.js'
import { createRpcTransport } from '../../src/transport/rpc-transport.js'
import type { LedgerTransport } from '../../src/transport/transport.js'
import { RpcDouble } from './rpc-double.js'

/** A chain to test against and how to tear it down. */
export interface Chain {
  name: string
  transport: LedgerTransport
  close(): Promise<void>
}

export type ChainFactory = () => Promise<Chain>

/** The embedded LiteSVM chain, in memory. */
export const liteSvmChain: ChainFactory = async () => {
  const transport = await createLiteSvmTransport()
  return { name: 'litesvm', transport, close: () => transport.close() }
}

/** The RPC transport against the JSON-RPC double, polling for confirmation. */
export const rpcChain: ChainFactory = async () => {
  const double = await RpcDouble.start()
  const transport = createRpcTransport({ url: double.url, pollIntervalMs: 5, retry: { baseDelayMs: 5 } })
  return {
    name: 'rpc',
    transport,
    close: async () => {
      await transport.close()
      await double.close()
    },
  }
}

/** The RPC transport against the JSON-RPC double with WebSocket confirmation. */
export const rpcWsChain: ChainFactory = async () => {
  const double = await RpcDouble.start()
  const transport = createRpcTransport({
    url: double.url,
    wsUrl: double.wsUrl,
    pollIntervalMs: 20,
    retry: { baseDelayMs: 5 },
  })
  return {
    name: 'rpc+ws',
    transport,
    close: async () => {
      await transport.close()
      await double.close()
    },
  }
}

export async function tempDir(prefix = 'tessera-ledger-'): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return { path, remove: () => rm(path, { recursive: true, force: true }) }
}

export const SOL = 1_000_000_000n

/** A funded wallet on `transport`. */
export async function fundedWallet(transport: LedgerTransport, sol = 10n): Promise<KeyPairSigner> {
  const wallet = await generateKeyPairSigner()
  await transport.requestAirdrop(wallet.address, lamports(sol * SOL))
  return wallet
}

/** Sends `amount` lamports from `from` to `to` with a fresh blockhash. */
export function transferSol(
  transport: LedgerTransport,
  from: TransactionSigner,
  to: Address,
  amount: bigint,
): Promise<Signature> {
  return sendInstructions(transport, {
    feePayer: from,
    instructions: [getTransferSolInstruction({ source: from, destination: to, amount })],
  })
}

/**
 * A LiteSVM data directory's transaction log, opened as the transport opens it: for a test to write what no
 * transport would. Close it before a transport opens the directory.
 */
export async function openTransactionLog(chainDir: string): Promise<DurableLog<Record<string, unknown>>> {
  const { log } = await DurableLog.open<Record<string, unknown>>(join(chainDir, TRANSACTION_LOG_FILE), {
    corruptCode: 'LEDGER__STATE_CORRUPT',
    maxLineBytes: MAX_JOURNAL_LINE_BYTES,
  })
  return log
}

/** The records in a LiteSVM data directory's transaction log, as its lines hold them. */
export async function loggedTransactions(chainDir: string): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(join(chainDir, TRANSACTION_LOG_FILE), 'utf8')
  const lines = text.split('\n').filter((line) => line.length > 0)
  return lines.map((line) => JSON.parse(line.slice(0, line.lastIndexOf('\t'))) as Record<string, unknown>)
}

/** Everyone in an escrow story: wallets, a demo mint, token accounts, a journal and an executor for the payer. */
export interface World {
  transport: LedgerTransport
  payer: KeyPairSigner
  creator: KeyPairSigner
  worker: KeyPairSigner
  arbiter: KeyPairSigner
  treasury: KeyPairSigner
  mintAuthority: KeyPairSigner
  mint: Address
  accounts: { creator: Address; worker: Address; treasury: Address }
  executor: ActionExecutor
  journal: SettlementJournal
  dir: string
  close(): Promise<void>
}

export async function createWorld(
  transport: LedgerTransport,
  options: { creatorTokens?: bigint; hooks?: ExecutorHooks } = {},
): Promise<World> {
  const dir = await tempDir()
  const payer = await fundedWallet(transport)
  const [creator, worker, arbiter, treasury, mintAuthority] = await Promise.all([
    fundedWallet(transport, 1n),
    generateKeyPairSigner(),
    generateKeyPairSigner(),
    generateKeyPairSigner(),
    generateKeyPairSigner(),
  ])
  const mint = await createMint(transport, { payer, mintAuthority: mintAuthority.address })
  const accounts = {
    creator: await ensureTokenAccount(transport, { payer, owner: creator.address, mint }),
    worker: await ensureTokenAccount(transport, { payer, owner: worker.address, mint }),
    treasury: await ensureTokenAccount(transport, { payer, owner: treasury.address, mint }),
  }
  await mintTokens(transport, {
    payer,
    mint,
    mintAuthority,
    destination: accounts.creator,
    amount: options.creatorTokens ?? 1_000_000_000n,
  })
  const journal = await SettlementJournal.open(join(dir.path, 'journal.log'))
  const executor = await ActionExecutor.open({ transport, journal, payer, hooks: options.hooks })
  return {
    transport,
    payer,
    creator,
    worker,
    arbiter,
    treasury,
    mintAuthority,
    mint,
    accounts,
    executor,
    journal,
    dir: dir.path,
    close: async () => {
      await journal.close()
      await dir.remove()
    },
  }
}
