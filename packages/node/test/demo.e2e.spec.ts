import { existsSync } from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
import { DEMO_FEE_BPS, DEMO_PRICE, runDemo, type DemoSummary } from '../src/demo/run-demo.js'
import { tempDir } from './helpers.js'

describe('the end-to-end demo (separate processes, lavapipe, LiteSVM)', () => {
  let cleanup: (() => Promise<void>) | undefined
  afterAll(async () => cleanup?.())

  it('should render verified tiles, slash the cheater, reassign the killed worker and pay each tile once', async () => {
    const dir = await tempDir('tessera-demo-')
    cleanup = dir.cleanup
    const summary: DemoSummary = await runDemo({ dir: dir.path })

    expect(existsSync(summary.image.path)).toBe(true)
    expect(summary.image.psnrDb).toBeGreaterThanOrEqual(30)
    expect(summary.tiles).toBe(16)
    expect(summary.cheatersCaught).toBeGreaterThanOrEqual(1)
    expect(summary.cheatersSlashed).toBeGreaterThanOrEqual(1)
    expect(summary.anchorTransactions).toBe(1)

    const killed = summary.workers.find((w) => w.role === 'killed')
    const cheater = summary.workers.find((w) => w.role === 'cheater')
    // The killed worker's unfinished tiles went to others; the cheater's rejected tiles too, and it earned nothing.
    expect(killed?.reassignedAway).toBeGreaterThanOrEqual(1)
    // It crashed only after delivering receipted tiles, and restarted on its data directory: paid for them once.
    expect(killed?.accepted).toBeGreaterThanOrEqual(1)
    expect(summary.tilesReassigned).toBeGreaterThanOrEqual(1)
    expect(cheater?.accepted).toBe(0)
    expect(cheater?.paid).toBe(0n)

    // Every tile was accepted exactly once and every receipt settled, the restarted worker's included.
    expect(summary.workers.reduce((n, w) => n + w.accepted, 0)).toBe(summary.tiles)
    expect(summary.tilesPaid).toBe(summary.tiles)
    const gross = DEMO_PRICE * BigInt(summary.tiles)
    const paid = Object.values(summary.paid).reduce((sum, p) => sum + BigInt(p), 0n)
    expect(paid + BigInt(summary.feePaid)).toBe(gross)
    // The budget (max price 200 per tile) less what was paid and the fee came back to the creator.
    expect(BigInt(summary.refunded)).toBe(2n * gross - (paid + BigInt(summary.feePaid)))
    for (const w of summary.workers) {
      const owed = DEMO_PRICE * BigInt(w.accepted)
      expect(w.paid).toBe(owed - (owed * BigInt(DEMO_FEE_BPS)) / 10_000n)
    }
  }, 300_000)
})
