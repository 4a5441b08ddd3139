import type { Verdict } from '@tessera/core'
import {
  decodeEnvironmentImage,
  encodePng,
  generateScene,
  loadScene,
  type RenderedTile,
  type Scene,
  withEnvironment,
} from '@tessera/gpu'
import { decode } from 'fast-png'
import { describe, expect, it } from 'vitest'
import { PNG_EXPOSURE } from '../src/peer/job-output.js'
import { Peer } from '../src/peer/peer.js'
import { peerHarness, until } from './peer-harness.js'

/** A Radiance panorama, 8 x 4 texels, uncompressed: a sky of radiance 1 with a sun of 32 in its second row. */
const SKY = ((): Uint8Array => {
  const header = Buffer.from('#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 4 +X 8\n', 'latin1')
  // RGBE: mantissas 128 under exponent 129 read as 1; under exponent 134, as 32.
  const texels = Array.from({ length: 32 }, (_, i) => (i === 10 ? [128, 128, 128, 134] : [128, 128, 128, 129]))
  return Buffer.concat([header, Buffer.from(texels.flat())])
})()

/**
 * Third-party verification over real libp2p (loopback TCP), Dawn on lavapipe and LiteSVM: the creator hands every
 * check to a verifier peer (`assign`), which challenges the worker itself and recomputes from the creator's inputs;
 * a lazy worker's fraud proof goes to an arbiter (`arbitrate`) that the verifier names, which recomputes the disputed
 * chunk and upholds it; the creator takes the delegate's verdict, forfeits the cheater's bond and re-auctions the tile.
 */
