import { createRequire } from 'node:module'
import { logger as libp2pLogger } from '@libp2p/logger'
import { Resvg } from '@resvg/resvg-js'
import { logger as vegaLogger, parse, View, Warn } from 'vega'
import { compile, type TopLevelSpec } from 'vega-lite'
import { SimError } from '../errors.js'

const log = libp2pLogger('tessera:sim:charts')
const require = createRequire(import.meta.url)

/** The chart font, shipped as a package so every machine draws the same glyphs (no system-font lookup). */
export const CHART_FONT_FAMILY = 'DejaVu Sans'
const FONT_FILES = [
  require.resolve('dejavu-fonts-ttf/ttf/DejaVuSans.ttf'),
  require.resolve('dejavu-fonts-ttf/ttf/DejaVuSans-Bold.ttf'),
]
/** PNGs are drawn at twice the SVG's size, for screens and READMEs. */
const PNG_ZOOM = 2

/** A rendered chart. */
export interface RenderedChart {
  svg: string
  png: Uint8Array
}

/** Routes vega's warnings to the debug logger: libraries never write to the console. */
function quietLogger(): ReturnType<typeof vegaLogger> {
  return vegaLogger(Warn, undefined, (_method, level, args) => log('vega %s: %s', level, args.map(String).join(' ')))
}

/**
 * Renders a Vega-Lite spec headlessly: Vega-Lite compiles it to Vega, a renderer-less View draws the SVG, and resvg
 * rasterises it with the bundled DejaVu Sans. Nothing in the output depends on the time or on random ids, so the
 * same spec gives the same bytes on every run.
 */
export async function renderChart(spec: TopLevelSpec): Promise<RenderedChart> {
  try {
    const themed = {
      ...spec,
      config: { font: CHART_FONT_FAMILY, background: 'white', ...spec.config },
    } as TopLevelSpec
    const vega = compile(themed, { logger: quietLogger() }).spec
    const view = new View(parse(vega), { renderer: 'none', logger: quietLogger() })
    let svg: string
    try {
      svg = await view.toSVG()
    } finally {
      view.finalize()
    }
    const png = new Resvg(svg, {
      font: { loadSystemFonts: false, fontFiles: FONT_FILES, defaultFontFamily: CHART_FONT_FAMILY },
      fitTo: { mode: 'zoom', value: PNG_ZOOM },
      background: 'white',
    })
      .render()
      .asPng()
    return { svg, png: new Uint8Array(png) }
  } catch (cause) {
    throw new SimError('SIM__CHART_FAILED', `cannot render chart: ${(cause as Error).message}`, {}, { cause })
  }
}
