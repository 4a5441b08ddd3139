/**
 * The determinism probes' materials scene: the procedural room with its three spheres made of the layered glTF
 * materials (solid tinted glass, a clear-coated metal, sheen cloth). Its render runs the kernel variant compiled
 * for transmission, clearcoat and sheen together, so the cross-driver profile covers those code paths too, not
 * only the plain kernel the bench times.
 */
import { WebIO } from '@gltf-transform/core'
import {
  KHRMaterialsClearcoat,
  KHRMaterialsSheen,
  KHRMaterialsTransmission,
  KHRMaterialsVolume,
} from '@gltf-transform/extensions'
import { generateSceneDocument } from '../src/index.js'
import type { EnvironmentImage } from '../src/index.js'

/** GLB bytes of the room with a glass, a coated and a sheen sphere. */
export async function materialsScene(): Promise<Uint8Array> {
  const doc = generateSceneDocument()
  const byName = (name: string) =>
    doc
      .getRoot()
      .listMaterials()
      .find((m) => m.getName() === name)!

  // Solid green-tinted glass: the Walter BTDF with refraction at ior 1.5 and Beer-Lambert absorption inside.
  byName('diffuse')
    .setBaseColorFactor([1, 1, 1, 1])
    .setRoughnessFactor(0.05)
    .setExtension(
      'KHR_materials_transmission',
      doc.createExtension(KHRMaterialsTransmission).createTransmission().setTransmissionFactor(1),
    )
    .setExtension(
      'KHR_materials_volume',
      doc
        .createExtension(KHRMaterialsVolume)
        .createVolume()
        .setThicknessFactor(0.7)
        .setAttenuationColor([0.6, 0.9, 0.7])
        .setAttenuationDistance(0.5),
    )
  // Rough gold under a smooth clear coat.
  byName('gold').setExtension(
    'KHR_materials_clearcoat',
    doc
      .createExtension(KHRMaterialsClearcoat)
      .createClearcoat()
      .setClearcoatFactor(1)
      .setClearcoatRoughnessFactor(0.05),
  )
  // Blue cloth: a rough dielectric with a bright sheen.
  byName('mirror')
    .setBaseColorFactor([0.1, 0.15, 0.5, 1])
    .setMetallicFactor(0)
    .setRoughnessFactor(0.8)
    .setExtension(
      'KHR_materials_sheen',
      doc
        .createExtension(KHRMaterialsSheen)
        .createSheen()
        .setSheenColorFactor([0.9, 0.9, 0.9])
        .setSheenRoughnessFactor(0.4),
    )
  return new WebIO()
    .registerExtensions([KHRMaterialsTransmission, KHRMaterialsVolume, KHRMaterialsClearcoat, KHRMaterialsSheen])
    .writeBinary(doc)
}

/**
 * A 256 x 128 panorama for the probes: a sky brightening towards the zenith, a dim ground, and a small sun of
 * radiance 200 above the horizon (what real HDR skies look like to the sampler: most of the power in a few texels).
 */
export function probeSky(): EnvironmentImage {
  const width = 256
  const height = 128
  const radiance = new Float32Array(width * height * 3)
  for (let row = 0; row < height; row++) {
    for (let col = 0; col < width; col++) {
      const up = Math.cos((Math.PI * (row + 0.5)) / height)
      const sun = Math.abs(row - 40) < 2 && Math.abs(col - 150) < 2
      const sky = up > 0 ? [0.3 + 0.5 * up, 0.45 + 0.5 * up, 0.8 + 0.4 * up] : [0.12, 0.1, 0.08]
      radiance.set(sun ? [200, 190, 170] : sky, (row * width + col) * 3)
    }
  }
  return { width, height, radiance }
}
