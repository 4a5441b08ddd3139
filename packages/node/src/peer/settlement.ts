import { setMaxListeners } from 'node:events'
import { join } from 'node:path'
import type { Address, KeyPairSigner, Signature } from '@solana/kit'
import { AbortError, type AbortOptions, delay, raceSignal, type Receipt, throwIfAborted } from '@tessera/core'
import {
  bondStake,
  closeEscrow,
  ensureTokenAccount,
  escrowActionPrefix,
  refundEscrow,
  getTokenBalance,
  associatedTokenAddress,
  isLedgerError,
  type Ledger,
  loadOrCreateWallet,
  loadWallet,
  MAX_FEE_BPS,
  openLedger,
  openLedgerWallet,
  openVault,
  parseReceipt,
  readSlashRecord,
  SettlementDriver,
  type SettlementEvent,
  SettlementMachine,
  settlementActionPrefix,
  slashStake,
  type StakeBond,
  type Vault,
  vaultActionPrefix,
  WALLET_FILE,
} from '@tessera/ledger'
import type { Logger } from 'pino'
import type { JobStatus, WalletInfo } from '../api/contract.js'
import type { NodeConfig } from '../config.js'
import type { Datastore, DatastoreWrite, Namespace } from '../datastore.js'
import { NodeError } from '../errors.js'
import {
  SETTLEMENT_RETRY_FIRST_PAUSE_MS,
  SETTLEMENT_RETRY_MAX_PAUSE_MS,
  SETTLEMENT_RETRY_WOKEN_PAUSE_MS,
  SLASHES_KEPT,
} from './constants.js'
import type { EpochCounter } from './epoch-counter.js'
import { unsettledKey } from './receipts.js'
import { errorFields } from './error-fields.js'
import { bondIdOf, type PendingProof, proofHex, SlashBook } from './slash-book.js'

/** A job's settlement as the control API reports it: epoch, receipts, anchor, payouts and what each payee got. */
export type JobSettlementView = NonNullable<JobStatus['settlement']>

/**
 * How a settlement ended, kept with its record so its status is read from disk once the settlement's state in memory
 * (receipts, Merkle tree, machine) is let go.
 */
export interface SettledOutcome {
  /** Co-signed receipts the epoch anchored. */
  receipts: number
  /** The transactions: the anchor first, then the payouts. */
  signatures: string[]
  /** The payee addresses the batch paid. */
  payees: string[]
  /** Token units the payouts carried to workers, net of the fee. */
  net: bigint
  /** The protocol fee, token units. */
  fee: bigint
  /** Budget returned to the creator; absent when the vault was not refunded (nothing was anchored). */
  refunded?: bigint
}

/**
 * What a creator keeps of a job's settlement on disk, written before the vault is funded, so a restart finishes it:
 * the same vault (its opening is idempotent under the epoch), the co-signed receipts it holds, then anchor and pay.
 */
export interface SettlementRecord {
  epoch: number
  budget: bigint
  expected: number
  /** Task ids of the receipts the epoch closed over, fixed before anything is anchored: a restart settles these. */
  closing?: string[]
  /** Anchored, paid and refunded: nothing is left to do. */
  settled?: boolean
  /** With `settled`: what was paid. Absent from records settled before it was kept. */
  outcome?: SettledOutcome
  /**
   * The epoch its receipts name, when not `epoch`: late receipts were signed for their job's epoch and are anchored
   * under it, from a vault and settlement of their own.
   */
  receiptEpoch?: number
  /**
   * The protocol fee (basis points) its payouts take, fixed as it is funded: a restart after `ledger.feeBps` changed
   * pays as the journal already has it, not under a fee the journaled payouts never took. Absent from records of
   * older versions, which settle under the fee configured now.
   */
  feeBps?: number
}

/**
 * The datastore key of a settlement's {@link SettlementRecord} (namespace `settlement`). A job's own epoch settles
 * under its job id; receipts that came back after it closed settle under `<job id>/<epoch>` (job ids hold no `/`).
 */
const recordKey = (settlement: string): string => `job/${settlement}`

/**
 * The key (namespace `settlement`) marking a settlement whose record is not settled yet: a restart resumes these,
 * not every job ever settled. Written and removed in one batch with the record.
 */
const openKey = (settlement: string): string => `open/${settlement}`

/** The id of the epoch vault of settlement epoch `epoch` (`openVault`). */
const vaultIdOf = (epoch: number): string => `epoch-${epoch}`

/** The id of the settlement machine of epoch `epoch`, for the creator wallet `funder`. */
const settlementIdOf = (funder: string, epoch: number): string => `settle-${funder}-${epoch}`

/**
 * The ledger journal's key prefixes of every action of settlement epoch `epoch`: the vault's opening, the anchor and
 * payouts, the refund and close. Once its record says it is settled they are retired (the record answers for them).
 */
function settlementActions(funder: string, epoch: number, vault: string | undefined): string[] {
  return [
    vaultActionPrefix(funder, vaultIdOf(epoch)),
    settlementActionPrefix(settlementIdOf(funder, epoch)),
    ...(vault === undefined ? [] : [escrowActionPrefix(vault)]),
  ]
}

/** The `meta` key set once every settled epoch of an older data directory is marked for retirement. */
const ACTIONS_RETIRED = 'settled-actions-retired'

/**
 * The key (namespace `settlement`) marking a settled epoch whose journal actions are still to be retired: written
 * in the batch that records it settled, removed once they are.
 */
const retireKey = (settlement: string): string => `retire/${settlement}`

/** The `meta` key set once every open settlement on disk has its {@link openKey} (data dirs of older versions). */
const OPEN_INDEXED = 'settlements-open-indexed'

/** The job a settlement key belongs to. */
const jobOfSettlement = (settlement: string): string => settlement.split('/')[0] as string

/** A stored amount: DAG-CBOR gives back a small bigint as a number. */
const amountOf = (value: unknown): unknown =>
  typeof value === 'number' && Number.isSafeInteger(value) ? BigInt(value) : value

const isStrings = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((v) => typeof v === 'string')

/** Whether `value` is a protocol fee the settlement machine takes: whole basis points, 0 to MAX_FEE_BPS. */
const isFeeBps = (value: unknown): boolean =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_FEE_BPS

/** A stored outcome, checked. Undefined when malformed. */
function settledOutcomeOf(value: unknown): SettledOutcome | undefined {
  const o = value as { [K in keyof SettledOutcome]?: unknown } | null
  if (typeof o !== 'object' || o === null) return undefined
  const [net, fee, refunded] = [amountOf(o.net), amountOf(o.fee), amountOf(o.refunded)]
  const { receipts, signatures, payees } = o
  if (
    typeof receipts !== 'number' ||
    !Number.isSafeInteger(receipts) ||
    !isStrings(signatures) ||
    !isStrings(payees) ||
    typeof net !== 'bigint' ||
    typeof fee !== 'bigint' ||
    (refunded !== undefined && typeof refunded !== 'bigint')
  ) {
    return undefined
  }
  return { receipts, signatures, payees, net, fee, ...(refunded !== undefined ? { refunded } : {}) }
}

/** A stored record, checked. Undefined when malformed. */
function settlementRecordOf(value: unknown): SettlementRecord | undefined {
  const r = value as { [K in keyof SettlementRecord]?: unknown } | null
  if (typeof r !== 'object' || r === null) return undefined
  const budget = amountOf(r.budget)
  const { epoch, expected, closing, settled, receiptEpoch, feeBps } = r
  const outcome = r.outcome === undefined ? undefined : settledOutcomeOf(r.outcome)
  if (
    typeof epoch !== 'number' ||
    !Number.isSafeInteger(epoch) ||
    (receiptEpoch !== undefined && (typeof receiptEpoch !== 'number' || !Number.isSafeInteger(receiptEpoch))) ||
    typeof budget !== 'bigint' ||
    typeof expected !== 'number' ||
    !Number.isSafeInteger(expected) ||
    (closing !== undefined && !isStrings(closing)) ||
    (settled !== undefined && typeof settled !== 'boolean') ||
    (r.outcome !== undefined && outcome === undefined) ||
    (feeBps !== undefined && !isFeeBps(feeBps))
  ) {
    return undefined
  }
  return {
    epoch,
    budget,
    expected,
    ...(closing !== undefined ? { closing } : {}),
    ...(settled !== undefined ? { settled } : {}),
    ...(outcome !== undefined ? { outcome } : {}),
    ...(receiptEpoch !== undefined ? { receiptEpoch: receiptEpoch as number } : {}),
    ...(feeBps !== undefined ? { feeBps: feeBps as number } : {}),
  }
}

