import type { Order } from '@tessera/core'
import { buildOrder, type JobSpec, resolveJobSpec } from '@tessera/scheduler'

/** The creator every fixture order names. */
export const CREATOR = '12D3KooWJPvoBcKArbt3mcJG4ESAEsNQJKQHQZw8ePv95U2rfpJg'

/** An order as a creator builds it: tier 3, 100 units per benchmark-hour, half an hour per task. */
export function orderOf(
  kind: JobSpec['kind'],
  inputs: string[],
  split: JobSpec['split'],
  nonce = '00000000000000ab',
): Order {
  return buildOrder(
    resolveJobSpec({ kind, inputs, split, tier: 3, maxPrice: 100n, benchHoursPerTask: 0.5 }),
    CREATOR,
    nonce,
    1_000,
  )
}