describe('delegated verification and arbitration between real peers', () => {
  const harness = peerHarness('tessera-delegation-')
  const { start } = harness

  it('should check results through a third peer, arbitrate the cheater and complete the job with the honest worker', async () => {
    const arbiter = await start('arbiter', { worker: { enabled: false } })
    const boot = [arbiter.node.getMultiaddrs()[0]!.toString()]
    const id = (p: Peer) => p.node.peerId.toString()
    const verifier = await start('verifier', {
      bootstrap: boot,
      worker: { enabled: false },
      verification: { verifiers: [id(arbiter)] },
    })
    const cheater = await start('cheater', { bootstrap: boot, worker: { fault: 'lazy' } })
    const honest = await start('honest', { bootstrap: boot })
    // selfWeight 0: the creator never checks a result itself while a verifier is known.
    const creator = await start('creator', {
      bootstrap: boot,
      worker: { enabled: false },
      verification: { verifiers: [id(verifier)], selfWeight: 0 },
    })

    const verdicts: { from: string; verdict: Verdict }[] = []
    creator.node.bus.onMessage(({ from, message }) => {
      if (message.type === 'verdict') verdicts.push({ from, verdict: message.body })
    })
    const challengers = new Set<string>()
    for (const worker of [cheater, honest]) {
      worker.node.bus.onMessage(({ from, message }) => {
        if (message.type === 'challenge') challengers.add(from)
      })
    }

    await until('both capacity records', async () => ((await creator.status()).capacityRecords >= 2 ? true : undefined))
    await creator.airdrop(1_000_000n)
    const sceneBytes = await generateScene({ subdivisions: 1 })
    const scene = await creator.putBlob(sceneBytes)
    // The room lit by a panorama too (the order's second input), turned: every peer must light it alike.
    const sky = await creator.putBlob(SKY)
    const lighting = { intensity: 2, rotation: 0.7 }
    const render = { frames: 1, width: 32, height: 32, tileWidth: 16, tileHeight: 32, samples: 4 }
    const { jobId } = await creator.submitJob({
      kind: 'render',
      inputs: [scene, sky],
      render: { ...render, environment: lighting },
      maxPrice: '200',
      minBids: 2,
    })

    const status = await until('the job to complete', async () => {
      const s = await creator.jobStatus(jobId)
      return s.state === 'completed' ? s : undefined
    })
    expect(status.verified).toBe(2)

    const slash = await until('the verifier to slash the cheater', () =>
      verifier.slashes.find((s) => s.worker === id(cheater)),
    )
    expect(slash.arbitrated).toBe(true)
    expect(slash.jobId).toBe(jobId)
    // Only the creator holds the cheater's bond: watching its delegate's accusation upheld, it forfeits the bond, and
    // counts the delegate's verdict as a check of its own.
    const forfeited = await until("the creator to forfeit the cheater's bond", () =>
      creator.settlement.slashes.find((s) => s.worker === id(cheater)),
    )
    expect(forfeited.jobId).toBe(jobId)
    expect(verifier.settlement.slashes).toEqual([])
    expect(creator.verification.reputation.evidence(id(cheater)).failed).toBeGreaterThanOrEqual(1)

    // Only the delegate challenged: the creator handed every check over.
    expect([...challengers]).toEqual([id(verifier)])
    const fromVerifier = verdicts.filter((v) => v.from === id(verifier))
    expect(fromVerifier.some((v) => v.verdict.worker === id(honest) && v.verdict.outcome === 'pass')).toBe(true)
    const accusation = fromVerifier.find((v) => v.verdict.worker === id(cheater) && v.verdict.outcome === 'fail')
    expect(accusation?.verdict.arbiter).toBe(id(arbiter))
    expect(accusation?.verdict.fraudProof).toBeDefined()
    // The arbiter recomputed the disputed chunk from the creator's inputs and upheld the accusation, in round 1.
    const ruling = await until('the arbiter to rule', () =>
      verdicts.find((v) => v.from === id(arbiter) && v.verdict.worker === id(cheater)),
    )
    expect(ruling.verdict.outcome).toBe('fail')
    expect(ruling.verdict.round).toBe(1)
    expect(ruling.verdict.fraudProof).toEqual(accusation?.verdict.fraudProof)

    // The creator rejected the cheater's tile on the delegate's word, and the honest worker redid it.
    expect(status.workers?.[id(cheater)]?.accepted).toBe(0)
    expect(status.workers?.[id(cheater)]?.rejected).toBeGreaterThanOrEqual(1)
    expect(status.workers?.[id(honest)]?.accepted).toBe(2)
    // Each third peer counted the work the creator owes it for.
    expect(await verifier.prometheusText()).toMatch(/tessera_served_checks_total\{role="verify"\} [1-9]/)
    expect(await arbiter.prometheusText()).toMatch(/tessera_served_checks_total\{role="arbitrate"\} 1/)

    // The creator serves its inputs only to the peers it handed work on the job to: the delegate's arbiter is a
    // stranger to it, so the delegate kept the inputs for its arbiter, which recomputed from that copy.
    for (const input of [scene, sky]) {
      await expect(arbiter.node.blobs.fetchFrom(creator.node.peerId, input)).rejects.toMatchObject({
        code: 'CORE__BLOB_ACCESS_DENIED',
      })
      expect(await verifier.holds.holders(input)).toEqual([`relay:${jobId}`])
      const bytes = Buffer.from(input === scene ? sceneBytes : SKY)
      expect(Buffer.from(await arbiter.node.blobs.fetchFrom(verifier.node.peerId, input))).toEqual(bytes)
      // The delegate lets only its arbiter in; a worker of the job gets the inputs from the creator.
      await expect(honest.node.blobs.fetchFrom(verifier.node.peerId, input)).rejects.toMatchObject({
        code: 'CORE__BLOB_ACCESS_DENIED',
      })
      expect(Buffer.from(await honest.node.blobs.fetchFrom(creator.node.peerId, input))).toEqual(bytes)
    }

    // The frame is the panorama-lit room, as this machine renders it from the same inputs and lighting.
    const files = (await creator.jobOutput(jobId)).files
    expect(files.map((f) => f.name)).toEqual(['frame-0000.png', 'frame-0000.exr'])
    const png = decode(Buffer.from(files[0]!.base64, 'base64')).data
    const room = await loadScene(sceneBytes)
    const renderLocally = (scene: Scene) =>
      harness.engine.renderTile({
        scene,
        frame: 0,
        imageWidth: 32,
        imageHeight: 32,
        x: 0,
        y: 0,
        width: 32,
        height: 32,
        samples: 4,
      })
    const toPng = (tile: RenderedTile) => decode(encodePng(tile, { exposure: PNG_EXPOSURE })).data
    const lit = await renderLocally(withEnvironment(room, decodeEnvironmentImage(SKY), lighting))
    const litPng = toPng(lit)
    expect(png.every((v, i) => v === litPng[i])).toBe(true)
    const unlitPng = toPng(await renderLocally(room))
    expect(png.some((v, i) => v !== unlitPng[i])).toBe(true)
    // The EXR holds the very floats of that render, not a tone-mapped copy.
    const radiance = decodeEnvironmentImage(Buffer.from(files[1]!.base64, 'base64')).radiance
    expect(Array.from(radiance)).toEqual(Array.from(lit.pixels.filter((_, i) => i % 4 !== 3)))
    // Asked for another exposure and tone curve, the PNG is that render tone-mapped so; the EXR is the same floats.
    const graded = (await creator.jobOutput(jobId, { exposure: 0.5, toneCurve: 'aces' })).files
    const gradedPng = decode(Buffer.from(graded[0]!.base64, 'base64')).data
    const gradedLocally = decode(encodePng(lit, { exposure: 0.5, toneCurve: 'aces' })).data
    expect(gradedPng.every((v, i) => v === gradedLocally[i])).toBe(true)
    expect(gradedPng.some((v, i) => v !== png[i])).toBe(true)
    expect(graded[1]!.base64).toBe(files[1]!.base64)
    // A file asked for alone (how a frame too large for one reply is fetched) is the same bytes, not base64.
    const exr = await creator.jobOutputFile(jobId, 'frame-0000.exr')
    expect(exr.contentType).toBe('image/x-exr')
    expect(Buffer.from(exr.bytes).toString('base64')).toBe(files[1]!.base64)
    await expect(creator.jobOutputFile(jobId, 'frame-0001.exr')).rejects.toMatchObject({
      code: 'NODE__OUTPUT_FILE_NOT_FOUND',
    })
  }, 300_000)
})
