import type { Ledger } from '@tessera/ledger'
import { LedgerError } from '@tessera/ledger'

/** A switch a test flips to make the chain refuse the next payout it is asked for. */
export interface PayoutRefusal {
  refuse: boolean
}

/**
 * Makes `ledger` refuse, for good as far as that try knows (`LEDGER__TRANSACTION_REJECTED`), the next payout asked
 * while `payouts.refuse` is set; the switch turns itself off. For specs that mock `@tessera/ledger`'s `openLedger`.
 */
export function refusingPayouts(ledger: Ledger, payouts: PayoutRefusal): Ledger {
  const execute = ledger.executor.execute.bind(ledger.executor)
  ledger.executor.execute = (action, options) => {
    if (!payouts.refuse || !action.key.includes('/payout/')) return execute(action, options)
    payouts.refuse = false
    return Promise.reject(new LedgerError('LEDGER__TRANSACTION_REJECTED', 'refused', {}))
  }
  return ledger
}
