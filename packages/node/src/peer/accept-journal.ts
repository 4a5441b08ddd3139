import type { AcceptedTask } from '@tessera/scheduler'
import { z } from 'zod'
import type { Datastore, DatastoreWrite } from '../datastore.js'
import type { NodeError } from '../errors.js'

/**
 * The first pause before a task whose receipt could not be signed and kept is tried again; each failed try doubles
 * it (the epoch unknown for a moment, the datastore briefly failing, the worker's payee not in view yet).
 */
export const ACCEPT_RETRY_FIRST_MS = 2_000
/**
 * The longest pause between tries at signing and keeping an accepted task's receipt (2 s doubling reaches it at the
 * eighth try, about 8.5 minutes in). The tries never stop while the node runs: a task whose journal write failed each
 * time is on disk nowhere else, and given up it would cost its worker the payment.
 */
export const ACCEPT_RETRY_MAX_MS = 256_000

/**
 * What a creator journals of a task the market accepted, before it does anything else with it: all a receipt is
 * signed from but its epoch (read from the job's settlement record when it is signed). The journal entry goes in
 * the batch that keeps the signed receipt (`pending/<task>`), so a task accepted and not yet receipted is always on
 * disk: a crash, or a failure to sign, cannot cost its worker the payment.
 */
export interface AcceptedRecord {
  jobId: string
  taskId: string
  worker: string
  /** Token units the worker is owed: the agreed price times the task's benchmark-hours. */
  amount: bigint
  /** The worker's commitment to its output (the Result's Merkle root). */
  root: Uint8Array
  /** Where the worker's signed Result asked to be paid; absent from a worker of an older version. */
  payee?: string
}

/** Longest id or address a record holds: task ids and peer ids are far shorter. */
const MAX_ID = 256

const acceptedSchema = z.strictObject({
  jobId: z.string().min(1).max(MAX_ID),
  taskId: z.string().min(1).max(MAX_ID),
  worker: z.string().min(1).max(MAX_ID),
  // DAG-CBOR gives back a small bigint as a number.
  amount: z.union([z.bigint().nonnegative(), z.number().int().nonnegative()]).transform((v) => BigInt(v)),
  root: z.instanceof(Uint8Array),
  payee: z.string().min(1).max(MAX_ID).optional(),
})

/** Reads a stored {@link AcceptedRecord}; throws on anything else (the datastore then reports it corrupt). */
export function parseAccepted(value: unknown): AcceptedRecord {
  return acceptedSchema.parse(value)
}

/** The journal record of an accepted task. */
export function acceptedRecordOf(task: AcceptedTask): AcceptedRecord {
  return {
    jobId: task.jobId,
    taskId: task.taskId,
    worker: task.worker,
    amount: task.amount,
    root: task.result.root,
    ...(task.result.payee !== undefined ? { payee: task.result.payee } : {}),
  }
}

/**
 * Journals an accepted task (namespace `accepts`, under its task id), in one batch with `alongside`: what else must be
 * on disk exactly when the task is (the result its job keeps for a partial output).
 */
export async function journalAccepted(
  datastore: Datastore,
  record: AcceptedRecord,
  alongside: readonly DatastoreWrite[] = [],
): Promise<void> {
  await datastore.batch([{ type: 'put', ns: 'accepts', key: record.taskId, value: record }, ...alongside])
}

/** The write that takes an accepted task out of the journal: in the batch that keeps its receipt. */
export function acceptedDone(taskId: string): DatastoreWrite {
  return { type: 'del', ns: 'accepts', key: taskId }
}

/** Every journaled accepted task; one that cannot be read is reported to `onCorrupt` and left on disk. */
export async function journaledAccepts(
  datastore: Datastore,
  onCorrupt: (key: string, error: NodeError) => void,
): Promise<AcceptedRecord[]> {
  const records: AcceptedRecord[] = []
  for await (const [, record] of datastore.entries('accepts', { onCorrupt, parse: parseAccepted })) {
    records.push(record)
  }
  return records
}
