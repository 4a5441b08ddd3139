import type { AbortOptions } from '@tessera/core'
import type { Command } from 'commander'
import { ApiClient } from '../../api/client.js'
import type { WalletInfo } from '../../api/contract.js'
import { dataDirOf } from '../data-dir-flag.js'
import type { CliIo } from '../io.js'
import { parsePositiveAmount } from '../parse.js'

function show(wallet: WalletInfo): string {
  return `address: ${wallet.address}\nlamports: ${wallet.lamports}\ntokens: ${wallet.tokens}\nmint: ${wallet.mint}\n`
}

/** `tessera wallet [airdrop <amount>]`: the running node's ledger wallet. */
export function registerWallet(program: Command, io: CliIo, options: AbortOptions = {}): void {
  const client = () => ApiClient.forDataDir(dataDirOf(program), options)
  const wallet = program
    .command('wallet')
    .description("the node's wallet on its ledger: balance")
    .action(async () => io.stdout(show(await (await client()).wallet(options))))
  wallet
    .command('airdrop')
    .description('local airdrop of payment tokens (embedded LiteSVM or a local validator only)')
    .argument('<amount>', 'token units, at least 1', parsePositiveAmount)
    .action(async (amount: bigint) => io.stdout(show(await (await client()).airdrop(amount, options))))
}
