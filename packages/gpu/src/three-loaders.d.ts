/**
 * The little of three.js the environment decoders use (three ships JavaScript without types; @types/three would
 * bring in the whole library's and WebGPU's declarations for two functions).
 */
declare module 'three' {
  /** The texture type that makes a loader return a Float32Array. */
  export const FloatType: number
  /** Tests write EXR files through a data texture. */
  export const RGBAFormat: number
  export class DataTexture {
    constructor(data: Float32Array, width: number, height: number, format: number, type: number)
  }
}

// Each loader's synchronous parse: the texels and size of the file in `buffer`.
declare module 'three/examples/jsm/loaders/HDRLoader.js' {
  export class HDRLoader {
    setDataType(type: number): this
    parse(buffer: ArrayBuffer): { width: number; height: number; data: ArrayLike<number> }
  }
}

declare module 'three/examples/jsm/loaders/EXRLoader.js' {
  export class EXRLoader {
    setDataType(type: number): this
    parse(buffer: ArrayBuffer): { width: number; height: number; data: ArrayLike<number> }
  }
}

declare module 'three/examples/jsm/exporters/EXRExporter.js' {
  export class EXRExporter {
    parse(texture: import('three').DataTexture, options: { type: number }): Promise<Uint8Array>
  }
}
