/**
 * Tone curves: how linear radiance above 1 is brought into the displayable range before sRGB encoding.
 *
 * - `clamp`: each channel cut at 1 (what the renders' checks compare, and the default).
 * - `neutral`: Khronos PBR Neutral (KhronosGroup/ToneMapping): colours below 0.76 keep their hue and value bar a
 *   small black offset; brighter ones roll off towards white, desaturating as they go. For product renders, where
 *   a base colour should print as itself.
 * - `aces`: Narkowicz's fit of the ACES filmic curve per channel: more contrast, highlights rolled off.
 */
export const TONE_CURVES = ['clamp', 'neutral', 'aces'] as const
export type ToneCurve = (typeof TONE_CURVES)[number]

/**
 * Input from which Narkowicz's ACES fit is cut at 1: the fit passes 1 at about 7.24. Answering 1 from here on, not
 * computing the fit, keeps x squared from overflowing to infinity over infinity, NaN, which would print black.
 */
const ACES_WHITE = 8

/** Applies `curve` to the linear RGB in `rgb` (three numbers), in place. */
export function applyToneCurve(curve: ToneCurve, rgb: Float64Array): void {
  if (curve === 'aces') {
    for (let c = 0; c < 3; c++) {
      const x = Math.max(0, rgb[c]!)
      rgb[c] = x >= ACES_WHITE ? 1 : Math.min(1, (x * (2.51 * x + 0.03)) / (x * (2.43 * x + 0.59) + 0.14))
    }
  } else if (curve === 'neutral') {
    pbrNeutral(rgb)
  }
}

/** Khronos PBR Neutral's constants: where compression starts, and how much a compressed colour desaturates. */
const START_COMPRESSION = 0.8 - 0.04
const DESATURATION = 0.15

function pbrNeutral(rgb: Float64Array): void {
  const x = Math.min(rgb[0]!, rgb[1]!, rgb[2]!)
  const offset = x < 0.08 ? x - 6.25 * x * x : 0.04
  for (let c = 0; c < 3; c++) rgb[c] = rgb[c]! - offset
  const peak = Math.max(rgb[0]!, rgb[1]!, rgb[2]!)
  if (peak < START_COMPRESSION) return
  const d = 1 - START_COMPRESSION
  const newPeak = 1 - (d * d) / (peak + d - START_COMPRESSION)
  const g = 1 - 1 / (DESATURATION * (peak - newPeak) + 1)
  for (let c = 0; c < 3; c++) rgb[c] = (rgb[c]! * newPeak) / peak + (newPeak - (rgb[c]! * newPeak) / peak) * g
}