interface JobSettlement {
  epoch: number
  /** The epoch its receipts name and its batch is anchored under (see {@link SettlementRecord.receiptEpoch}). */
  receiptEpoch: number
  expected: number
  receipts: number
  /** Task ids of the receipts fed to the machine: each once, whether it came back live or from disk. */
  taskIds: Set<string>
  /**
   * The task ids its record says the epoch closed over, when it had closed before this run funded it (a restart
   * resuming it): the epoch is closed already, so a receipt outside them is late, whether or not it is running yet.
   */
  closed?: ReadonlySet<string>
  vault: Vault
  /** What the vault was funded with. */
  budget: bigint
  machine: SettlementMachine
  driver: SettlementDriver
  settled?: { signatures: string[] }
  /** Actions the chain refused for good (or past their retries) since the last try: tried again later. */
  failed: Set<string>
  running?: Promise<void>
  onReceipt?: (() => void) | undefined
  /** Budget returned to the creator after settlement. */
  refunded?: bigint
}

/** A bond posted in this run, and its generation (see `BondRecord`). */
interface PostedBond {
  bond: StakeBond
  generation: number
}

/** The ledger journal's key of the slash of the bond in vault `vault` (`slashStake`). */
const slashActionKey = (vault: string): string => `stake/${vault}/slash`

/** The ledger journal's key of the opening of the worker's bond of generation `generation` (`bondStake`). */
const bondOpenKey = (ledger: Ledger, worker: string, generation: number): string =>
  `${vaultActionPrefix(ledger.wallet.address, `stake/${bondIdOf(worker, generation)}`)}open`

/** A slash carried out on chain. */
export interface SlashView {
  worker: string
  /** The job whose fraud proof the slash was for. */
  jobId: string
  payee: string
  signature: string
  /**
   * Token units the bond held when it was forfeited. Absent when its balance could not be read (an RPC failure):
   * unknown, never recorded as 0.
   */
  amount?: string
}

/** The `meta` key of this node's payment address, recorded as its wallet is made. */
const PAYEE_KEY = 'payee'

/**
 * Namespaces whose records name this node's wallet, in data directories from before {@link PAYEE_KEY} was kept:
 * receipts owed to it, settlements it funded, bonds and slashes it signed.
 */
const WALLET_RECORDS: readonly Namespace[] = ['receipts', 'settlement', 'slashes']

/** The ledger's key files of the roles this node holds beside its wallet (see {@link Settlement}). */
const ROLE_KEY_FILES = ['arbiter.json', 'settler.json', 'treasury.json'] as const

/** The event {@link Settlement}'s waits for the chain listen for: the ledger did what this node asked of it. */
const LEDGER_BACK = 'ledger:back'

/**
 * The creator's side of settlement on the ledger (`@tessera/ledger`): a funded epoch vault per job owned by a 2-of-3
 * multisig [creator, arbiter, settlement key], co-signed receipts fed to the sans-IO settlement machine, one anchor
 * and batched payouts when the job's receipts are all in, and slashes of bonded stake through the arbiter path.
 *
 * On the embedded LiteSVM chain this node also holds the arbiter and settlement keys and posts workers' bonds from
 * its faucet, since no other party reaches its in-process chain; pointed at a shared cluster (`--cluster-url`), each
 * role is its own party. The chain opens lazily: a peer that only works never starts one.
 */
export class Settlement {
  readonly #dir: string
  readonly #config: NodeConfig
  readonly #log: Logger
  readonly #datastore: Datastore
  readonly #epochs: EpochCounter
  /**
   * Receipts co-signed after their job's epoch closed, by job, waiting for an epoch of their own; a job's entry goes
   * once its queue is flushed and empty.
   */
  readonly #late = new Map<string, { receipts: Map<string, Receipt>; flushing?: Promise<boolean> | undefined }>()
  /**
   * Per job, its settlement once the epoch vault is funded (receipts that arrive earlier wait for it), until it is
   * settled and its record says so: from then on the record answers for it, and receipts that come later take the
   * late path.
   */
  readonly #jobs = new Map<string, Promise<JobSettlement>>()
  /**
   * Co-signed receipts of jobs whose funding has not begun yet (new jobs award nothing before they are funded, so
   * these come back to a restart still resuming), by job: fed to the settlement when it does. Held only until
   * {@link resume} is done: a job not funded by then (its funding failed, its record could not be read) will not be
   * in this run, and its receipts, on disk, wait for the next start.
   */
  readonly #early = new Map<string, Map<string, Receipt>>()
  /** {@link resume} is done: every funding this run will begin for a receipt to wait for has begun. */
  #resumed = false
  /**
   * Each worker's bond posted in this run (a posting in flight, shared); one resolving to undefined was found forfeited
   * when posted again, and the next {@link bond} call posts the next generation.
   */
  readonly #bonds = new Map<string, Promise<PostedBond | undefined>>()
  /** Slashes and bond generations, on disk. */
  readonly #book: SlashBook
  /** Jobs whose vault is funded, for status reads that must not wait on the chain; let go with `#jobs`. */
  readonly #funded = new Map<string, JobSettlement>()
  /**
   * Per worker, the turn of the call carrying out its pending proofs (see {@link #carryOut}): one bond, one forfeit.
   * It settles once that call is over; the next call waits on it.
   */
  readonly #slashing = new Map<string, Promise<void>>()
  /** Bond and slash work under way (see {@link #tracked}): {@link close} waits for it. */
  readonly #working = new Set<Promise<unknown>>()
  /**
   * Aborted by {@link close}: settlements waiting to try the chain again stop waiting, and bonds and slashes under way
   * stop.
   */
  readonly #lifetime = new AbortController()
  /** Tells the settlements waiting to try the chain again that the ledger is back (see {@link #ledgerBack}). */
  readonly #ledgerEvents = new EventTarget()
  /** Slashes carried out in this run, oldest first: one per bond forfeited, the latest {@link SLASHES_KEPT}. */
  readonly slashes: SlashView[] = []
  #ledger: Promise<{ ledger: Ledger; arbiter: KeyPairSigner; settler: KeyPairSigner; treasury: Address }> | undefined

