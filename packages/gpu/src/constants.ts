/** Defaults and bounds for `@tessera/gpu`. Every bound that protects a decoder or the device is named here. */

export { MAX_ENVIRONMENT_INTENSITY, MAX_IMAGE_SIDE, MAX_SAMPLES_PER_PIXEL } from '@tessera/core'

/** Largest glTF/GLB asset accepted by `loadScene`. */
export const MAX_SCENE_BYTES = 256 * 1024 * 1024
/**
 * Most bytes a scene's accessors may declare (checked before decoding): compressed geometry is bounded only by
 * these counts, not by the file's size.
 */
export const MAX_DECODED_SCENE_BYTES = 1024 * 1024 * 1024
/** Most triangles in one scene: bounds CPU BVH build time and GPU memory. */
export const MAX_SCENE_TRIANGLES = 4_000_000
/** Widest or tallest texture accepted, texels (checked from the image header before decoding). */
export const MAX_TEXTURE_SIDE = 8192
/** Most texels of all of a scene's textures together: 64 MB of RGBA8 on the device. */
export const MAX_SCENE_TEXELS = 16 * 1024 * 1024
/** Deepest node hierarchy a scene may have: world matrices and the scene walk follow it, one call per level. */
export const MAX_NODE_DEPTH = 256
/** Most joints a skin may have (a detailed character has a few hundred): each costs its chain of parents a build. */
export const MAX_SKIN_JOINTS = 4096
/** Most morph targets a primitive may have (a face rig has about fifty). */
export const MAX_MORPH_TARGETS = 256
/** Most target reads a build may blend (corners times targets weighted): bounds the work of a scene's morphs. */
export const MAX_MORPH_READS = 64 * 1024 * 1024
/** Largest normal-map scale accepted (glTF normalTexture.scale): past it a map only flattens normals sideways. */
export const MAX_NORMAL_SCALE = 1000
/** Largest index of refraction accepted (KHR_materials_ior; diamond is 2.42). */
export const MAX_IOR = 10
/** Largest KHR_materials_specular colour factor accepted (the F0 it scales is capped at 1 anyway). */
export const MAX_SPECULAR_COLOR = 100
/** Most punctual lights (KHR_lights_punctual) in one scene: next-event estimation picks among them uniformly. */
export const MAX_PUNCTUAL_LIGHTS = 4096
/** Most materials in one scene. */
export const MAX_SCENE_MATERIALS = 65_536
/** Largest ONNX model accepted by `loadOnnxModel`. */
export const MAX_MODEL_BYTES = 512 * 1024 * 1024
/** Most nodes in one ONNX graph. */
export const MAX_MODEL_NODES = 100_000
/**
 * ONNX nodes a run with an abort signal computes between yields to the event loop. Nodes compute synchronously
 * (on the CPU backend, all of a kernel's work), so without a yield an abort could not be seen until the run ended.
 */
export const ONNX_NODES_PER_YIELD = 8
/** Highest tensor rank the runtime handles (shader parameter blocks are sized for it). */
export const MAX_TENSOR_RANK = 6
/** Most elements in one tensor (2^31 - 1 keeps indices inside i32/u32 arithmetic). */
export const MAX_TENSOR_ELEMENTS = 2 ** 31 - 1
/**
 * Most elements of an integer or boolean tensor (shape data, token ids, masks), which the ONNX runtime keeps on the
 * host; float tensors live on the device. A 1,024 x 1,024 causal mask fits four times over.
 */
export const MAX_HOST_TENSOR_ELEMENTS = 1 << 22

/** Bounces after which a path ends even if Russian roulette keeps it alive. */
export const MAX_PATH_DEPTH = 8
/** Bounce from which Russian roulette may end a path. */
export const RUSSIAN_ROULETTE_DEPTH = 3
/** Triangles per BVH leaf at most. */
export const BVH_MAX_LEAF_TRIANGLES = 4
/** SAH bins per axis while building the BVH. */
export const BVH_BINS = 12
/** Deepest BVH accepted: bounds the builder's recursion on adversarial geometry. */
export const BVH_MAX_DEPTH = 64
/** Offset along the geometric normal that keeps a bounced ray from re-hitting its own surface. */
export const RAY_EPSILON = 1e-4
/** XORed into a path's random state to seed its shadow ray's stochastic transparency apart from its bounce ray's. */
export const SHADOW_SEED = 0x9e3779b9
/** Pixel-samples per path-tracing dispatch: bounds one dispatch's run time (abortable between dispatches). */
export const PIXEL_SAMPLES_PER_DISPATCH = 1 << 20
/** Workgroup side of the path-tracing kernel (8x8 invocations). */
export const RENDER_WORKGROUP = 8

/** Default Dawn backend on Node. */
export const DEFAULT_BACKEND = 'vulkan'
/** Environment variable Dawn's EGL loader reads; `surfaceless` runs GLES without a display. */
export const EGL_PLATFORM_ENV = 'EGL_PLATFORM'

/** Default exposure applied when tone-mapping linear radiance to 8-bit sRGB. */
export const DEFAULT_EXPOSURE = 1
/** Largest environment image accepted, bytes (a 16k x 8k Radiance file is about 400 MB uncompressed). */
export const MAX_ENVIRONMENT_BYTES = 512 * 1024 * 1024
/** Longest side of an environment image accepted by the decoders. */
export const MAX_ENVIRONMENT_SIDE = 16384
/**
 * Most texels an environment image may hold to be decoded: an 8k panorama (8192 x 4096). The decoders hold it as
 * RGBA float32 (512 MB at this size) before it is filtered down to {@link MAX_ENVIRONMENT_TEXELS}.
 */
export const MAX_ENVIRONMENT_DECODED_TEXELS = 8192 * 4096
/**
 * Most texels an environment keeps on the GPU: larger ones are box-filtered by halves until they fit. 2048 x 1024
 * texels take 32 MB with their sampling tables, and light a scene as well as the 8k original would.
 */
export const MAX_ENVIRONMENT_TEXELS = 2048 * 1024
