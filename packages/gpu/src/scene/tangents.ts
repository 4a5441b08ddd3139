import { generateTangents } from 'mikktspace'

/**
 * MikkTSpace vertex tangents for a triangle soup (3 vertices per triangle, no sharing), as the glTF specification
 * asks of clients when an asset carries a normal map but no `TANGENT` attribute: normal maps are baked against
 * MikkTSpace, so any other tangent frame bends their normals wrongly. Computed by the reference implementation
 * compiled to WebAssembly (`mikktspace`, the package glTF-Transform uses).
 *
 * `positions` and `normals` hold 3 floats per vertex, `uvs` 2: the coordinates the normal map is sampled at. A zero
 * or non-finite normal stands in as its triangle's face normal, as the path tracer shades it. Returns 4 floats per
 * vertex: the tangent's xyz and w = ±1, with the bitangent cross(normal, tangent) * w pointing up the image. glTF's
 * v runs down the image and MikkTSpace's up, hence w is negated (as glTF-Transform's `tangents()` documents).
 */
export function soupTangents(positions: Float32Array, normals: Float32Array, uvs: Float32Array): Float32Array {
  const n = Float32Array.from(normals)
  for (let tri = 0; tri < positions.length / 9; tri++) {
    const o = tri * 9
    const ax = positions[o + 3]! - positions[o]!
    const ay = positions[o + 4]! - positions[o + 1]!
    const az = positions[o + 5]! - positions[o + 2]!
    const bx = positions[o + 6]! - positions[o]!
    const by = positions[o + 7]! - positions[o + 1]!
    const bz = positions[o + 8]! - positions[o + 2]!
    const face = [ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx]
    for (let k = 0; k < 3; k++) {
      const v = o + k * 3
      const len = Math.hypot(n[v]!, n[v + 1]!, n[v + 2]!)
      if (len > 1e-12 && Number.isFinite(len)) continue
      n.set(face, v)
    }
  }
  const tangents = generateTangents(Float32Array.from(positions), n, Float32Array.from(uvs))
  for (let i = 3; i < tangents.length; i += 4) tangents[i] = tangents[i]! < 0 ? 1 : -1
  return tangents
}
