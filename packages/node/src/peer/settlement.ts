import { join } from 'node:path'
import type { Address, KeyPairSigner } from '@solana/kit'
import type { Receipt } from '@tessera/core'
import {
  bondStake,
  closeEscrow,
  ensureTokenAccount,
  refundEscrow,
  getTokenBalance,
  associatedTokenAddress,
  type Ledger,
  loadOrCreateWallet,
  openLedger,
  openVault,
  SettlementDriver,
  type SettlementEvent,
  SettlementMachine,
  slashStake,
  type StakeBond,
  type Vault,
  WALLET_FILE,
} from '@tessera/ledger'
import type { Logger } from 'pino'
import type { JobStatus, WalletInfo } from '../api/contract.js'
import type { NodeConfig } from '../config.js'
import type { Datastore } from '../datastore.js'
import { NodeError } from '../errors.js'

/** A job's settlement as the control API reports it: epoch, receipts, anchor, payouts and what each payee got. */
export type JobSettlementView = NonNullable<JobStatus['settlement']>

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
}

/** The datastore key of a job's {@link SettlementRecord} (namespace `settlement`). */
const recordKey = (jobId: string): string => `job/${jobId}`

/** A stored record, checked; DAG-CBOR gives back a small bigint as a number. Undefined when malformed. */
function settlementRecordOf(value: unknown): SettlementRecord | undefined {
  const r = value as { [K in keyof SettlementRecord]?: unknown } | null
  if (typeof r !== 'object' || r === null) return undefined
  const budget = typeof r.budget === 'number' && Number.isSafeInteger(r.budget) ? BigInt(r.budget) : r.budget
  const { epoch, expected, closing, settled } = r
  if (
    typeof epoch !== 'number' ||
    !Number.isSafeInteger(epoch) ||
    typeof budget !== 'bigint' ||
    typeof expected !== 'number' ||
    !Number.isSafeInteger(expected) ||
    (closing !== undefined && !(Array.isArray(closing) && closing.every((t) => typeof t === 'string'))) ||
    (settled !== undefined && typeof settled !== 'boolean')
  ) {
    return undefined
  }
  return {
    epoch,
    budget,
    expected,
    ...(closing !== undefined ? { closing: closing as string[] } : {}),
    ...(settled !== undefined ? { settled } : {}),
  }
}

interface JobSettlement {
  epoch: number
  expected: number
  receipts: number
  /** Task ids of the receipts fed to the machine: each once, whether it came back live or from disk. */
  taskIds: Set<string>
  vault: Vault
  machine: SettlementMachine
  driver: SettlementDriver
  settled?: { signatures: string[] }
  running?: Promise<void>
  onReceipt?: (() => void) | undefined
  /** Budget returned to the creator after settlement. */
  refunded?: bigint
}

