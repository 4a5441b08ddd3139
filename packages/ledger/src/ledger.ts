import { lstat } from 'node:fs/promises'
import { join } from 'node:path'
import { isAddress, lamports as toLamports, type Address, type KeyPairSigner } from '@solana/kit'
import { logger as createLogger, type Logger } from '@libp2p/logger'
import { readBoundedFile, replaceFile, throwIfAborted, type AbortOptions } from '@tessera/core'
import { JOURNAL_FILE, MAX_TOKEN_UNITS, WALLET_FILE } from './constants.js'
import { type DataDirLock, lockDataDir } from './data-dir-lock.js'
import { isLedgerError, LedgerError } from './errors.js'
import { ActionExecutor, nonceAccountAddress, type ExecutorHooks } from './executor.js'
import { SettlementJournal } from './journal.js'
import {
  associatedTokenAddress,
  createMint,
  ensureTokenAccount,
  getTokenBalance,
  mintTokens,
  readMint,
} from './token.js'
import { createLiteSvmTransport } from './transport/litesvm-transport.js'
import { createRpcTransport, type RpcTransportOptions } from './transport/rpc-transport.js'
import type { LedgerTransport } from './transport/transport.js'
import { loadOrCreateWallet, loadWallet } from './wallet.js'

const CHAIN_DIR = 'chain'
const LOCAL_MINT_FILE = 'local-mint.json'
/** A local-mint file is one short JSON object; anything longer is not one. */
const MAX_LOCAL_MINT_FILE_BYTES = 1024
const MINT_AUTHORITY_FILE = 'mint-authority.json'

/** Options of {@link openLedger}. */
export interface LedgerOptions {
  /** Directory for the wallet (`wallet.json`, mode 0600), the journal and, on LiteSVM, the chain's state. */
  dataDir: string
  /** A cluster to settle on. Without it the embedded LiteSVM chain runs in-process, persisted in `dataDir/chain`. */
  rpc?: RpcTransportOptions
  /**
   * The SPL mint payments use. Required with `rpc`; on LiteSVM a local demo mint is created on first start (the node
   * holds its authority, so local token airdrops work) and reused after. A given mint must be an initialised mint of
   * the SPL Token program (`LEDGER__ACCOUNT_NOT_FOUND`, `LEDGER__MALFORMED_ACCOUNT`); Token-2022 is not supported.
   */
  mint?: Address
  /** Test seams of the executor (crash tests). */
  hooks?: ExecutorHooks
  /** @default logger('tessera:ledger') */
  logger?: Logger
}

/**
 * A node's ledger: its transport, wallet, payment mint, journal and journaled executor, ready for `openEscrow`,
 * `bondStake` and a `SettlementDriver`. The composition root the node and the examples use.
 */
export interface Ledger {
  readonly transport: LedgerTransport
  readonly wallet: KeyPairSigner
  readonly mint: Address
  readonly journal: SettlementJournal
  readonly executor: ActionExecutor
  /** The wallet's associated token account for the mint, created if missing. */
  tokenAccount(options?: AbortOptions): Promise<Address>
  /** Lamports and token units the wallet holds. */
  balance(options?: AbortOptions): Promise<{ lamports: bigint; tokens: bigint }>
  /**
   * Free lamports (LiteSVM, a local validator, devnet) and, on the local demo mint, free tokens. Anything else is
   * `LEDGER__AIRDROP_UNAVAILABLE`. Tokens that would take the mint's supply past {@link MAX_TOKEN_UNITS} are refused
   * (`LEDGER__INVALID_INPUT`) before anything is sent, rather than by the token program, which charges the fee.
   */
  airdrop(amounts: { lamports?: bigint; tokens?: bigint }, options?: AbortOptions): Promise<void>
  close(): Promise<void>
}

/**
 * Opens the ledger in `options.dataDir`: LiteSVM by default, a cluster when `options.rpc` is given. Opening may
 * airdrop, create the local mint and create the nonce account, each a transaction, and settles the journal's open
 * intents against the chain (`ActionExecutor.reconcile`); when `abort.signal` fires, the call rejects with an
 * AbortError and closes what it had opened (a transaction already sent may still land, and the next open finds it).
 * The directory is held until {@link Ledger.close}: a second open of it, in this process or another, is refused with
 * `LEDGER__DATA_DIR_IN_USE` (see {@link lockDataDir}). Its wallet is made only when the directory holds no ledger
 * yet: one missing beside a journal or chain state is refused with `LEDGER__WALLET_MISSING`, never replaced; so is a
 * journal missing once the wallet has acted on the chain (`LEDGER__JOURNAL_MISSING`).
 */
export async function openLedger(options: LedgerOptions, abort: AbortOptions = {}): Promise<Ledger> {
  throwIfAborted(abort.signal)
  const lock = await lockDataDir(options.dataDir)
  try {
    return await openLocked(options, lock, abort)
  } catch (e) {
    await lock.release()
    throw e
  }
}