  constructor(dir: string, config: NodeConfig, logger: Logger, datastore: Datastore, epochs: EpochCounter) {
    this.#dir = dir
    this.#config = config
    this.#log = logger
    this.#datastore = datastore
    this.#epochs = epochs
    // One listener per settlement waiting to try again, as many as there are jobs the chain failed: not a leak.
    setMaxListeners(Infinity, this.#ledgerEvents)
    this.#book = new SlashBook(datastore)
  }

  /** This node's payment address: where receipts pay it. */
  async payee(options: AbortOptions = {}): Promise<string> {
    return (await this.#ownWallet(options)).address
  }

  /**
   * This node's wallet, made only in a data directory whose records name none yet. One missing once they do (its
   * address recorded when it was made, or receipts, settlements or bonds on record) was lost, deleted or left out of a
   * restore: a new wallet would not be paid the receipts owed to the old one nor own what it holds, so, as for a
   * missing `peer.key`, the start is refused with `NODE__DATA_DIR_NOT_INITIALISED`, naming the file to restore; as
   * it is beside a ledger made with one (`LEDGER__WALLET_MISSING`, see `openLedgerWallet`).
   */
  async #ownWallet(options: AbortOptions): Promise<KeyPairSigner> {
    const path = join(this.#dir, WALLET_FILE)
    try {
      return await loadWallet(path)
    } catch (e) {
      if (!isLedgerError(e, 'LEDGER__WALLET_MISSING')) throw e
    }
    // A record that cannot be read was written all the same.
    const recorded = await this.#datastore.get('meta', PAYEE_KEY).catch(() => null)
    const payee = typeof recorded === 'string' ? recorded : undefined
    let named = recorded !== undefined
    for (const ns of WALLET_RECORDS) named ||= await this.#datastore.holds(ns, options)
    if (named) {
      throw new NodeError(
        'NODE__DATA_DIR_NOT_INITIALISED',
        `${path} is missing, but this node's records name its wallet${payee === undefined ? '' : ` ${payee}`}; restore the file from a backup: a new wallet would not be paid what is owed to the old one, nor own what it holds`,
        { path, ...(payee === undefined ? {} : { payee }) },
      )
    }
    // Refused too where the ledger has state made with a wallet (see openLedgerWallet).
    const wallet = await openLedgerWallet(this.#dir, options)
    await this.#datastore.put('meta', PAYEE_KEY, wallet.address)
    return wallet
  }

  /** Settlements held in memory (funded, or being funded, and not yet settled on record). */
  get active(): number {
    return this.#jobs.size + this.#late.size + this.#early.size
  }

  /**
   * Opens the ledger once for every caller. An opening that fails is forgotten (what it opened closed again), so the
   * next call tries afresh: a cluster briefly away at start must not fail every payment until a restart. It runs under
   * the settlement's lifetime, not a caller's: {@link close} aborts it rather than wait out a cluster that never
   * answers, whose requests are retried for close to a minute.
   */
  #open() {
    if (this.#ledger !== undefined) return this.#ledger
    const abort = { signal: this.#lifetime.signal }
    const opening = (async () => {
      const { transport, url, wsUrl, mint } = this.#config.ledger
      const ledger = await openLedger(
        {
          dataDir: this.#dir,
          ...(transport === 'rpc' && url !== undefined
            ? { rpc: { url, ...(wsUrl !== undefined ? { wsUrl } : {}) } }
            : {}),
          ...(mint !== undefined ? { mint: mint as Address } : {}),
        },
        abort,
      )
      try {
        // A key a vault, payout, bond or slash was made with is never made anew (LEDGER__WALLET_MISSING, naming it):
        // the vaults it co-owns could no longer be paid out or refunded. Made only while the journal holds no action.
        const loadKey = (path: string) => (ledger.journal.empty ? loadOrCreateWallet(path, abort) : loadWallet(path))
        const [arbiter, settler, treasuryKey] = await Promise.all(
          ROLE_KEY_FILES.map((f) => loadKey(join(this.#dir, f))),
        )
        const treasury = await ensureTokenAccount(
          ledger.transport,
          { payer: ledger.wallet, owner: (treasuryKey as KeyPairSigner).address, mint: ledger.mint },
          abort,
        )
        return { ledger, arbiter: arbiter as KeyPairSigner, settler: settler as KeyPairSigner, treasury }
      } catch (e) {
        await ledger.close().catch(() => {})
        throw e
      }
    })()
    this.#ledger = opening
    opening.catch(() => {
      if (this.#ledger === opening) this.#ledger = undefined
    })
    return opening
  }

  /** This node's wallet: its address and balances on the ledger. */
  async wallet(options: AbortOptions = {}): Promise<WalletInfo> {
    // The ledger opens once for every caller: one caller giving up stops its wait, not the opening.
    const { ledger } = await raceSignal(this.#open(), options.signal)
    const balance = await ledger.balance(options)
    return {
      address: ledger.wallet.address,
      lamports: balance.lamports.toString(),
      tokens: balance.tokens.toString(),
      mint: ledger.mint,
    }
  }

  /** Airdrops `tokens` to this node's wallet (local ledgers only) and returns the new balances. */
  async airdrop(tokens: bigint, options: AbortOptions = {}): Promise<WalletInfo> {
    const { ledger } = await raceSignal(this.#open(), options.signal)
    await ledger.airdrop({ tokens }, options)
    // Topped up: a late epoch this wallet was short of tokens to fund can be funded now.
    this.#ledgerBack()
    return this.wallet(options)
  }

  /**
   * The ledger has just done what this node asked of it (a vault opened, an epoch paid, the wallet topped up): the
   * settlements waiting to try it again after a failure (the chain away, a wallet short of tokens) try sooner.
   */
  #ledgerBack(): void {
    this.#ledgerEvents.dispatchEvent(new Event(LEDGER_BACK))
  }

  /**
   * Waits `pauseMs` before a settlement tries the chain again, or {@link SETTLEMENT_RETRY_WOKEN_PAUSE_MS} from when the
   * ledger is back, whichever ends first; rejects with an AbortError once this settlement closes.
   */
  async #retryPause(pauseMs: number): Promise<void> {
    const done = new AbortController()
    // Aborted once the pause is over, which stops the other wait and removes the listener: nothing outlives it.
    const signal = AbortSignal.any([this.#lifetime.signal, done.signal])
    const back = new Promise<void>((resolve) => {
      this.#ledgerEvents.addEventListener(LEDGER_BACK, () => resolve(), { once: true, signal })
    })
    try {
      await Promise.race([
        delay(pauseMs, signal),
        back.then(() => delay(Math.min(pauseMs, SETTLEMENT_RETRY_WOKEN_PAUSE_MS), signal)),
      ])
    } finally {
      done.abort()
    }
  }

  /**
   * Funds a job's epoch vault with its budget before any work is awarded. `options.signal` is honoured until the
   * funding starts, not after: a vault funded on chain while its record was dropped as aborted would lock the budget
   * where no restart finds it. A new job's record fixes the fee configured now as the one its payouts take
   * ({@link SettlementRecord.feeBps}); one on record already is funded as it was recorded.
   */
  async fundJob(
    jobId: string,
    epoch: number,
    budget: bigint,
    expected: number,
    options: AbortOptions = {},
  ): Promise<void> {
    throwIfAborted(options.signal)
    // One funding per settlement: a second call (a late epoch finished by a flush while a restart resumes it) waits
    // for the first. Registered before anything awaits, so no call finds the settlement unregistered meanwhile.
    const under = this.#jobs.get(jobId)
    if (under !== undefined) {
      await under
      return
    }
    let created = false
    const funding = (async () => {
      const record = await this.#record(jobId)
      throwIfAborted(options.signal)
      // Its vault was refunded and closed: funded again, its epoch would be settled (and the budget spent) twice.
      if (record?.settled === true) {
        throw new NodeError('NODE__SETTLEMENT_SETTLED', `the settlement ${jobId} is settled already; fund a new one`, {
          settlement: jobId,
        })
      }
      created = record === undefined
      if (created) {
        await this.#datastore.batch([
          {
            type: 'put',
            ns: 'settlement',
            key: recordKey(jobId),
            value: { epoch, budget, expected, feeBps: this.#config.ledger.feeBps } satisfies SettlementRecord,
          },
          { type: 'put', ns: 'settlement', key: openKey(jobId), value: {} },
        ])
      }
      const feeBps = record?.feeBps ?? this.#config.ledger.feeBps
      const job = await this.#fund(jobId, epoch, budget, expected, record?.receiptEpoch ?? epoch, feeBps)
      if (record?.closing !== undefined) job.closed = new Set(record.closing)
      return job
    })()
    this.#jobs.set(jobId, funding)
    funding.then(
      (job) => this.#funded.set(jobId, job),
      () => {
        if (this.#jobs.get(jobId) === funding) this.#jobs.delete(jobId)
      },
    )
    const early = this.#early.get(jobId)
    this.#early.delete(jobId)
    for (const receipt of early?.values() ?? []) {
      this.receipt(receipt).catch((e: unknown) =>
        this.#log.error({ ...errorFields(e), jobId, taskId: receipt.taskId }, 'receipt:settle-failed'),
      )
    }
    try {
      await funding
    } catch (e) {
      // A new job that cannot be funded is cancelled: nothing is left to settle. A resumed one stays on record, to be
      // tried again at the next start (the chain may be back by then), as does a new one whose vault may have been
      // funded all the same (its opening timed out, say): the next start finishes opening it and refunds it.
      if (created && !(await this.#mayHaveFunded(epoch))) {
        await this.#datastore.batch([
          { type: 'del', ns: 'settlement', key: recordKey(jobId) },
          { type: 'del', ns: 'settlement', key: openKey(jobId) },
        ])
      }
      throw e
    }
  }

  /** Whether the opening of epoch `epoch`'s vault may have reached the chain: journaled, and not refused. */
  async #mayHaveFunded(epoch: number): Promise<boolean> {
    const opened = await this.#ledger?.catch(() => undefined)
    if (opened === undefined) return false
    const { ledger } = opened
    const status = ledger.executor.status(`${vaultActionPrefix(ledger.wallet.address, vaultIdOf(epoch))}open`)
    return status === 'intent' || status === 'confirmed'
  }

  async #fund(
    jobId: string,
    epoch: number,
    budget: bigint,
    expected: number,
    receiptEpoch: number,
    feeBps: number,
  ): Promise<JobSettlement> {
    const { ledger, arbiter, settler, treasury } = await this.#open()
    const { vault } = await openVault(ledger.executor, {
      id: vaultIdOf(epoch),
      funder: ledger.wallet,
      source: await ledger.tokenAccount(),
      signers: [ledger.wallet.address, arbiter.address, settler.address],
      mint: ledger.mint,
      amount: budget,
    })
    const machine = new SettlementMachine({
      settlementId: settlementIdOf(ledger.wallet.address, epoch),
      feeBps,
    })
    const driver = new SettlementDriver({
      machine,
      executor: ledger.executor,
      vault,
      signers: [settler, ledger.wallet],
      treasuryAccount: treasury,
    })
    // Funded: the chain answers, and this wallet held the budget.
    this.#ledgerBack()
    await driver.reconcile()
    const job: JobSettlement = {
      epoch,
      receiptEpoch,
      expected,
      receipts: 0,
      taskIds: new Set(),
      vault,
      budget,
      machine,
      driver,
      failed: new Set(),
    }
    driver.onEvent((event: SettlementEvent) => {
      if (event.name === 'epoch:settled') {
        job.settled = { signatures: event.signatures }
        this.#ledgerBack()
      }
      if (event.name === 'action:failed') job.failed.add(event.key)
      this.#log.info({ jobId, event: event.name }, 'settlement:event')
    })
    return job
  }

  /**
   * A co-signed receipt: settled with the rest of its job once all are in, or, when its job's epoch has closed (its
   * worker was away past the grace, or the epoch closed without it before a restart), in an epoch of its own with the
   * others that came late (resolves once paid).
   */
  async receipt(receipt: Receipt): Promise<void> {
    const funding = this.#jobs.get(receipt.jobId)
    if (funding === undefined) {
      // Its job settled before this run started: the record says whether it had.
      if ((await this.#record(receipt.jobId))?.closing !== undefined) return this.#settleLate(receipt)
      if (this.#jobs.has(receipt.jobId)) return this.receipt(receipt)
      // Its job's funding was given up at this start (the chain away, its record unreadable): held here, it would
      // wait for good. It is on disk, and the next start settles it.
      if (this.#resumed) {
        this.#log.warn({ jobId: receipt.jobId, taskId: receipt.taskId }, 'settlement:receipt-deferred')
        return
      }
      // Its job's funding has not begun (a restart is still resuming the settlements it left): it joins the
      // settlement once it does. It is on disk too, so a restart before then settles it as well.
      let early = this.#early.get(receipt.jobId)
      if (early === undefined) this.#early.set(receipt.jobId, (early = new Map()))
      early.set(receipt.taskId, receipt)
      return
    }
    const job = await funding
    if (job.taskIds.has(receipt.taskId)) return
    // Fed to an epoch closed without it, it would be anchored under a root the ledger's journal does not hold.
    const closed = job.running !== undefined || (job.closed !== undefined && !job.closed.has(receipt.taskId))
    if (closed) return this.#settleLate(receipt)
    this.#feed(job, receipt)
  }

  #feed(job: JobSettlement, receipt: Receipt): void {
    job.driver.handle({ type: 'receipt', receipt })
    job.taskIds.add(receipt.taskId)
    job.receipts++
    job.onReceipt?.()
  }

  async #settleLate(receipt: Receipt): Promise<void> {
    this.#log.info({ jobId: receipt.jobId, taskId: receipt.taskId }, 'settlement:late-receipt')
    let queue = this.#late.get(receipt.jobId)
    if (queue === undefined) this.#late.set(receipt.jobId, (queue = { receipts: new Map() }))
    queue.receipts.set(receipt.taskId, receipt)
    const waiting = queue
    // Until the queue is empty: a receipt queued as a flush finished its last round starts the next one. Every
    // receipt waiting on the queue waits on its one flush, retries included; stopped, the receipts, on disk, are
    // settled at the next start.
    while (waiting.receipts.size > 0) {
      waiting.flushing ??= this.#flushLateUntilDone(receipt.jobId, waiting)
      const flushed = waiting.flushing
      const done = await flushed
      if (waiting.flushing === flushed) waiting.flushing = undefined
      if (!done) return
    }
    // Flushed and empty: a receipt that comes later starts a queue of its own.
    if (this.#late.get(receipt.jobId) === waiting) this.#late.delete(receipt.jobId)
  }

  /**
   * {@link #flushLate}, tried again when it fails (the chain away as the epoch was funded, say) after pauses doubling
   * from SETTLEMENT_RETRY_FIRST_PAUSE_MS to SETTLEMENT_RETRY_MAX_PAUSE_MS, as an unpaid epoch is. Resolves true once
   * flushed, false when this settlement closes first.
   */
  async #flushLateUntilDone(jobId: string, queue: { receipts: Map<string, Receipt> }): Promise<boolean> {
    for (let pause = SETTLEMENT_RETRY_FIRST_PAUSE_MS; ; pause = Math.min(2 * pause, SETTLEMENT_RETRY_MAX_PAUSE_MS)) {
      try {
        await this.#flushLate(jobId, queue)
        return true
      } catch (e) {
        this.#log.error({ ...errorFields(e), jobId, retryInMs: pause }, 'settlement:failed')
      }
      const stopped = await this.#retryPause(pause).then(
        () => false,
        () => true,
      )
      if (stopped) return false
    }
  }

  /**
   * Settles a job's late receipts in a fresh epoch funded with exactly what they pay: recorded (with the task ids it
   * closes over) before it is funded, so a restart finishes it like any other. Receipts an earlier epoch of the job
   * closed over are not paid again.
   */
  async #flushLate(jobId: string, queue: { receipts: Map<string, Receipt> }): Promise<void> {
    await (
      await this.#jobs.get(jobId)?.catch(() => undefined)
    )?.running
    await this.#finishLate(jobId, queue)
    const covered = await this.#covered(jobId)
    for (;;) {
      const waiting = [...queue.receipts.values()].filter((r) => !covered.has(r.taskId))
      queue.receipts.clear()
      if (waiting.length === 0) return
      // One settlement anchors one epoch's receipts: any naming another wait for the next round.
      const receiptEpoch = (waiting[0] as Receipt).epoch
      const late = waiting.filter((r) => r.epoch === receiptEpoch)
      for (const r of waiting) if (r.epoch !== receiptEpoch) queue.receipts.set(r.taskId, r)
      const epoch = this.#epochs.take()
      await this.#epochs.save()
      const settlement = `${jobId}/${epoch}`
      const closing = late.map((r) => r.taskId)
      const budget = late.reduce((sum, r) => sum + r.amount, 0n)
      const record: SettlementRecord = {
        epoch,
        budget,
        expected: late.length,
        closing,
        receiptEpoch,
        feeBps: this.#config.ledger.feeBps,
      }
      try {
        await this.#datastore.batch([
          { type: 'put', ns: 'settlement', key: recordKey(settlement), value: record },
          { type: 'put', ns: 'settlement', key: openKey(settlement), value: {} },
        ])
        await this.fundJob(settlement, epoch, budget, late.length)
      } catch (e) {
        // Back in the queue for the next try, which finishes this epoch, left open on record, with them.
        for (const r of late) if (!queue.receipts.has(r.taskId)) queue.receipts.set(r.taskId, r)
        throw e
      }
      const job = (await this.#jobs.get(settlement)) as JobSettlement
      for (const receipt of late) this.#feed(job, receipt)
      await this.closeJob(settlement, late.length, 0)
      for (const taskId of closing) covered.add(taskId)
    }
  }

  /**
   * Finishes the job's late epochs left open on record and not being settled (a failed flush's, or one a restart
   * could not fund): funded (again: its vault may have been funded as the funding failed), fed every receipt it
   * closes over (queued here, or co-signed on disk), and closed. One whose receipts are not all at hand (one on disk
   * unreadable, say) is left to the next start, which resumes it like any open epoch (closing it after the grace
   * with the receipts it has; one left out is not covered, so it is paid later in an epoch of its own). Receipts of
   * an epoch finished here are covered from then on, so the flush that follows does not pay them again.
   */
  async #finishLate(jobId: string, queue: { receipts: Map<string, Receipt> }): Promise<void> {
    const late = `${recordKey(jobId)}/`
    const open: Array<[string, SettlementRecord]> = []
    for await (const [key, value] of this.#datastore.entries('settlement', { prefix: late, onCorrupt: () => {} })) {
      const settlement = key.slice('job/'.length)
      const record = settlementRecordOf(value)
      if (record !== undefined && record.settled !== true && !this.#jobs.has(settlement)) {
        open.push([settlement, record])
      }
    }
    for (const [settlement, record] of open) {
      const closing = record.closing ?? []
      const receipts: Receipt[] = []
      for (const taskId of closing) {
        const receipt = queue.receipts.get(taskId) ?? (await this.#cosigned(jobId, taskId))
        if (receipt !== undefined) receipts.push(receipt)
      }
      if (receipts.length < closing.length) {
        this.#log.warn({ settlement, missing: closing.length - receipts.length }, 'settlement:late-deferred')
        continue
      }
      await this.fundJob(settlement, record.epoch, record.budget, record.expected)
      const job = (await this.#jobs.get(settlement)) as JobSettlement
      for (const receipt of receipts) if (!job.taskIds.has(receipt.taskId)) this.#feed(job, receipt)
      await this.closeJob(settlement, closing.length, 0)
    }
  }

  /** A co-signed receipt of job `jobId` kept on disk (`ReceiptExchange`), or undefined when none can be read. */
  async #cosigned(jobId: string, taskId: string): Promise<Receipt | undefined> {
    const receipt = await this.#datastore.get('receipts', taskId, parseReceipt).catch(() => undefined)
    return receipt?.jobId === jobId && receipt.workerSig !== undefined ? receipt : undefined
  }

  /**
   * Task ids every recorded epoch of a job closed over (its own and its late ones). One of the job's records that
   * cannot be read fails the call: the receipts it closed over might be paid again. Other jobs' records are no
   * concern here (the start-up scan reports them).
   */
  async #covered(jobId: string): Promise<Set<string>> {
    return new Set((await this.#coverage(jobId)).keys())
  }

  /** {@link #covered}, with whether the epoch that closed over each task has settled. */
  async #coverage(jobId: string): Promise<Map<string, boolean>> {
    const ours = (key: string) => key === recordKey(jobId) || key.startsWith(`${recordKey(jobId)}/`)
    const covered = new Map<string, boolean>()
    const onCorrupt = (key: string, error: NodeError) => {
      if (ours(key)) throw error
    }
    for await (const [key, value] of this.#datastore.entries('settlement', { prefix: recordKey(jobId), onCorrupt })) {
      if (!ours(key)) continue
      const record = this.#checked(key, value)
      for (const taskId of record.closing ?? []) covered.set(taskId, record.settled === true)
    }
    return covered
  }

  /**
   * Closes a finished job's epoch once every accepted task's receipt is co-signed, or after `graceMs` (a worker
   * that vanished cannot countersign; its receipt, when it comes, is paid in an epoch of its own), then anchors and
   * pays.
   */
  async closeJob(jobId: string, accepted: number, graceMs: number): Promise<void> {
    const job = await this.#jobs.get(jobId)
    if (job === undefined || job.running !== undefined) return
    if (job.receipts < accepted) {
      // The grace ends when it runs out, when every receipt is in, or when this settlement closes.
      const allIn = new AbortController()
      job.onReceipt = () => {
        if (job.receipts >= accepted) allIn.abort()
      }
      await delay(graceMs, AbortSignal.any([this.#lifetime.signal, allIn.signal])).catch(() => {})
    }
    job.onReceipt = undefined
    // Closed during the grace: the job stays open on disk, and the next start settles it.
    if (this.#lifetime.signal.aborted) return
    // Claimed before the first await, so a second close (a resumed job completing twice) finds it running.
    const closing = [...job.taskIds]
    job.running = (async () => {
      const record = await this.#record(jobId)
      if (record !== undefined && record.closing === undefined) {
        await this.#datastore.put('settlement', recordKey(jobId), { ...record, closing })
      }
      job.driver.handle({ type: 'close-epoch', epoch: job.receiptEpoch })
      // Stopped with the node: an action under way stays open in the ledger's journal, and the next start resumes.
      await job.driver.run({ signal: this.#lifetime.signal })
      await this.#untilPaid(jobId, job)
      await this.#refund(jobId, job)
      if (record !== undefined) {
        const outcome = this.#outcome(job)
        // Paid: neither the settlement nor its receipts are read at a restart any more.
        await this.#datastore.batch([
          {
            type: 'put',
            ns: 'settlement',
            key: recordKey(jobId),
            value: { ...record, closing, settled: true, outcome },
          },
          { type: 'del', ns: 'settlement', key: openKey(jobId) },
          ...closing.map((taskId) => ({ type: 'del' as const, ns: 'receipts' as const, key: unsettledKey(taskId) })),
          // Settled on record: the record answers for it from now on (status, paid), so the journal's record of
          // its actions, which every restart would read, can go; marked in this batch, so a crash before they are
          // retired leaves the mark for the next start. Refunded and closed only: an epoch that never settled keeps
          // its vault's actions.
          ...(job.refunded !== undefined
            ? [{ type: 'put' as const, ns: 'settlement' as const, key: retireKey(jobId), value: {} }]
            : []),
        ])
        if (job.refunded !== undefined) await this.#retireMarked()
        // A receipt that comes later finds the closed epoch in the record and takes the late path, so the state in
        // memory can go.
        this.#jobs.delete(jobId)
        this.#funded.delete(jobId)
      }
    })().catch((e: unknown) => {
      if (this.#lifetime.signal.aborted) this.#log.info({ jobId }, 'settlement:stopped')
      else this.#log.error({ ...errorFields(e), jobId }, 'settlement:failed')
    })
    await job.running
  }

  /**
   * Tries an epoch's refused actions again, after pauses doubling from SETTLEMENT_RETRY_FIRST_PAUSE_MS to
   * SETTLEMENT_RETRY_MAX_PAUSE_MS, until it is paid: an anchor or payout the chain refused (an outage past the
   * driver's own retries) leaves the epoch unpaid, which must never be recorded as settled. Rejects with an
   * AbortError when this settlement closes; the job stays open on disk, and the next start resumes it.
   */
  async #untilPaid(jobId: string, job: JobSettlement): Promise<void> {
    for (let pause = SETTLEMENT_RETRY_FIRST_PAUSE_MS; job.settled === undefined;) {
      const failed = [...job.failed]
      this.#log.warn({ jobId, failed, retryInMs: pause }, 'settlement:unpaid')
      await this.#retryPause(pause)
      job.failed.clear()
      for (const key of failed) job.driver.handle({ type: 'retry', key })
      await job.driver.run({ signal: this.#lifetime.signal })
      pause = Math.min(2 * pause, SETTLEMENT_RETRY_MAX_PAUSE_MS)
    }
  }

  /**
   * Retires the journal's actions of the settled epochs marked for it (`retire/<settlement>`), then their marks. The
   * ledger opens only when there is a mark. A failure costs only journal space, so it is logged; the marks stay for
   * the next try.
   */
  async #retireMarked(): Promise<void> {
    try {
      const marked: string[] = []
      for await (const [key] of this.#datastore.entries('settlement', { prefix: retireKey(''), onCorrupt: () => {} })) {
        marked.push(key.slice(retireKey('').length))
      }
      if (marked.length === 0) return
      const { ledger } = await this.#open()
      const funder = ledger.wallet.address
      const pending = ledger.journal.pending().map((intent) => intent.key)
      const prefixes: string[] = []
      // Only marks whose every action is retired go; one with an action pending (or unreadable) is tried again.
      const done: string[] = []
      for (const settlement of marked) {
        const record = await this.#record(settlement).catch(() => undefined)
        if (record === undefined) continue
        // The vault's address is the one its opening recorded in the journal.
        const vault = ledger.journal.intent(`${vaultActionPrefix(funder, vaultIdOf(record.epoch))}open`)?.meta.vault
        const actions = settlementActions(funder, record.epoch, vault)
        if (actions.some((prefix) => pending.some((key) => key.startsWith(prefix)))) continue
        prefixes.push(...actions)
        done.push(settlement)
      }
      await ledger.journal.retire(prefixes)
      await this.#datastore.batch(done.map((s) => ({ type: 'del', ns: 'settlement', key: retireKey(s) })))
    } catch (e) {
      this.#log.warn({ ...errorFields(e) }, 'settlement:retire-failed')
    }
  }

  /**
   * Marks for retirement every epoch settled before this version retired their actions, once per data directory
   * (it reads every settlement record, not the ledger).
   */
  async #markSettled(): Promise<void> {
    if ((await this.#datastore.get('meta', ACTIONS_RETIRED)) !== undefined) return
    const marks: DatastoreWrite[] = []
    for await (const [key, value] of this.#datastore.entries('settlement', { prefix: 'job/', onCorrupt: () => {} })) {
      const record = settlementRecordOf(value)
      // Refunded and closed only, as at run time.
      if (record?.settled !== true || record.outcome?.refunded === undefined) continue
      marks.push({ type: 'put', ns: 'settlement', key: retireKey(key.slice('job/'.length)), value: {} })
    }
    await this.#datastore.batch([...marks, { type: 'put', ns: 'meta', key: ACTIONS_RETIRED, value: 1 }])
  }

  /** What a settlement paid, from its machine's batch. */
  #outcome(job: JobSettlement): SettledOutcome {
    const batch = job.machine.batch(job.receiptEpoch)
    const payouts = batch?.payouts ?? []
    return {
      receipts: job.receipts,
      signatures: job.settled?.signatures ?? [],
      payees: payouts.map((p) => p.payee),
      net: payouts.reduce((sum, p) => sum + p.net, 0n),
      fee: batch?.fee ?? 0n,
      ...(job.refunded !== undefined ? { refunded: job.refunded } : {}),
    }
  }

  /**
   * Finishes, after a restart, the settlement of every job that had not settled: re-opens its vault (idempotent), feeds
   * it the co-signed receipts `receipts` holds for it (those its epoch closed over, when it had closed) and closes the
   * epoch once `accepted(jobId)` receipts are in or the grace has run out; receipts co-signed after their job's epoch
   * closed get an epoch of their own. `receipts` are those no settlement had paid when the peer stopped (see
   * `ReceiptExchange.stored`); one an earlier settlement did pay is unmarked, so the next start does not read it.
   * Returns the settlements resumed (job ids, `<job id>/<epoch>` for late receipts) and their epochs. A record that
   * cannot be read is logged (`record:skipped`) and left on disk, and its settlement is not resumed (nor are its job's
   * receipts paid late, which might pay them twice); the others resume.
   *
   * It reads the settlements left open and the records of the jobs those receipts belong to, not every record ever
   * written; the first start of a data directory from before that index reads every record once to build it.
   *
   * Receipts that came back while it ran for a job it did not fund (its funding failed, its record could not be
   * read) are let go from memory once it is done, as are any that come later: they are on disk for the next start.
   */
  async resume(
    receipts: readonly Receipt[],
    accepted: (jobId: string) => Promise<number>,
    graceMs: number,
  ): Promise<Map<string, number>> {
    try {
      return await this.#resume(receipts, accepted, graceMs)
    } finally {
      this.resumeAbandoned()
    }
  }

  /**
   * Ends the start's resuming without resuming anything (the peer could not read the receipts it left): receipts held
   * for a funding that will not begin in this run are let go, as are any that come later, for the next start to
   * settle from disk. {@link resume} ends this way too.
   */
  resumeAbandoned(): void {
    this.#resumed = true
    for (const [jobId, early] of this.#early) {
      this.#log.warn({ jobId, receipts: early.size }, 'settlement:receipt-deferred')
    }
    this.#early.clear()
  }

  async #resume(
    receipts: readonly Receipt[],
    accepted: (jobId: string) => Promise<number>,
    graceMs: number,
  ): Promise<Map<string, number>> {
    const skip = (key: string, error: NodeError) =>
      this.#log.error({ ...errorFields(error), ns: 'settlement', key }, 'record:skipped')
    const byJob = new Map<string, Receipt[]>()
    for (const receipt of receipts) {
      const list = byJob.get(receipt.jobId)
      if (list === undefined) byJob.set(receipt.jobId, [receipt])
      else list.push(receipt)
    }
    const resumed = new Map<string, number>()
    await this.#markSettled().catch((e: unknown) => this.#log.warn({ ...errorFields(e) }, 'settlement:retire-failed'))
    await this.#retireMarked()
    for (const [settlement, record] of await this.#openRecords(skip)) {
      try {
        await this.fundJob(settlement, record.epoch, record.budget, record.expected)
      } catch (e) {
        this.#log.error({ settlement, err: String(e) }, 'settlement:resume-failed')
        continue
      }
      const job = (await this.#jobs.get(settlement)) as JobSettlement
      const jobId = jobOfSettlement(settlement)
      const closing = record.closing === undefined ? undefined : new Set(record.closing)
      for (const receipt of byJob.get(jobId) ?? []) {
        if (job.taskIds.has(receipt.taskId)) continue
        if (closing === undefined || closing.has(receipt.taskId)) this.#feed(job, receipt)
      }
      resumed.set(settlement, record.epoch)
      this.#log.info({ settlement, epoch: record.epoch, closed: closing !== undefined }, 'settlement:resumed')
      void this.closeJob(settlement, closing?.size ?? (await accepted(jobId)), graceMs)
    }
    // Receipts that came back after their job's epoch closed and before the stop: an epoch of their own. Those an
    // epoch already paid (marked before the index existed, or by a crash of an older version) are unmarked.
    const paid: string[] = []
    for (const [jobId, list] of byJob) {
      let coverage: Map<string, boolean>
      try {
        if ((await this.#record(jobId))?.closing === undefined) continue
        coverage = await this.#coverage(jobId)
      } catch (e) {
        skip(recordKey(jobId), e as NodeError)
        continue
      }
      for (const receipt of list) {
        const settled = coverage.get(receipt.taskId)
        if (settled === undefined) void this.#settleLate(receipt)
        else if (settled) paid.push(receipt.taskId)
      }
    }
    if (paid.length > 0) {
      await this.#datastore.batch(paid.map((taskId) => ({ type: 'del', ns: 'receipts', key: unsettledKey(taskId) })))
    }
    await this.#resumeSlashes()
    return resumed
  }

  /**
   * The settlements whose records are not settled, by settlement id, from the open index (built on the first start
   * of an older data directory). A record that cannot be read is reported to `skip` and left, marked open, on disk.
   */
  async #openRecords(skip: (key: string, error: NodeError) => void): Promise<Map<string, SettlementRecord>> {
    if ((await this.#datastore.get('meta', OPEN_INDEXED)) === undefined) {
      const open: string[] = []
      const unreadable = (key: string) => void (key.startsWith('job/') && open.push(key.slice('job/'.length)))
      for await (const [key, value] of this.#datastore.entries('settlement', {
        prefix: 'job/',
        onCorrupt: unreadable,
      })) {
        const record = settlementRecordOf(value)
        if (record?.settled !== true) open.push(key.slice('job/'.length))
      }
      await this.#datastore.batch([
        ...open.map((settlement) => ({
          type: 'put' as const,
          ns: 'settlement' as const,
          key: openKey(settlement),
          value: {},
        })),
        { type: 'put', ns: 'meta', key: OPEN_INDEXED, value: 1 },
      ])
    }
    const records = new Map<string, SettlementRecord>()
    for await (const [key] of this.#datastore.entries('settlement', { prefix: openKey(''), onCorrupt: skip })) {
      const settlement = key.slice(openKey('').length)
      let record: SettlementRecord | undefined
      try {
        record = await this.#record(settlement)
      } catch (e) {
        skip(recordKey(settlement), e as NodeError)
        continue
      }
      if (record !== undefined && record.settled !== true) records.set(settlement, record)
      // Settled or gone, with its mark left behind by an older version's crash: nothing to resume.
      else await this.#datastore.delete('settlement', key)
    }
    return records
  }

  async #record(settlement: string): Promise<SettlementRecord | undefined> {
    const value = await this.#datastore.get('settlement', recordKey(settlement))
    return value === undefined ? undefined : this.#checked(settlement, value)
  }

  #checked(settlement: string, value: unknown): SettlementRecord {
    const record = settlementRecordOf(value)
    if (record === undefined) {
      throw new NodeError('NODE__DATASTORE_CORRUPT', `the settlement record ${settlement} is malformed`, {
        settlement,
      })
    }
    return record
  }

  /**
   * Returns what the epoch vault still holds (the budget not earned) to the creator, creator + arbiter signing as
   * for an escrow refund, and closes the vault so its rent comes back too.
   */
  async #refund(jobId: string, job: JobSettlement): Promise<void> {
    if (job.settled === undefined) return
    const { ledger, arbiter, settler } = await this.#open()
    const escrow = {
      ...job.vault,
      jobId,
      parties: { creator: ledger.wallet.address, worker: settler.address, arbiter: arbiter.address },
    }
    const left = await getTokenBalance(ledger.transport, job.vault.address)
    if (left > 0n) {
      await refundEscrow(ledger.executor, {
        escrow,
        creatorAccount: await ledger.tokenAccount(),
        signers: [ledger.wallet, arbiter],
      })
    }
    await closeEscrow(ledger.executor, { escrow, signers: [ledger.wallet, arbiter] })
    // An empty vault may be one refunded before a restart (the refund landed, the record saying so did not): what it
    // returned is the budget less the epoch's payouts and fee, the only other ways out of the vault.
    const { net, fee } = this.#outcome(job)
    const spent = net + fee
    job.refunded = left > 0n ? left : job.budget > spent ? job.budget - spent : 0n
    this.#log.info({ jobId, refunded: job.refunded.toString() }, 'settlement:refunded')
  }

  /**
   * Posts a worker's stake bond into a vault owned by [worker, creator, arbiter] (once per worker and run: the
   * bond of the worker's current generation, posted again idempotently after a restart, with what it was first
   * posted with), so a fraud proof can forfeit it; then carries out the fraud proofs upheld against the worker that
   * had no bond to forfeit (see {@link slash}): the bond is the next one they forfeit. A bond a slash emptied is
   * followed by a new one, under the next generation. Rejects with an AbortError when `options.signal` aborts or this
   * settlement closes; the next call posts the bond under way (again, idempotently).
   */
  async bond(worker: string, payee: string, stake: bigint, options: AbortOptions = {}): Promise<void> {
    if (stake <= 0n) return
    await this.#tracked(async (signal) => {
      await this.#bonded(worker, payee, stake, signal)
      // The bond is posted whatever becomes of them: a proof that fails stays pending, logged, for the next try.
      await this.#carryOut(worker, signal).catch((e: unknown) => {
        throwIfAborted(signal)
        this.#log.error({ ...errorFields(e), worker }, 'slash:failed')
      })
    }, options)
  }

  /** Makes sure the worker's bond is posted in this run: the posting under way or done, or a new one. */
  async #bonded(worker: string, payee: string, stake: bigint, signal: AbortSignal): Promise<void> {
    for (;;) {
      const current = this.#bonds.get(worker)
      if (current === undefined) break
      const failedAsNone = current.catch(() => undefined)
      if ((await raceSignal(failedAsNone, signal)) !== undefined) return
      // The bond on record turned out forfeited (see #bondOnRecord), or its posting failed: the first caller back
      // posts the next one, the others wait on that.
      if (this.#bonds.get(worker) === current) {
        this.#bonds.delete(worker)
        break
      }
    }
    await raceSignal(this.#track(worker, this.#postBond(worker, payee, stake, true)), signal)
  }

  /**
   * Keeps a posting as the worker's bond of this run, so callers share it (each waiting on it as long as its own
   * signal lets it), and as work {@link close} waits for; one that fails is let go.
   */
  #track(worker: string, posting: Promise<PostedBond | undefined>): Promise<PostedBond | undefined> {
    this.#bonds.set(worker, posting)
    this.#keep(posting)
    posting.catch(() => {
      if (this.#bonds.get(worker) === posting) this.#bonds.delete(worker)
    })
    return posting
  }

  /**
   * Posts the worker's bond of its current generation, under this settlement's lifetime (the posting is shared). What
   * it is posted with is recorded before the chain is asked, so a stop between leaves a bond a slash finds and a
   * restart posts again as it was. One a slash emptied already (the journal giving back its closed vault) has that
   * slash recorded, when its proof is pending, and then, with `next`, the next generation's bond is posted; without
   * it (a slash carrying on with the bond on record) nothing more is posted, and undefined is returned.
   */
  async #postBond(worker: string, payee: string, stake: bigint, next: boolean): Promise<PostedBond | undefined> {
    // A signal of its own: the lifetime's would gather a listener per posting under way.
    const signal = AbortSignal.any([this.#lifetime.signal])
    const { ledger, arbiter } = await raceSignal(this.#open(), signal)
    let record = await this.#book.bond(worker)
    for (;;) {
      // The ledger replays an opening only as it journaled it: a bond it journaled is posted as recorded. One it did
      // not is recorded first (the intent), with what this call asks: a stop after the chain is asked leaves on record
      // what it may hold. One journaled and not recorded (a previous version stopped between) is recorded once the
      // chain took what this call asks, as that version did.
      const journaled = ledger.executor.status(bondOpenKey(ledger, worker, record.generation)) !== undefined
      const recorded = record.payee !== undefined && record.stake !== undefined
      const posting = {
        generation: record.generation,
        payee: (journaled ? record.payee : undefined) ?? payee,
        stake: (journaled ? record.stake : undefined) ?? stake,
      }
      if (!journaled) await this.#book.setBond(worker, posting)
      const { bond } = await bondStake(
        ledger.executor,
        {
          bondId: bondIdOf(worker, posting.generation),
          worker: posting.payee as Address,
          funder: ledger.wallet,
          source: await ledger.tokenAccount({ signal }),
          counterparty: ledger.wallet.address,
          arbiter: arbiter.address,
          mint: ledger.mint,
          amount: posting.stake,
        },
        { signal },
      )
      if (journaled && !recorded) await this.#book.setBond(worker, posting)
      const posted = { bond, generation: posting.generation }
      // Slashed already: a slash this node had upheld and not seen through (the ledger carried it out as it opened) is
      // recorded first, under its job; one whose proof is not pending (journaled by a version that kept no proofs) is
      // only stepped over.
      if (ledger.executor.status(slashActionKey(bond.address)) === 'confirmed') {
        const pending = await this.#pendingOf(worker)
        const carriedOn = this.#journaledProof(ledger, bond, pending)
        if (carriedOn !== undefined) await this.#slashBond(worker, posted, carriedOn, pending, signal)
        else await this.#book.setBond(worker, { generation: posting.generation + 1 })
        if (!next) return undefined
        record = { generation: posting.generation + 1 }
        continue
      }
      this.#log.info(
        { worker, stake: posting.stake.toString(), bond: bond.address, generation: posting.generation },
        'stake:bonded',
      )
      return posted
    }
  }

  /**
   * Forfeits a caught worker's bond to the treasury, the fraud proof's hash on chain beside it. The proof is journaled
   * as pending before anything else, even when `options.signal` has aborted already: one the node stops before
   * carrying out, or cannot carry out yet (the chain away), is carried out at the next start ({@link resume}), and
   * one with no bond to forfeit (the worker's bond forfeited already, or never posted) stays pending, logged
   * `stake:no-bond`, until the worker's next bond is posted ({@link bond}) or the next start. A worker with no bond
   * posted in this run has the one on record posted again first; a slash never posts a new bond to forfeit.
   *
   * A bond is forfeited once and a proof forfeits one bond: a worker's pending proofs are carried out one at a time,
   * each against the worker's bond of the moment, so a proof upheld while another is being carried out waits for it,
   * then for the worker's next bond. A proof whose slash the ledger journaled goes first (the ledger carries on the
   * proof it journaled), under its own job. Resolves with the latest slash this call carried out (another pending
   * proof's, maybe), or undefined when it carried out none. Rejects with an AbortError when `options.signal` aborts or
   * this settlement closes; the proof stays pending.
   */
  async slash(
    worker: string,
    jobId: string,
    fraudProofHash: Uint8Array,
    options: AbortOptions = {},
  ): Promise<SlashView | undefined> {
    return this.#tracked(async (signal) => {
      if (await this.#book.carriedOut(worker, fraudProofHash)) return undefined
      await this.#book.pend(worker, { jobId, fraudProofHash })
      throwIfAborted(signal)
      return this.#carryOut(worker, signal)
    }, options)
  }

  /**
   * Carries out the worker's pending proofs (see {@link #carryOutPending}) once the carrying out of them under way, if
   * any, is over: one worker's proofs are carried out by one call at a time.
   */
  #carryOut(worker: string, signal: AbortSignal): Promise<SlashView | undefined> {
    const previous = this.#slashing.get(worker) ?? Promise.resolve()
    const run = raceSignal(previous, signal).then(() => this.#carryOutPending(worker, signal))
    // Settles once both have: a call that stops waiting early does not let the next one start beside the previous.
    const turn = Promise.allSettled([previous, run]).then(() => {
      if (this.#slashing.get(worker) === turn) this.#slashing.delete(worker)
    })
    this.#slashing.set(worker, turn)
    return run
  }

  /**
   * Forfeits the worker's bond for a pending proof, then the next bond for the next one, while the worker has a bond
   * posted; resolves with the latest slash carried out, or undefined when none was.
   */
  async #carryOutPending(worker: string, signal: AbortSignal): Promise<SlashView | undefined> {
    let latest: SlashView | undefined
    while ((await this.#pendingOf(worker)).length > 0) {
      const posting = this.#bonds.get(worker) ?? this.#bondOnRecord(worker)
      const posted = await raceSignal(posting, signal)
      // Read again: posting the bond again may have recorded a slash of it carried out before a restart.
      const pending = await this.#pendingOf(worker)
      if (pending.length === 0) break
      if (posted === undefined) {
        this.#log.warn({ worker, pending: pending.length }, 'stake:no-bond')
        break
      }
      const { ledger } = await raceSignal(this.#open(), signal)
      const proof = this.#journaledProof(ledger, posted.bond, pending) ?? (pending[0] as PendingProof)
      latest = await this.#slashBond(worker, posted, proof, pending, signal)
      // Forfeited: the worker's next bond is a new one, which the next proof may forfeit in turn.
      if (this.#bonds.get(worker) === posting) this.#bonds.delete(worker)
    }
    return latest
  }

  /**
   * The worker's bond on record (posted in an earlier run), posted again; undefined when none was ever posted (none
   * recorded, or one recorded the ledger never journaled: the chain was not asked for it), or when it turned out
   * forfeited already (its slash recorded then): a slash never posts a new bond to forfeit.
   */
  #bondOnRecord(worker: string): Promise<PostedBond | undefined> {
    const posting = (async () => {
      const { generation, payee, stake } = await this.#book.bond(worker)
      if (payee === undefined || stake === undefined) return undefined
      const { ledger } = await raceSignal(this.#open(), AbortSignal.any([this.#lifetime.signal]))
      if (ledger.executor.status(bondOpenKey(ledger, worker, generation)) === undefined) return undefined
      return this.#postBond(worker, payee, stake, false)
    })()
    return this.#track(worker, posting)
  }

  /** The pending proof a slash of `bond` journaled names, if any: the one the ledger carries on (see `slashStake`). */
  #journaledProof(ledger: Ledger, bond: StakeBond, pending: readonly PendingProof[]): PendingProof | undefined {
    const journaled = ledger.journal.intent(slashActionKey(bond.address))?.meta.fraudProofHash
    return pending.find((proof) => proofHex(proof.fraudProofHash) === journaled)
  }

  /** The fraud proofs upheld against the worker and not carried out yet (see `SlashBook.pendingOf`). */
  #pendingOf(worker: string): Promise<PendingProof[]> {
    return this.#book.pendingOf(worker, this.#skipSlashRecord, this.#forfeitedAlready)
  }

  /** A record of the `slashes` namespace that cannot be read: logged, and left on disk. */
  readonly #skipSlashRecord = (key: string, error: NodeError): void =>
    this.#log.error({ ...errorFields(error), ns: 'slashes', key }, 'record:skipped')

  /** An older version's upheld proof whose bond was forfeited already: done with, and never carried out again. */
  readonly #forfeitedAlready = (worker: string, { jobId }: PendingProof): void =>
    this.#log.warn({ worker, jobId }, 'slash:already-forfeited')

  /** A job's slashes, from disk: they outlive the run that carried them out. */
  async slashesOf(jobId: string): Promise<SlashView[]> {
    return this.#book.slashesOf(jobId, this.#skipSlashRecord)
  }

  /** Carries out the fraud proofs left pending at the stop, worker by worker (see {@link slash}). */
  async #resumeSlashes(): Promise<void> {
    await this.#tracked(async (signal) => {
      for (const worker of await this.#book.workersPending(this.#skipSlashRecord, this.#forfeitedAlready)) {
        await this.#carryOut(worker, signal).catch((e: unknown) => {
          throwIfAborted(signal)
          this.#log.error({ ...errorFields(e), worker }, 'slash:failed')
        })
      }
    }, {})
  }

  /**
   * Forfeits `posted` for `proof` and records it. The chain records the proof a slash of the bond journaled before
   * names, if any (see `slashStake`): the forfeit is recorded as that proof's when it is pending, otherwise (journaled
   * by a version that kept no proofs) as the one tried, as that version did.
   */
  async #slashBond(
    worker: string,
    posted: PostedBond,
    proof: PendingProof,
    pending: readonly PendingProof[],
    signal: AbortSignal,
  ): Promise<SlashView> {
    const { bond, generation } = posted
    const { ledger, arbiter, treasury } = await raceSignal(this.#open(), signal)
    const before = await this.#balance(ledger, bond.address, { signal })
    const result = await slashStake(
      ledger.executor,
      {
        bond,
        fraudProofHash: proof.fraudProofHash,
        beneficiaryAccount: treasury,
        signers: [arbiter, ledger.wallet],
      },
      { signal },
    )
    const recorded = pending.find((p) => proofHex(p.fraudProofHash) === result.meta.fraudProofHash) ?? proof
    // A slash found done had emptied the bond before this call read it (the ledger settles a slash a restart cut
    // short as it opens): what it forfeited is on its record.
    const amount = result.replayed ? await this.#slashedAmount(ledger, result.signature, { signal }) : before
    const view: SlashView = {
      worker,
      jobId: recorded.jobId,
      payee: bond.parties.worker,
      signature: result.signature,
      ...(amount !== undefined ? { amount: amount.toString() } : {}),
    }
    await this.#book.slashed(view, generation, recorded.fraudProofHash)
    if (this.slashes.length >= SLASHES_KEPT) this.slashes.shift()
    this.slashes.push(view)
    this.#log.warn(
      {
        worker,
        amount: view.amount ?? 'unknown',
        signature: view.signature,
        fraudProofHash: result.meta.fraudProofHash,
      },
      'stake:slashed',
    )
    return view
  }

  /** What a slash forfeited, from the chain's record of it; undefined when that cannot be read (logged). */
  async #slashedAmount(ledger: Ledger, signature: Signature, options: AbortOptions): Promise<bigint | undefined> {
    try {
      return (await readSlashRecord(ledger.transport, signature, options)).amount
    } catch (e) {
      throwIfAborted(options.signal)
      this.#log.warn({ ...errorFields(e), signature }, 'slash:read-failed')
      return undefined
    }
  }

  /**
   * A token account's balance, or undefined when it cannot be read: logged, and reported as unknown rather than as
   * 0, which would read as "nothing there".
   */
  async #balance(ledger: Ledger, account: Address, options: AbortOptions): Promise<bigint | undefined> {
    try {
      return await getTokenBalance(ledger.transport, account, options)
    } catch (e) {
      throwIfAborted(options.signal)
      this.#log.warn({ ...errorFields(e), account }, 'balance:read-failed')
      return undefined
    }
  }

  /** The epoch a job's receipts name, from its record; undefined for a job this node never funded. */
  async epochOf(jobId: string): Promise<number | undefined> {
    const record = await this.#record(jobId)
    return record === undefined ? undefined : (record.receiptEpoch ?? record.epoch)
  }

  /** Waits for a job's settlement to finish (after its last receipt). */
  async settled(jobId: string): Promise<void> {
    await (
      await this.#jobs.get(jobId)
    )?.running
  }

  /** Whether a job has nothing left to settle: settled on record, or never funded. */
  async idle(jobId: string): Promise<boolean> {
    if (this.#jobs.has(jobId) || this.#early.has(jobId) || this.#late.has(jobId)) return false
    const record = await this.#record(jobId)
    return record === undefined || record.settled === true
  }

  /** Token units this job's payouts carried to workers, net of the fee (0 until settled). */
  async paidNet(jobId: string): Promise<bigint> {
    const job = this.#funded.get(jobId)
    if (job !== undefined) return job.settled === undefined ? 0n : this.#outcome(job).net
    return (await this.#record(jobId))?.outcome?.net ?? 0n
  }

  /**
   * A settlement as the control API reports it: from memory while it runs, from its record once settled (undefined
   * for one never funded in this run and not settled, or settled before outcomes were recorded). `paid` is what each
   * payee's token account holds now; a payee whose balance cannot be read is left out (logged), not shown as 0.
   */
  async view(jobId: string, options: AbortOptions = {}): Promise<JobSettlementView | undefined> {
    const job = this.#funded.get(jobId)
    const record = job === undefined ? await this.#record(jobId) : undefined
    const settlement =
      job !== undefined
        ? { epoch: job.epoch, expected: job.expected, outcome: this.#outcome(job) }
        : record?.outcome !== undefined
          ? { epoch: record.epoch, expected: record.expected, outcome: record.outcome }
          : undefined
    if (settlement === undefined) return undefined
    const { outcome } = settlement
    const { ledger } = await raceSignal(this.#open(), options.signal)
    const paid: Record<string, string> = {}
    for (const payee of outcome.payees) {
      const balance = await this.#balance(ledger, await associatedTokenAddress(payee as Address, ledger.mint), options)
      if (balance !== undefined) paid[payee] = balance.toString()
    }
    const [anchor, ...payouts] = outcome.signatures
    return {
      epoch: settlement.epoch,
      expected: settlement.expected,
      receipts: outcome.receipts,
      ...(anchor !== undefined ? { anchor } : {}),
      payouts,
      paid,
      fee: outcome.fee.toString(),
      ...(outcome.refunded !== undefined ? { refunded: outcome.refunded.toString() } : {}),
    }
  }

  /**
   * Runs bond or slash work under this settlement's lifetime: `work` gets a signal that aborts with `options.signal` or
   * when {@link close} begins, which then waits for the work before the ledger closes (and the peer's datastore after
   * it), so no work writes to either once closed. Aborted, the work rejects with an AbortError, whatever failed first
   * (a ledger call that saw the abort, or one that did not). Work asked for once closed is refused before it begins.
   */
  #tracked<T>(work: (signal: AbortSignal) => Promise<T>, options: AbortOptions): Promise<T> {
    if (this.#lifetime.signal.aborted) return Promise.reject(new AbortError('the settlement is closed'))
    const signal = AbortSignal.any([this.#lifetime.signal, ...(options.signal !== undefined ? [options.signal] : [])])
    return this.#keep(
      (async () => {
        try {
          return await work(signal)
        } catch (e) {
          throwIfAborted(signal)
          throw e
        }
      })(),
    )
  }

  /** Keeps `promise` among the work {@link close} waits for, until it settles. */
  #keep<T>(promise: Promise<T>): Promise<T> {
    this.#working.add(promise)
    const done = () => void this.#working.delete(promise)
    promise.then(done, done)
    return promise
  }

  /**
   * Stops the bonds and slashes under way and waits for them (a slash stopped stays pending, carried out at the next
   * start), waits for the settlements under way to finish (those waiting to try the chain again stop), then closes the
   * ledger.
   */
  async close(): Promise<void> {
    this.#lifetime.abort()
    // Work begun meanwhile (a posting a slash starts) is waited for too.
    while (this.#working.size > 0) await Promise.allSettled([...this.#working])
    await Promise.all([...this.#jobs.values()].map(async (j) => (await j.catch(() => undefined))?.running))
    // An opening that failed closed what it had opened.
    const opened = await this.#ledger?.catch(() => undefined)
    if (opened !== undefined) await opened.ledger.close()
  }
}
