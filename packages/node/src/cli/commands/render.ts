import { type AbortOptions, throwIfAborted } from '@tessera/core'
import {
  compositeTiles,
  createEngine,
  decodeEnvironmentImage,
  encodePng,
  loadScene,
  renderTileCpu,
  withEnvironment,
} from '@tessera/gpu'
import type { RenderedTile, RenderTileOptions } from '@tessera/gpu'
import { SingleBar } from 'cli-progress'
import type { Command } from 'commander'
import { MAX_FRAME_NUMBER } from '../../constants.js'
import { NodeError } from '../../errors.js'
import { PNG_EXPOSURE } from '../../peer/job-output.js'
import { checkFlags } from '../errors.js'
import type { CliIo } from '../io.js'
import { checkEnvironmentFlags, environmentOptions, lightingOf, type EnvironmentFlags } from '../environment-flags.js'
import { parseFirstFrame, parseFps, parseFrameNumber, parseImageSide, parseSamples } from '../parse.js'
import { readInput, readScene } from '../read-input.js'
import { toneOptions, type ToneFlags } from '../tone-flags.js'
import { assertWritable, writeOutput } from '../write-output.js'

/** Side of the tiles a local render is cut into: the progress bar moves between them. */
const PREVIEW_TILE = 128

interface RenderFlags extends EnvironmentFlags, ToneFlags {
  out: string
  width: number
  height: number
  samples: number
  frame: number
  fps?: number
  firstFrame?: number
  animation?: string
  cpu?: boolean
  force?: boolean
  json?: boolean
}

/**
 * `tessera render <scene>`: renders a glTF scene on this machine and writes a PNG, the preview a creator checks
 * before paying for a render job. The engine and the tiles are the ones a worker's would be, so a scene that loads
 * and looks right here renders the same on the market (on one driver, bit for bit).
 */
export function registerRender(program: Command, io: CliIo, options: AbortOptions = {}): void {
  toneOptions(
    environmentOptions(
      program
        .command('render')
        .description('render a glTF scene (.glb or .gltf) on this machine to PNG, as a render job would')
        .argument('<scene>', 'the scene file'),
    )
      .option('--out <file>', 'PNG to write', 'frame.png')
      .option('--width <px>', 'image width', parseImageSide, 256)
      .option('--height <px>', 'image height', parseImageSide, 256)
      .option('--samples <n>', 'samples per pixel', parseSamples, 16)
      .option(
        '--frame <n>',
        `frame number, at most ${MAX_FRAME_NUMBER} (it seeds the noise, and with --fps poses the animations)`,
        parseFrameNumber,
        0,
      )
      .option('--fps <n>', "frame rate the scene's animations play at: frame f shows time f / fps", parseFps)
      .option(
        '--first-frame <n>',
        "with --fps, the job's first frame (default 0): every frame refits the BVH built for its pose, as the job's do",
        parseFirstFrame,
      )
      .option('--animation <name>', 'with --fps, the one animation to play (default: all of them)'),
    // `job fetch`'s, so the preview is as bright as the job's frames.
    PNG_EXPOSURE,
  )
    .option('--cpu', 'use the CPU reference path tracer (what a verifier without a GPU runs)')
    .option('--force', 'replace a file already at --out')
    .option('--json', 'print JSON')
    .action(async (scenePath: string, flags: RenderFlags, command: Command) => {
      checkFlags(() => {
        checkEnvironmentFlags(command, flags)
        if (flags.animation !== undefined && flags.fps === undefined) {
          throw new NodeError(
            'NODE__UNSUPPORTED_INPUT',
            '--animation picks an animation to play at --fps: give both',
            {},
          )
        }
        if (flags.firstFrame !== undefined && flags.fps === undefined) {
          throw new NodeError(
            'NODE__UNSUPPORTED_INPUT',
            "--first-frame poses the tree an animation's frames refit at --fps: give both",
            {},
          )
        }
      })
      const write = { force: flags.force === true }
      await assertWritable(flags.out, write)
      // Read as `job submit` reads it: a file that is missing or unreadable is that, not a malformed scene. Posed as a
      // job's workers pose it: the job's first frame's tree refitted, so the preview traces the tree they trace.
      const loaded = await loadScene(
        await readScene(scenePath),
        flags.fps === undefined
          ? {}
          : {
              time: flags.frame / flags.fps,
              topologyTime: (flags.firstFrame ?? 0) / flags.fps,
              ...(flags.animation === undefined ? {} : { animation: flags.animation }),
            },
      )
      const scene =
        flags.environment === undefined
          ? loaded
          : withEnvironment(loaded, decodeEnvironmentImage(await readInput(flags.environment)), lightingOf(flags))
      const engine = flags.cpu === true ? undefined : await createEngine(options)
      try {
        const tiles = tileGrid(flags)
        const bar = io.isTty
          ? new SingleBar({ format: ' {bar} {value}/{total} tiles | ETA {eta_formatted}' })
          : undefined
        bar?.start(tiles.length, 0)
        const started = performance.now()
        const rendered: RenderedTile[] = []
        for (const tile of tiles) {
          throwIfAborted(options.signal)
          const render: RenderTileOptions = { scene, frame: flags.frame, samples: flags.samples, ...tile }
          rendered.push(engine === undefined ? renderTileCpu(render) : await engine.renderTile(render, options))
          bar?.increment()
        }
        bar?.stop()
        const seconds = (performance.now() - started) / 1000
        await writeOutput(
          flags.out,
          encodePng(compositeTiles(rendered), { exposure: flags.exposure, toneCurve: flags.toneCurve }),
          write,
        )
        const rays = rendered.reduce((sum, t) => sum + t.rays, 0)
        const device =
          engine === undefined ? 'CPU reference' : `${engine.adapter.vendor} ${engine.adapter.architecture}`
        const report = {
          out: flags.out,
          width: flags.width,
          height: flags.height,
          samples: flags.samples,
          device: device.trim(),
          triangles: scene.triangleCount,
          seconds,
          raysPerSec: rays / seconds,
        }
        io.stdout(
          flags.json === true
            ? `${JSON.stringify(report)}\n`
            : `wrote ${report.out}: ${report.width}x${report.height}, ${report.samples} spp, ${report.triangles} triangles on ${report.device} in ${seconds.toFixed(1)} s (${(report.raysPerSec / 1e6).toFixed(2)} M rays/s)\n`,
        )
      } finally {
        engine?.destroy()
      }
    })
}

/** The image cut into tiles of {@link PREVIEW_TILE}, row by row. */
function tileGrid(
  f: RenderFlags,
): Array<Pick<RenderTileOptions, 'imageWidth' | 'imageHeight' | 'x' | 'y' | 'width' | 'height'>> {
  const tiles = []
  for (let y = 0; y < f.height; y += PREVIEW_TILE) {
    for (let x = 0; x < f.width; x += PREVIEW_TILE) {
      tiles.push({
        imageWidth: f.width,
        imageHeight: f.height,
        x,
        y,
        width: Math.min(PREVIEW_TILE, f.width - x),
        height: Math.min(PREVIEW_TILE, f.height - y),
      })
    }
  }
  return tiles
}