/** {@link openLedger} once its data directory is held: `lock` is released when the ledger closes. */
async function openLocked(options: LedgerOptions, lock: DataDirLock, abort: AbortOptions): Promise<Ledger> {
  throwIfAborted(abort.signal)
  const log = options.logger ?? createLogger('tessera:ledger')
  // Before anything else is written: whatever else is here was made with this wallet (see openLedgerWallet).
  const wallet = await openLedgerWallet(options.dataDir, abort)
  const transport =
    options.rpc === undefined
      ? await createLiteSvmTransport({ dataDir: join(options.dataDir, CHAIN_DIR) })
      : createRpcTransport(options.rpc)
  try {
    // Loading the chain's state takes no signal: check once it is loaded.
    throwIfAborted(abort.signal)
    if (transport.kind === 'litesvm' && (await transport.getBalance(wallet.address, abort)) === 0n) {
      await transport.requestAirdrop(wallet.address, toLamports(10_000_000_000n), abort)
    }
    const local = transport.kind === 'litesvm' && options.mint === undefined
    const mint = options.mint ?? (local ? await localMint(transport, wallet, options.dataDir, abort) : undefined)
    if (mint === undefined) {
      throw new LedgerError('LEDGER__INVALID_INPUT', 'a cluster needs the payment mint: pass options.mint', {})
    }
    // Checked before anything is paid for (the nonce account): a wrong mint would otherwise show only at a payment.
    if (options.mint !== undefined) await readMint(transport, options.mint, abort)
    const mintAuthority = local
      ? await loadOrCreateWallet(join(options.dataDir, MINT_AUTHORITY_FILE), abort)
      : undefined
    await assertJournalKept(transport, wallet, options.dataDir, abort)
    const journal = await SettlementJournal.open(join(options.dataDir, JOURNAL_FILE))
    let executor: ActionExecutor
    try {
      throwIfAborted(abort.signal)
      executor = await ActionExecutor.open({ transport, journal, payer: wallet, hooks: options.hooks }, abort)
      await reconcileOpenIntents(executor, log, abort)
    } catch (e) {
      await journal.close()
      throw e
    }
    log('ledger open: %s chain, wallet %s, mint %s', transport.kind, wallet.address, mint)
    return {
      transport,
      wallet,
      mint,
      journal,
      executor,
      tokenAccount: (o = {}) => ensureTokenAccount(transport, { payer: wallet, owner: wallet.address, mint }, o),
      balance: async (o = {}) => ({
        lamports: await transport.getBalance(wallet.address, o),
        tokens: await getTokenBalance(transport, await associatedTokenAddress(wallet.address, mint), o),
      }),
      airdrop: async (amounts, o = {}) => {
        if (amounts.lamports !== undefined)
          await transport.requestAirdrop(wallet.address, toLamports(amounts.lamports), o)
        if (amounts.tokens === undefined) return
        if (mintAuthority === undefined) {
          throw new LedgerError('LEDGER__AIRDROP_UNAVAILABLE', 'token airdrops exist only for the local demo mint', {
            mint,
          })
        }
        // The supply holds every account's tokens: within it, the wallet's balance cannot overflow either.
        const { supply } = await readMint(transport, mint, o)
        if (amounts.tokens > MAX_TOKEN_UNITS - supply) {
          throw new LedgerError(
            'LEDGER__INVALID_INPUT',
            `an airdrop of ${amounts.tokens} tokens would take the mint's supply of ${supply} past ${MAX_TOKEN_UNITS}, the most it counts; ask for at most ${MAX_TOKEN_UNITS - supply}`,
            { mint, tokens: amounts.tokens.toString(), supply: supply.toString() },
          )
        }
        const destination = await ensureTokenAccount(transport, { payer: wallet, owner: wallet.address, mint }, o)
        await mintTokens(transport, { payer: wallet, mint, mintAuthority, destination, amount: amounts.tokens }, o)
      },
      close: async () => {
        await journal.close()
        await transport.close()
        await lock.release()
      },
    }
  } catch (e) {
    await transport.close()
    throw e
  }
}

/**
 * Settles the intents a crash or an abort left without an outcome as the ledger opens, not when their actions next
 * come up (perhaps never): while the chain still knows their signatures (it keeps only recent ones, and an unknown
 * signature with its nonce moved is ambiguous for good), and before a new action spends the nonce
 * an intent never sent was built on, which would leave it to be recorded failed and built anew. One that cannot be
 * settled now (the chain away, or ambiguous) stays open, looked up again when its action runs or the executor next
 * reconciles.
 */
