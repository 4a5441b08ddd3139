#!/usr/bin/env node
/**
 * `npm run demo`: the end-to-end demo (see demo/run-demo.ts). Prints a summary table and writes demo-summary.json
 * in the current directory.
 */
import { writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { reportError } from '../cli/errors.js'
import { processIo } from '../cli/io.js'
import { runDemo } from '../demo/run-demo.js'

const short = (s: string) => (s.length > 16 ? `${s.slice(0, 6)}…${s.slice(-6)}` : s)

try {
  const summary = await runDemo({ dir: resolve('demo-output'), onLog: (line) => process.stdout.write(`• ${line}\n`) })
  process.stdout.write('\nWho rendered what, how it was checked, what it was paid\n')
  console.table(
    summary.workers.map((w) => ({
      worker: w.name,
      role: w.role,
      peer: short(w.peerId),
      'tiles accepted': w.accepted,
      'tiles rejected': w.rejected,
      'tiles reassigned away': w.reassignedAway,
      'paid (token units)': w.paid.toString(),
      slashed: w.slashed ? 'yes' : '',
    })),
  )
  console.table({
    image: { value: `${summary.image.path} (PSNR ${summary.image.psnrDb} dB vs CPU reference)` },
    tiles: { value: summary.tiles },
    'tiles reassigned': { value: summary.tilesReassigned },
    'tiles paid (co-signed receipts)': { value: summary.tilesPaid },
    'cheaters caught / slashed': { value: `${summary.cheatersCaught} / ${summary.cheatersSlashed}` },
    'protocol fee (token units)': { value: summary.feePaid },
    'unspent budget refunded to the creator': { value: summary.refunded },
    'anchor transaction': { value: short(summary.transactions.anchor) },
    'payout transactions': { value: summary.transactions.payouts.map(short).join(', ') },
    'slash transactions': { value: summary.transactions.slashes.map(short).join(', ') },
    seconds: { value: summary.seconds },
  })
  const { workers: _workers, transactions: _tx, ...json } = summary
  await writeFile(
    'demo-summary.json',
    `${JSON.stringify({ ...json, workers: summary.workers.map((w) => ({ ...w, paid: w.paid.toString() })), transactions: summary.transactions }, null, 2)}\n`,
  )
  process.stdout.write('wrote demo-summary.json\n')
} catch (e) {
  process.exitCode = reportError(e, processIo)
}
