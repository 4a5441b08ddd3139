import { DEFAULT_BACKEND, EGL_PLATFORM_ENV } from '../constants.js'
import { GpuError } from '../errors.js'

/**
 * Which WebGPU implementation backs an engine.
 * - `vulkan`: Dawn's Vulkan backend (lavapipe without a GPU, the vendor driver with one).
 * - `opengles`: Dawn's OpenGL ES backend in WebGPU compatibility mode, run headless through EGL's surfaceless
 *   platform; a second driver for the determinism profile.
 * - `auto`: Dawn picks (Metal on macOS, D3D12 on Windows).
 */
export type Backend = 'vulkan' | 'opengles' | 'auto'

/** A WebGPU entry point plus what must stay referenced while devices made from it live. */
export interface GpuProvider {
  gpu: GPU
  featureLevel: 'core' | 'compatibility'
  backend: Backend | 'browser'
}

/**
 * Finds a WebGPU implementation: the injected one, `navigator.gpu` in browsers, or Dawn's `webgpu` addon on Node.
 * Dawn is imported lazily so browser bundles never see it.
 */
export async function resolveProvider(backend: Backend = DEFAULT_BACKEND, injected?: GPU): Promise<GpuProvider> {
  if (injected !== undefined) {
    return { gpu: injected, featureLevel: backend === 'opengles' ? 'compatibility' : 'core', backend }
  }
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator
  if (typeof process === 'undefined' && nav?.gpu !== undefined) {
    return { gpu: nav.gpu, featureLevel: 'core', backend: 'browser' }
  }
  let dawn: typeof import('webgpu')
  try {
    dawn = await import('webgpu')
  } catch (cause) {
    throw new GpuError(
      'GPU__ADAPTER_NOT_FOUND',
      'the `webgpu` (Dawn) addon could not be loaded',
      { backend },
      { cause },
    )
  }
  const flags: string[] = []
  if (backend === 'opengles') {
    // Dawn's GLES backend reads EGL_PLATFORM when it opens the display; surfaceless needs no X or Wayland.
    process.env[EGL_PLATFORM_ENV] ??= 'surfaceless'
    flags.push('backend=opengles')
  } else if (backend === 'vulkan') {
    flags.push('backend=vulkan')
  }
  return {
    gpu: dawn.create(flags),
    featureLevel: backend === 'opengles' ? 'compatibility' : 'core',
    backend,
  }
}
