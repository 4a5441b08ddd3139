import { GpuError } from '../errors.js'
import type { Camera } from './scene.js'

/**
 * The camera's projection as the kernels read it, one signed number: tan(yfov / 2) for a perspective camera (the
 * half-height of the view at unit distance), minus the half-height for an orthographic one.
 */
export function projectionScale(camera: Camera): number {
  return camera.orthographic === undefined ? Math.tan(camera.yfov / 2) : -camera.orthographic
}

/**
 * Checks a camera before a scene is packed: finite vectors, a field of view in (0, π) for a perspective camera, a
 * positive finite half-height for an orthographic one.
 *
 * @throws GPU__MALFORMED_SCENE otherwise
 */
export function assertCamera(camera: Camera): void {
  const vectors = [camera.position, camera.forward, camera.up, camera.right]
  const ok =
    vectors.every((v) => v.length === 3 && v.every(Number.isFinite)) &&
    (camera.orthographic === undefined
      ? camera.yfov > 0 && camera.yfov < Math.PI
      : camera.orthographic > 0 && camera.orthographic < Infinity)
  if (!ok) {
    throw new GpuError(
      'GPU__MALFORMED_SCENE',
      'a camera needs finite vectors and a field of view in (0, π), or an orthographic half-height above 0',
      { yfov: camera.yfov, orthographic: camera.orthographic },
    )
  }
}
