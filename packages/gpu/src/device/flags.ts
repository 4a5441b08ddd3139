/**
 * WebGPU flag values, fixed by the specification. Dawn on Node does not define the `GPUBufferUsage` and
 * `GPUMapMode` globals (it exports them in `globals` instead), so the engine names the numbers itself.
 */
export const BufferUsage = Object.freeze({
  MAP_READ: 0x0001,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
})

/** `GPUMapMode.READ`. */
export const MAP_MODE_READ = 0x0001