/** A slash carried out on chain. */
export interface SlashView {
  worker: string
  /** The job whose fraud proof the slash was for. */
  jobId: string
  payee: string
  signature: string
  amount: string
}

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
  /** Per job, its settlement once the epoch vault is funded (receipts that arrive earlier wait for it). */
  readonly #jobs = new Map<string, Promise<JobSettlement>>()
  readonly #bonds = new Map<string, Promise<StakeBond>>()
  /** Jobs whose vault is funded, for status reads that must not wait on the chain. */
  readonly #funded = new Map<string, JobSettlement>()
  /** Workers slashed or being slashed: one bond, one forfeit. */
  readonly #slashed = new Set<string>()
  readonly slashes: SlashView[] = []
  #ledger: Promise<{ ledger: Ledger; arbiter: KeyPairSigner; settler: KeyPairSigner; treasury: Address }> | undefined

  constructor(dir: string, config: NodeConfig, logger: Logger, datastore: Datastore) {
    this.#dir = dir
    this.#config = config
    this.#log = logger
    this.#datastore = datastore
  }

  /** This node's payment address: where receipts pay it. */
  async payee(): Promise<string> {
    return (await loadOrCreateWallet(join(this.#dir, WALLET_FILE))).address
  }

  #open() {
    this.#ledger ??= (async () => {
      const { transport, url, wsUrl, mint } = this.#config.ledger
      const ledger = await openLedger({
        dataDir: this.#dir,
        ...(transport === 'rpc' && url !== undefined
          ? { rpc: { url, ...(wsUrl !== undefined ? { wsUrl } : {}) } }
          : {}),
        ...(mint !== undefined ? { mint: mint as Address } : {}),
      })
      const [arbiter, settler, treasuryKey] = await Promise.all(
        ['arbiter.json', 'settler.json', 'treasury.json'].map((f) => loadOrCreateWallet(join(this.#dir, f))),
      )
      const treasury = await ensureTokenAccount(ledger.transport, {
        payer: ledger.wallet,
        owner: (treasuryKey as KeyPairSigner).address,
        mint: ledger.mint,
      })
      return { ledger, arbiter: arbiter as KeyPairSigner, settler: settler as KeyPairSigner, treasury }
    })()
    return this.#ledger
  }

  async wallet(): Promise<WalletInfo> {
    const { ledger } = await this.#open()
    const balance = await ledger.balance()
    return {
      address: ledger.wallet.address,
      lamports: balance.lamports.toString(),
      tokens: balance.tokens.toString(),
      mint: ledger.mint,
    }
  }

  async airdrop(tokens: bigint): Promise<WalletInfo> {
    const { ledger } = await this.#open()
    await ledger.airdrop({ tokens })
    return this.wallet()
  }

  /** Funds a job's epoch vault with its budget before any work is awarded. */
  async fundJob(jobId: string, epoch: number, budget: bigint, expected: number): Promise<void> {
    const created = (await this.#record(jobId)) === undefined
    if (created) {
      await this.#datastore.put('settlement', recordKey(jobId), { epoch, budget, expected } satisfies SettlementRecord)
    }
    const funding = this.#fund(jobId, epoch, budget, expected)
    this.#jobs.set(jobId, funding)
    funding.then(
      (job) => this.#funded.set(jobId, job),
      () => this.#jobs.delete(jobId),
    )
    try {
      await funding
    } catch (e) {
      // A new job that cannot be funded is cancelled: nothing is left to settle. A resumed one stays on record, to be
      // tried again at the next start (the chain may be back by then).
      if (created) await this.#datastore.delete('settlement', recordKey(jobId))
      throw e
    }
  }

  async #fund(jobId: string, epoch: number, budget: bigint, expected: number): Promise<JobSettlement> {
    const { ledger, arbiter, settler, treasury } = await this.#open()
    const { vault } = await openVault(ledger.executor, {
      id: `epoch-${epoch}`,
      funder: ledger.wallet,
      source: await ledger.tokenAccount(),
      signers: [ledger.wallet.address, arbiter.address, settler.address],
      mint: ledger.mint,
      amount: budget,
    })
    const machine = new SettlementMachine({
      settlementId: `settle-${ledger.wallet.address}-${epoch}`,
      feeBps: this.#config.ledger.feeBps,
    })
    const driver = new SettlementDriver({
      machine,
      executor: ledger.executor,
      vault,
      signers: [settler, ledger.wallet],
      treasuryAccount: treasury,
    })
    await driver.reconcile()
    const job: JobSettlement = { epoch, expected, receipts: 0, taskIds: new Set(), vault, machine, driver }
    driver.onEvent((event: SettlementEvent) => {
      if (event.name === 'epoch:settled') job.settled = { signatures: event.signatures }
      this.#log.info({ jobId, event: event.name }, 'settlement:event')
    })
    return job
  }

  /** A co-signed receipt: settled with the rest of its job once all are in. */
  async receipt(receipt: Receipt): Promise<void> {
    const funding = this.#jobs.get(receipt.jobId)
    if (funding === undefined) {
      this.#log.warn({ jobId: receipt.jobId }, 'settlement:unknown-job')
      return
    }
    const job = await funding
    if (job.taskIds.has(receipt.taskId)) return
    if (job.running !== undefined) {
      this.#log.warn({ jobId: receipt.jobId, taskId: receipt.taskId }, 'settlement:late-receipt')
      return
    }
    job.driver.handle({ type: 'receipt', receipt })
    job.taskIds.add(receipt.taskId)
    job.receipts++
    job.onReceipt?.()
  }

  /**
   * Closes a finished job's epoch once every accepted task's receipt is co-signed, or after `graceMs` (a worker
   * that vanished cannot countersign; its work goes unpaid in this epoch), then anchors and pays.
   */
  async closeJob(jobId: string, accepted: number, graceMs: number): Promise<void> {
    const job = await this.#jobs.get(jobId)
    if (job === undefined || job.running !== undefined) return
    if (job.receipts < accepted) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs)
        job.onReceipt = () => {
          if (job.receipts >= accepted) {
            clearTimeout(timer)
            resolve()
          }
        }
      })
    }
    job.onReceipt = undefined
    // Claimed before the first await, so a second close (a resumed job completing twice) finds it running.
    const closing = [...job.taskIds]
    job.running = (async () => {
      const record = await this.#record(jobId)
      if (record !== undefined && record.closing === undefined) {
        await this.#datastore.put('settlement', recordKey(jobId), { ...record, closing })
      }
      job.driver.handle({ type: 'close-epoch', epoch: job.epoch })
      await job.driver.run()
      await this.#refund(jobId, job)
      if (record !== undefined) {
        await this.#datastore.put('settlement', recordKey(jobId), { ...record, closing, settled: true })
      }
    })().catch((e: unknown) => this.#log.error({ err: String(e), jobId }, 'settlement:failed'))
    await job.running
  }

  /**
   * Finishes, after a restart, the settlement of every job that had not settled: re-opens its vault (idempotent), feeds
   * it the co-signed receipts `receipts` holds for it (those its epoch closed over, when it had closed) and closes the
   * epoch once `accepted(jobId)` receipts are in or the grace has run out. Returns the jobs resumed and their epochs.
   */
  async resume(
    receipts: readonly Receipt[],
    accepted: (jobId: string) => number,
    graceMs: number,
  ): Promise<Map<string, number>> {
    const resumed = new Map<string, number>()
    for await (const [key, value] of this.#datastore.entries('settlement')) {
      if (!key.startsWith('job/')) continue
      const jobId = key.slice('job/'.length)
      const record = this.#checked(jobId, value)
      if (record.settled === true) continue
      try {
        await this.fundJob(jobId, record.epoch, record.budget, record.expected)
      } catch (e) {
        this.#log.error({ jobId, err: String(e) }, 'settlement:resume-failed')
        continue
      }
      const closing = record.closing === undefined ? undefined : new Set(record.closing)
      for (const receipt of receipts) {
        if (receipt.jobId === jobId && (closing === undefined || closing.has(receipt.taskId))) {
          await this.receipt(receipt)
        }
      }
      resumed.set(jobId, record.epoch)
      this.#log.info({ jobId, epoch: record.epoch, closed: closing !== undefined }, 'settlement:resumed')
      void this.closeJob(jobId, closing?.size ?? accepted(jobId), graceMs)
    }
    return resumed
  }

  async #record(jobId: string): Promise<SettlementRecord | undefined> {
    const value = await this.#datastore.get('settlement', recordKey(jobId))
    return value === undefined ? undefined : this.#checked(jobId, value)
  }

  #checked(jobId: string, value: unknown): SettlementRecord {
    const record = settlementRecordOf(value)
    if (record === undefined) {
      throw new NodeError('NODE__DATASTORE_CORRUPT', `the settlement record of job ${jobId} is malformed`, { jobId })
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
    job.refunded = left
    this.#log.info({ jobId, refunded: left.toString() }, 'settlement:refunded')
  }

  /**
   * Posts a worker's stake bond into a vault owned by [worker, creator, arbiter] (once per worker), so a fraud proof
   * can forfeit it.
   */
  async bond(worker: string, payee: string, stake: bigint): Promise<void> {
    if (this.#bonds.has(worker) || stake <= 0n) return
    const bonding = (async (): Promise<StakeBond> => {
      const { ledger, arbiter } = await this.#open()
      const { bond } = await bondStake(ledger.executor, {
        bondId: worker,
        worker: payee as Address,
        funder: ledger.wallet,
        source: await ledger.tokenAccount(),
        counterparty: ledger.wallet.address,
        arbiter: arbiter.address,
        mint: ledger.mint,
        amount: stake,
      })
      this.#log.info({ worker, stake: stake.toString(), bond: bond.address }, 'stake:bonded')
      return bond
    })()
    this.#bonds.set(worker, bonding)
    bonding.catch(() => this.#bonds.delete(worker))
    await bonding
  }

  /** Forfeits a caught worker's bond to the treasury, the fraud proof's hash on chain beside it. */
  async slash(worker: string, jobId: string, fraudProofHash: Uint8Array): Promise<SlashView | undefined> {
    if (this.#slashed.has(worker)) return undefined
    const bonding = this.#bonds.get(worker)
    if (bonding === undefined) {
      this.#log.warn({ worker }, 'stake:no-bond')
      return undefined
    }
    this.#slashed.add(worker)
    const bond = await bonding
    const { ledger, arbiter, treasury } = await this.#open()
    const before = await getTokenBalance(ledger.transport, bond.address).catch(() => 0n)
    const result = await slashStake(ledger.executor, {
      bond,
      fraudProofHash,
      beneficiaryAccount: treasury,
      signers: [arbiter, ledger.wallet],
    })
    this.#bonds.delete(worker)
    const view = { worker, jobId, payee: bond.parties.worker, signature: result.signature, amount: before.toString() }
    this.slashes.push(view)
    this.#log.warn({ worker, amount: view.amount, signature: view.signature }, 'stake:slashed')
    return view
  }

  /** Waits for a job's settlement to finish (after its last receipt). */
  async settled(jobId: string): Promise<void> {
    await (
      await this.#jobs.get(jobId)
    )?.running
  }

  /** Token units this job's payouts carried to workers, net of the fee (0 until settled). */
  paidNet(jobId: string): bigint {
    const job = this.#funded.get(jobId)
    if (job?.settled === undefined) return 0n
    return (job.machine.batch(job.epoch)?.payouts ?? []).reduce((sum, p) => sum + p.net, 0n)
  }

  async view(jobId: string): Promise<JobSettlementView | undefined> {
    const job = this.#funded.get(jobId)
    if (job === undefined) return undefined
    const batch = job.machine.batch(job.epoch)
    const { ledger } = await this.#open()
    const paid: Record<string, string> = {}
    for (const payout of batch?.payouts ?? []) {
      paid[payout.payee] = (
        await getTokenBalance(ledger.transport, await associatedTokenAddress(payout.payee, ledger.mint)).catch(() => 0n)
      ).toString()
    }
    return {
      epoch: job.epoch,
      expected: job.expected,
      receipts: job.receipts,
      ...(job.settled?.signatures[0] !== undefined ? { anchor: job.settled.signatures[0] } : {}),
      payouts: job.settled?.signatures.slice(1) ?? [],
      paid,
      fee: (batch?.fee ?? 0n).toString(),
      ...(job.refunded !== undefined ? { refunded: job.refunded.toString() } : {}),
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#jobs.values()].map(async (j) => (await j.catch(() => undefined))?.running))
    if (this.#ledger !== undefined) await (await this.#ledger).ledger.close()
  }
}