async function reconcileOpenIntents(executor: ActionExecutor, log: Logger, options: AbortOptions): Promise<void> {
  for (const { key, result, error } of await executor.reconcile(options)) {
    if (error !== undefined) log.error('could not reconcile %s, left open: %e', key, error)
    else log('reconciled %s as %s', key, result?.signature)
  }
}

/**
 * Refuses to start a new journal beside chain state made with one: the journal file is created before the wallet's
 * nonce account, so a nonce account with no journal means the journal was lost, deleted or left out of a restore.
 * A new, empty one would know none of the actions already run (vaults funded, payouts sent), and every one of them
 * asked again would run, and pay, a second time. `LEDGER__JOURNAL_MISSING` names the file to restore.
 */
async function assertJournalKept(
  transport: LedgerTransport,
  wallet: KeyPairSigner,
  dataDir: string,
  options: AbortOptions,
): Promise<void> {
  const path = join(dataDir, JOURNAL_FILE)
  if (await exists(path)) return
  const nonceAccount = await nonceAccountAddress(wallet.address, 0)
  if ((await transport.getAccount(nonceAccount, options)) === null) return
  throw new LedgerError(
    'LEDGER__JOURNAL_MISSING',
    `journal ${path} is missing, but wallet ${wallet.address} has acted on this chain already (its nonce account ${nonceAccount} exists); restore the journal from a backup: a new one would run and pay every action it held again (only if this wallet never ran an action, create the file empty)`,
    { path, dataDir, wallet: wallet.address, nonceAccount },
  )
}

/** What a ledger writes in its data directory once its wallet exists: any of them means the wallet was made. */
const LEDGER_STATE = [JOURNAL_FILE, CHAIN_DIR, LOCAL_MINT_FILE, MINT_AUTHORITY_FILE] as const

/**
 * The wallet of the ledger in `dataDir` (`wallet.json`), made only in a data directory that holds no ledger yet, as
 * {@link openLedger} makes it. One missing beside the ledger's state (its journal, chain, local mint) was lost,
 * deleted or left out of a restore: a new wallet would own nothing the old one did (its tokens and lamports, the
 * vaults it funded, its nonce account), and be paid nothing owed to it, so it is refused with
 * `LEDGER__WALLET_MISSING`, naming the file to restore.
 */
export async function openLedgerWallet(dataDir: string, options: AbortOptions = {}): Promise<KeyPairSigner> {
  const path = join(dataDir, WALLET_FILE)
  try {
    return await loadWallet(path)
  } catch (e) {
    if (!isLedgerError(e, 'LEDGER__WALLET_MISSING')) throw e
  }
  const found: string[] = []
  for (const name of LEDGER_STATE) if (await exists(join(dataDir, name))) found.push(name)
  if (found.length > 0) {
    throw new LedgerError(
      'LEDGER__WALLET_MISSING',
      `wallet ${path} is missing, but ${dataDir} holds a ledger made with it (${found.join(', ')}); restore the wallet from a backup: a new one would own none of what it holds or is owed`,
      { path, dataDir, found },
    )
  }
  return loadOrCreateWallet(path, options)
}

/** Whether `path` exists; one that cannot be checked (its permissions) is thrown as it is, not taken as absent. */
async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path)
    return true
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw e
  }
}

/** The mint address a local-mint file holds, or undefined when it is not `{ "mint": <address> }`. */
function mintOf(text: string): Address | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return undefined
  }
  const mint = typeof parsed === 'object' && parsed !== null ? (parsed as { mint?: unknown }).mint : undefined
  return typeof mint === 'string' && isAddress(mint) ? mint : undefined
}

/** The local demo mint of this data directory, created on first use. */
async function localMint(
  transport: LedgerTransport,
  payer: KeyPairSigner,
  dataDir: string,
  options: AbortOptions,
): Promise<Address> {
  const path = join(dataDir, LOCAL_MINT_FILE)
  const corrupt = (why: string) =>
    new LedgerError('LEDGER__STATE_CORRUPT', `${path} does not name a mint on this chain: ${why}`, { path })
  let text: string | undefined
  try {
    // Bounded, and from a regular file only: a link to /dev/zero never ends, a named pipe never answers.
    const bytes = await readBoundedFile(path, MAX_LOCAL_MINT_FILE_BYTES, corrupt, options)
    text = new TextDecoder().decode(bytes)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
  }
  if (text !== undefined) {
    const mint = mintOf(text)
    if (mint === undefined) throw corrupt('it is not {"mint": <address>}')
    if ((await transport.getAccount(mint, options)) === null) throw corrupt(`the chain has no account ${mint}`)
    return mint
  }
  const authority = await loadOrCreateWallet(join(dataDir, MINT_AUTHORITY_FILE), options)
  const mint = await createMint(transport, { payer, mintAuthority: authority.address }, options)
  // Once the mint exists it must be recorded, or the next open would create another: no abort check here.
  await replaceFile(path, JSON.stringify({ mint }))
  return mint
}
