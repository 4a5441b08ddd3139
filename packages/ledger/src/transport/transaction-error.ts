import type { Address, Signature, Transaction } from '@solana/kit'
import { SYSTEM_PROGRAM_ADDRESS } from '@solana-program/system'
import { TOKEN_PROGRAM_ADDRESS } from '@solana-program/token'
import { MAX_TRANSACTION_ERROR_DEPTH } from '../constants.js'
import { LedgerError } from '../errors.js'
import { decodeTransaction } from '../transaction-decode.js'
import { nestsWithin } from './json-depth.js'
import type { TransactionErrorJson } from './transport.js'

/** Solana's `TransactionError` variants without fields, in declaration order (LiteSVM reports their index). */
const TRANSACTION_ERROR_NAMES = [
  'AccountInUse',
  'AccountLoadedTwice',
  'AccountNotFound',
  'ProgramAccountNotFound',
  'InsufficientFundsForFee',
  'InvalidAccountForFee',
  'AlreadyProcessed',
  'BlockhashNotFound',
  'CallChainTooDeep',
  'MissingSignatureForFee',
  'InvalidAccountIndex',
  'SignatureFailure',
  'InvalidProgramForExecution',
  'SanitizeFailure',
  'ClusterMaintenance',
  'AccountBorrowOutstanding',
  'WouldExceedMaxBlockCostLimit',
  'UnsupportedVersion',
  'InvalidWritableAccount',
  'WouldExceedMaxAccountCostLimit',
  'WouldExceedAccountDataBlockLimit',
  'TooManyAccountLocks',
  'AddressLookupTableNotFound',
  'InvalidAddressLookupTableOwner',
  'InvalidAddressLookupTableData',
  'InvalidAddressLookupTableIndex',
  'InvalidRentPayingAccount',
  'WouldExceedMaxVoteCostLimit',
  'WouldExceedAccountDataTotalLimit',
  'MaxLoadedAccountsDataSizeExceeded',
  'ResanitizationNeeded',
  'InvalidLoadedAccountsDataSizeLimit',
  'UnbalancedTransaction',
  'ProgramCacheHitMaxLimit',
  'CommitCancelled',
] as const

/** Solana's `InstructionError` variants without fields, in declaration order. */
const INSTRUCTION_ERROR_NAMES = [
  'GenericError',
  'InvalidArgument',
  'InvalidInstructionData',
  'InvalidAccountData',
  'AccountDataTooSmall',
  'InsufficientFunds',
  'IncorrectProgramId',
  'MissingRequiredSignature',
  'AccountAlreadyInitialized',
  'UninitializedAccount',
  'UnbalancedInstruction',
  'ModifiedProgramId',
  'ExternalAccountLamportSpend',
  'ExternalAccountDataModified',
  'ReadonlyLamportChange',
  'ReadonlyDataModified',
  'DuplicateAccountIndex',
  'ExecutableModified',
  'RentEpochModified',
  'NotEnoughAccountKeys',
  'AccountDataSizeChanged',
  'AccountNotExecutable',
  'AccountBorrowFailed',
  'AccountBorrowOutstanding',
  'DuplicateAccountOutOfSync',
  'InvalidError',
  'ExecutableDataModified',
  'ExecutableLamportChange',
  'ExecutableAccountNotRentExempt',
  'UnsupportedProgramId',
  'CallDepth',
  'MissingAccount',
  'ReentrancyNotAllowed',
  'MaxSeedLengthExceeded',
  'InvalidSeeds',
  'InvalidRealloc',
  'ComputationalBudgetExceeded',
  'PrivilegeEscalation',
  'ProgramEnvironmentSetupFailure',
  'ProgramFailedToComplete',
  'ProgramFailedToCompile',
  'Immutable',
  'IncorrectAuthority',
  'AccountNotRentExempt',
  'InvalidAccountOwner',
  'ArithmeticOverflow',
  'UnsupportedSysvar',
  'IllegalOwner',
  'MaxAccountsDataAllocationsExceeded',
  'MaxAccountsExceeded',
  'MaxInstructionTraceLengthExceeded',
  'BuiltinProgramsMustConsumeComputeUnits',
  'BorshIoError',
] as const

/** `TokenError::InsufficientFunds` and `SystemError::ResultWithNegativeLamports` are both custom error 1. */
const INSUFFICIENT_FUNDS_CUSTOM_CODE = 1
const PROGRAMS_WITH_FUNDS_ERROR_1: ReadonlySet<string> = new Set([TOKEN_PROGRAM_ADDRESS, SYSTEM_PROGRAM_ADDRESS])

function nameAt(names: readonly string[], index: number): string {
  return names[index] ?? `Unknown(${index})`
}

/** The JSON shape of one of LiteSVM's instruction errors (a fieldless enum index, `Custom` or `BorshIo`). */
function instructionErrorJson(err: unknown): unknown {
  if (typeof err === 'number') return nameAt(INSTRUCTION_ERROR_NAMES, err)
  if (err !== null && typeof err === 'object') {
    if ('code' in err && typeof err.code === 'number') return { Custom: err.code }
    if ('msg' in err && typeof err.msg === 'string') return { BorshIoError: err.msg }
  }
  return 'GenericError'
}

/**
 * Converts a LiteSVM `FailedTransactionMetadata.err()` value into Solana's JSON error shape, so both transports
 * report failures alike (the RPC test double uses it to answer as a validator would).
 */
export function transactionErrorJsonFromLiteSvm(err: unknown): TransactionErrorJson {
  if (typeof err === 'number') return nameAt(TRANSACTION_ERROR_NAMES, err)
  if (err !== null && typeof err === 'object') {
    const name = err.constructor?.name ?? ''
    if (
      name === 'TransactionErrorInstructionError' &&
      'index' in err &&
      'err' in err &&
      typeof err.err === 'function'
    ) {
      return { InstructionError: [err.index, instructionErrorJson((err.err as () => unknown).call(err))] }
    }
    if (name === 'TransactionErrorDuplicateInstruction' && 'index' in err) return { DuplicateInstruction: err.index }
    if (name === 'TransactionErrorInsufficientFundsForRent' && 'accountIndex' in err) {
      return { InsufficientFundsForRent: { account_index: err.accountIndex } }
    }
    if (name === 'TransactionErrorProgramExecutionTemporarilyRestricted' && 'accountIndex' in err) {
      return { ProgramExecutionTemporarilyRestricted: { account_index: err.accountIndex } }
    }
  }
  return String(err)
}

/**
 * Solana's error JSON with integers as numbers: kit parses every JSON integer as a bigint, which would make
 * `{ Custom: 1n }` differ from LiteSVM's `{ Custom: 1 }` and break `JSON.stringify`. Undefined for a value nested
 * past {@link MAX_TRANSACTION_ERROR_DEPTH}, which is no error of Solana's (and would take this walk, and
 * `JSON.stringify` after it, as deep as the endpoint chose).
 */
export function normalizeTransactionError(value: unknown): TransactionErrorJson | undefined {
  if (!nestsWithin(value, MAX_TRANSACTION_ERROR_DEPTH)) return undefined
  const walk = (v: unknown): unknown => {
    if (typeof v === 'bigint') return Number(v)
    if (Array.isArray(v)) return v.map(walk)
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]))
    return v
  }
  return walk(value) as TransactionErrorJson
}

/** The instruction index and error of an `InstructionError`, when `err` is one. */
export function instructionErrorOf(err: TransactionErrorJson): { index: number; error: unknown } | undefined {
  if (typeof err === 'string' || !('InstructionError' in err)) return undefined
  const pair = err.InstructionError
  if (!Array.isArray(pair) || typeof pair[0] !== 'number') return undefined
  return { index: pair[0], error: pair[1] }
}

/** The program that instruction `index` of a transaction calls, when the transaction decodes. */
function programOfInstruction(transaction: Transaction | undefined, index: number): Address | undefined {
  if (transaction === undefined) return undefined
  try {
    return decodeTransaction(transaction).instructions[index]?.programAddress
  } catch {
    return undefined
  }
}

/** What is known of a failed transaction, kept in the coded error's context. */
export interface FailureDetails {
  signature?: Signature
  transaction?: Transaction
  logs?: readonly string[]
  /** True when the chain executed the transaction (fee charged) rather than refusing it up front. */
  executed: boolean
}

/**
 * The coded error for a failed transaction: an expired blockhash or nonce, missing funds (lamports for fees or
 * rent, or tokens by the token program's own error), or any other rejection with the Solana error in context.
 */
export function ledgerErrorFromTransactionError(err: TransactionErrorJson, details: FailureDetails): LedgerError {
  const context = { signature: details.signature, err, executed: details.executed, logs: details.logs?.slice(-20) }
  if (err === 'BlockhashNotFound') {
    return new LedgerError(
      'LEDGER__BLOCKHASH_EXPIRED',
      'the transaction’s blockhash or durable nonce is no longer valid; rebuild it with a fresh lifetime',
      context,
    )
  }
  // AccountNotFound is Solana's answer for a fee payer that was never credited.
  if (
    err === 'InsufficientFundsForFee' ||
    err === 'AccountNotFound' ||
    (typeof err === 'object' && 'InsufficientFundsForRent' in err)
  ) {
    return new LedgerError(
      'LEDGER__INSUFFICIENT_FUNDS',
      'the fee payer lacks lamports for fees or rent; fund it',
      context,
    )
  }
  const instruction = instructionErrorOf(err)
  if (instruction !== undefined) {
    const custom = instruction.error
    const isShortfall =
      custom !== null &&
      typeof custom === 'object' &&
      (custom as { Custom?: unknown }).Custom === INSUFFICIENT_FUNDS_CUSTOM_CODE &&
      PROGRAMS_WITH_FUNDS_ERROR_1.has(programOfInstruction(details.transaction, instruction.index) ?? '')
    if (isShortfall || instruction.error === 'InsufficientFunds') {
      return new LedgerError('LEDGER__INSUFFICIENT_FUNDS', `instruction ${instruction.index} lacks funds`, {
        ...context,
        instruction: instruction.index,
      })
    }
    return new LedgerError(
      'LEDGER__TRANSACTION_REJECTED',
      `instruction ${instruction.index} failed: ${JSON.stringify(instruction.error)}`,
      { ...context, instruction: instruction.index, instructionError: instruction.error },
    )
  }
  return new LedgerError(
    'LEDGER__TRANSACTION_REJECTED',
    `the transaction was rejected: ${JSON.stringify(err)}`,
    context,
  )
}
