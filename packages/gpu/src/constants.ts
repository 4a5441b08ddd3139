/** Defaults and bounds for `@tessera/gpu`. Every bound that protects a decoder or the device is named here. */

export { MAX_ENVIRONMENT_INTENSITY, MAX_IMAGE_SIDE, MAX_SAMPLES_PER_PIXEL } from '@tessera/core'

/** Largest glTF/GLB asset accepted by `loadScene`. */
export const MAX_SCENE_BYTES = 256 * 1024 * 1024
/**
 * Most bytes a scene's accessors, EXT_meshopt_compression buffer views and KHR_draco_mesh_compression primitives may
 * declare together (checked before decoding): compressed geometry is bounded only by these counts, not by the file's
 * size.
 */
export const MAX_DECODED_SCENE_BYTES = 1024 * 1024 * 1024
/**
 * Most bytes one EXT_meshopt_compression buffer view may decode to. The meshopt decoder's WebAssembly memory grows to
 * the largest view it has decoded and is never given back, so this is memory a worker may hold for as long as it runs
 * after one scene. It holds a float32 VEC4 attribute of 16M vertices, more than the 12M corners of
 * {@link MAX_SCENE_TRIANGLES} unindexed triangles.
 */
export const MAX_MESHOPT_VIEW_BYTES = 256 * 1024 * 1024
/**
 * Bytes of Draco's own WebAssembly memory counted in {@link MAX_DECODED_SCENE_BYTES} for each face of a Draco
 * bitstream while the scene is read, beside {@link DRACO_DECODE_BYTES_PER_COMPONENT}: a 700 x 700 grid (977,202
 * faces, 490,000 points) took 53 MB to decode with positions, 96 MB with texture coordinates too (draco3dgltf 1.5.7,
 * edgebreaker; sequential takes less).
 */
export const DRACO_DECODE_BYTES_PER_FACE = 64
/** Bytes of Draco's memory counted for each attribute component of each point (see the above). */
export const DRACO_DECODE_BYTES_PER_COMPONENT = 16
/** Most triangles in one scene: bounds CPU BVH build time and GPU memory. */
export const MAX_SCENE_TRIANGLES = 4_000_000
/**
 * Most box and triangle tests a ray may be expected to make in a scene's BVH (its surface-area-heuristic cost, see
 * `bvhTraversalCost`): a worker loads scenes from strangers, and one that is small on the wire can still make every ray
 * slow. Legitimate scenes measured far below it: the procedural room 58, a 1 M-triangle sphere scene 86, a
 * 1 M-triangle terrain 152, 1 M grass blades 2,300 (4 M: 8,835), 200 k leaf quads in a canopy 2,983, a cube filled
 * with 1 M hair strands 11,714; 100,000 identical thin slivers crossing the scene cost 165,535 (beside a triangle far
 * away too: the tree's costliest box counts), and traced 90 times slower than a small scene.
 */
export const MAX_BVH_TRAVERSAL_COST = 50_000
/**
 * Most times an animated scene's tree refitted to a frame (see `refitBvh`) may cost a ray (`bvhTraversalCost`) what it
 * cost for the pose it was built for; past it the frame gets a tree built for its own pose. A refit keeps which
 * triangles each box groups, so where they fly apart its boxes grow to span the scene: 3,000 debris pieces bursting
 * from a 0.2-unit cluster to fill a 4-unit room cost (the root's, as measured then) 4,068 refitted, 10.5 times the
 * tree's 387 at the burst, against 68 for a tree built for that pose, and traced 30 times slower on the CPU reference
 * (64 ms against 2). Objects moving across the procedural room refitted at 0.96 to 1.05 times, and keep their refits.
 */
export const MAX_REFIT_COST_RATIO = 2
/** Widest or tallest texture accepted, texels (checked from the image header before decoding). */
export const MAX_TEXTURE_SIDE = 8192
/** Most texels of all of a scene's textures together: 64 MB of RGBA8 on the device. */
export const MAX_SCENE_TEXELS = 16 * 1024 * 1024
/**
 * Most start-of-scan markers a JPEG texture may hold: a progressive decode passes over every block once a scan, so
 * scans times texels is its work. libjpeg's progressive script writes 10 scans (6 for grey), Photoshop 3 to 5.
 */
export const MAX_JPEG_SCANS = 64
/**
 * Bytes a texel jpeg-js may count while it decodes a JPEG texture (its `maxMemoryUsageInMB`, with
 * {@link JPEG_DECODER_TABLE_BYTES}): for each 8x8 block of each component it counts 256 bytes of coefficients and 64
 * of samples, then texels times the components for its output and times 4 for the RGBA copy. That is 22 a texel for
 * three components at full resolution, 14.6 for 4:2:0 and 28 for four (CMYK); the rest covers blocks padding a side
 * to whole MCUs. At {@link MAX_SCENE_TEXELS} a decode may count 528 MiB.
 */
export const JPEG_DECODER_BYTES_PER_TEXEL = 32
/**
 * Bytes jpeg-js may count for a JPEG texture beyond {@link JPEG_DECODER_BYTES_PER_TEXEL} a texel: its quantization and
 * Huffman tables, and the MCUs of a small image, which may hold many more texels than the image does.
 */
export const JPEG_DECODER_TABLE_BYTES = 16 * 1024 * 1024
/** Deepest node hierarchy a scene may have: world matrices and the scene walk follow it, one call per level. */
export const MAX_NODE_DEPTH = 256
/** Most joints a skin may have (a detailed character has a few hundred): each costs a matrix product a build. */
export const MAX_SKIN_JOINTS = 4096
/**
 * Most JOINTS_n / WEIGHTS_n pairs a skinned primitive may have (four influences each; glTF asks only that a client
 * read the first, and a real character rarely needs more than two): each is read for every corner the primitive
 * draws, and any number of pairs may name the same two small accessors, so without it a 290 KB file of 4,000 pairs
 * on 20,000 triangles took 36 s to load.
 */
export const MAX_SKIN_SETS = 8
/**
 * Most joints a scene's skins may list together, a joint counted once per skin that lists it, counted in its JSON
 * before it is parsed: the reader links each listing, and every build (every frame of an animated scene) builds a
 * matrix for each. Sixteen skins of {@link MAX_SKIN_JOINTS}; a crowd of 100 characters of 300 joints lists 30,000.
 */
export const MAX_SCENE_JOINTS = 65_536
/**
 * Most channels a scene's animations may hold together, and most samplers, counted in its JSON before it is parsed:
 * glTF-Transform makes a property of about 3 KB of heap for each (400,000 channels took 1.3 GB and 6.6 s to read), so
 * this keeps each list near 100 MB. A rig of {@link MAX_SKIN_JOINTS} joints moved in translation, rotation and scale
 * takes 12,288 in one clip; a character of 100 joints with 30 clips, 9,000.
 */
export const MAX_ANIMATION_CHANNELS = 32_768
/**
 * Most objects (accessors, buffer views, nodes, meshes, their primitives and morph targets, materials, textures,
 * images, samplers, skins, cameras, scenes, animations, punctual lights) a glTF asset may list, counted in its JSON
 * before it is parsed: glTF-Transform makes a property of about 2 to 3 KB of heap for each, so this keeps the parse
 * under a gigabyte. A large real scene (a city block exported node by node) lists tens of thousands; repeated
 * geometry belongs in `EXT_mesh_gpu_instancing`.
 */
export const MAX_GLTF_OBJECTS = 262_144
/**
 * Most floats the key times and values of the animations played may hold together, each accessor counted once however
 * many channels share it, checked before any is decoded. They are decoded to float64, so this is 256 MiB a scene
 * holds while it renders: {@link MAX_DECODED_SCENE_BYTES} counts them as stored, which may be one byte a value
 * (normalized integers). A five-minute clip baked at 60 fps of 100 joints moved in translation, rotation and scale
 * holds 18 M.
 */
export const MAX_ANIMATION_KEY_FLOATS = 32 * 1024 * 1024
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
/**
 * Device work (multiply-adds of a MatMul or Conv, elements read by any other kernel) the WGSL runtime records in a
 * run with an abort signal before it submits it as one window and checks the signal. Once submitted, a dispatch runs
 * to its end whatever the signal says, so an abort leaves at most {@link ONNX_PACED_WINDOWS_IN_FLIGHT} windows (each
 * at least one node) on the device: 2^30 is one 1024^3 MatMul, 0.11 s at the capacity benchmark's reference rate
 * (9.6 GFLOP/s), 0.75 s on lavapipe on two vCPUs. Without pacing a run records its whole graph before its outputs are
 * read, and an abort only ended the wait: 16 such MatMuls aborted after 0.3 s kept lavapipe busy 12 s more.
 */
export const ONNX_PACED_WINDOW_WORK = 2 ** 30
/**
 * Paced windows (see {@link ONNX_PACED_WINDOW_WORK}) a run keeps submitted and unfinished at once: two, so the device
 * runs one while the host records and submits the next, and waits for the older before it submits a third.
 */
export const ONNX_PACED_WINDOWS_IN_FLIGHT = 2
/**
 * Most multiply-adds one MatMul (or Gemm) may make: outputs times the inner dimension K, counted before it runs. As
 * for {@link MAX_WINDOW_OP_READS}, each output is one invocation of one dispatch, which nothing stops once submitted,
 * so this bounds how long one node holds the device: a 4096^3 MatMul is 2^36.
 */
export const MAX_MATMUL_MULTIPLY_ADDS = 2 ** 36
/**
 * Bytes of released tensors (and spent kernel parameter blocks) the WGSL runtime lets wait before it submits what it
 * has recorded and destroys them. A buffer cannot be destroyed before the work that reads it is submitted, and the
 * runtime records a whole graph before its outputs are read, so without this bound a run's device memory is the sum
 * of all its intermediates, not the live set. Counting bytes, not nodes, leaves small models in one submit (their
 * garbage never reaches it) and bounds large ones whatever their tensors' size: a chain of 50 Add/Mul nodes on 1M
 * floats (4 MiB each) submits every 16 nodes and peaks at 68 MiB instead of 204 MiB, with results unchanged bit for
 * bit (each submit is one more command buffer, no wait for the GPU).
 */
export const TENSOR_GARBAGE_FLUSH_BYTES = 64 * 1024 * 1024
/**
 * Most bytes of device buffers one ONNX run may hold at once (created and not yet destroyed; the model's cached
 * weights, bounded by {@link MAX_MODEL_BYTES}, are not counted). Each buffer is also bounded by the adapter's
 * storage-buffer limit (128 MiB on lavapipe and the WebGPU default), so this is 32 such tensors, or a MatMul's two
 * operands and output at a 1 GiB limit: enough for any model the runtime serves, while a small model whose graph
 * keeps many large tensors alive is refused with GPU__ALLOCATION_EXCEEDED instead of exhausting the device (on a
 * CPU driver, the host's memory). Raise it per engine with `maxRunDeviceBytes`.
 */
export const MAX_RUN_DEVICE_BYTES = 4 * 1024 * 1024 * 1024
/** Highest tensor rank the runtime handles (shader parameter blocks are sized for it). */
export const MAX_TENSOR_RANK = 6
/** Most elements in one tensor (2^31 - 1 keeps indices inside i32/u32 arithmetic). */
export const MAX_TENSOR_ELEMENTS = 2 ** 31 - 1
/**
 * Most elements a reduction over nothing may output: a ReduceSum, ReduceMean or ReduceMax over an axis of length 0,
 * GlobalAveragePool of empty planes, a MatMul whose K is 0, or a Conv or pooling whose windows reach no input element
 * fills its output without reading an element, so its
 * output, unlike any other reduction's, is not bounded by its input, and a tensor of no elements may carry any
 * dimensions within {@link MAX_TENSOR_ELEMENTS}. 2^24 floats are 64 MiB, within the storage buffer every WebGPU
 * device offers; such an output is zeros (or the lowest float) that a model has no need to compute at scale.
 */
export const MAX_EMPTY_REDUCTION_ELEMENTS = 2 ** 24
/**
 * Most input elements one Conv, MaxPool or AveragePool may read, counted before it runs: its outputs times, for each,
 * the input channels of its group times the kernel taps along each axis that can reach the input (at most the kernel,
 * and at most the input's length over the dilation); taps in the padding are skipped. Each output is one invocation
 * of one dispatch, which nothing stops once submitted (an abort included), so this bounds how long a model can hold
 * the device with one node. 2^36 reads is 2^37 FLOPs, 14 s at the capacity benchmark's reference matmul rate
 * (9.6 GFLOP/s); the direct kernel read 0.5 G a second on lavapipe on two vCPUs, which a node at the bound holds for
 * about two minutes (the CPU reference, at 0.16 G a second, seven). The 3x3 convolution of 128 channels over 512x512
 * in Stable Diffusion's VAE decoder reads 2^35.2 an image, ResNet-50's largest convolution 2^26.8 an image.
 */
export const MAX_WINDOW_OP_READS = 2 ** 36
/**
 * Most elements of an integer or boolean tensor (shape data, token ids, masks), which the ONNX runtime keeps on the
 * host; float tensors live on the device. A 1,024 x 1,024 causal mask fits four times over.
 */
export const MAX_HOST_TENSOR_ELEMENTS = 1 << 22
/*
 * The bounds below are counted over a whole ONNX model's bytes before they are decoded (`assertModelWithinBounds`):
 * the protobuf decoder makes a JavaScript value for every element of a repeated field, so without them a file well
 * under MAX_MODEL_BYTES (a 64 MB run of packed int64 zeros) decodes into gigabytes of heap.
 */
/**
 * Most initializers (dense and sparse) in one ONNX model: two per node at the node bound, as a Conv's weight and
 * bias or a LayerNormalization's scale and bias; exported networks hold fewer.
 */
export const MAX_MODEL_INITIALIZERS = 2 * MAX_MODEL_NODES
/**
 * Most node attributes in one ONNX model: eight per node at the node bound; the supported operators with the most
 * (MaxPool, AveragePool) have seven.
 */
export const MAX_MODEL_ATTRIBUTES = 8 * MAX_MODEL_NODES
/**
 * Most integers an ONNX model may list one by one (dims, int32_data, int64_data, uint64_data, ints attributes): a
 * quarter of a host tensor in all. Each costs the decoder a heap value (an object for an int64) for as little as one
 * byte of wire: 4M listed int64 values took 370 MB of heap to load, so this bound keeps it near 100 MB. Bulk integer
 * data belongs in raw_data, which is read as bytes.
 */
export const MAX_MODEL_LISTED_INTEGERS = MAX_HOST_TENSOR_ELEMENTS / 4
/**
 * Most floats an ONNX model may list one by one (float_data, double_data, floats attributes): eight host tensors'
 * worth, 128 MB as float32. The decoder holds them as an array of doubles, twice their wire size, before they are
 * copied to a Float32Array; exporters write large weights to raw_data.
 */
export const MAX_MODEL_LISTED_FLOATS = 8 * MAX_HOST_TENSOR_ELEMENTS
/**
 * Most other repeated elements in one ONNX model (value names a node reads and writes, declared values and their
 * dimensions, opset imports, metadata): sixteen per node at the node bound, where a node names about four.
 */
export const MAX_MODEL_ENTRIES = 16 * MAX_MODEL_NODES
/**
 * Most protobuf messages an ONNX model may hold, repeated or not, counted on the wire before it is decoded: the
 * decoder makes an object and its empty repeated fields for each, about 200 bytes (a 31.5 MB model of 800,000
 * attributes each nesting a dozen empty messages took 1.8 GB), so this keeps them near 400 MB. A model at
 * {@link MAX_MODEL_NODES} nodes, with a few attributes each, an initializer per weight and a declared type per value,
 * holds about a million.
 */
export const MAX_MODEL_MESSAGES = 2 ** 21
/**
 * Deepest nesting of protobuf messages in an ONNX model. A graph's tensors and declared shapes lie seven deep; only
 * subgraphs (If, Loop, which the runtime does not run) and nested types go deeper, and the bound keeps the walk's
 * and the decoder's recursion short.
 */
export const MAX_MODEL_NESTING = 32

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
/**
 * Least offset along the geometric normal that keeps a bounced ray from re-hitting its own surface: the offset of a
 * scene whose coordinates stay within a few units (see {@link RAY_EPSILON_RELATIVE} for larger ones).
 */
export const RAY_EPSILON = 1e-4
/**
 * Offset along the geometric normal per unit of the largest coordinate of a hit point and of the origin of the ray
 * that found it, where that gives more than {@link RAY_EPSILON}. A float32 hit point is off its surface by a few ulps
 * of those coordinates, and past about 800 one ulp exceeds the fixed offset, so whether a bounce re-hits its own
 * surface would hang on each driver's rounding. 2^-16 is 128 ulps at least, and a power of two, so from the same
 * coordinates the CPU reference and the shaders compute the same offset. (The triangle's own vertices are left out:
 * a floor 100 units wide would otherwise move every light sample taken on it by its offset.)
 */
export const RAY_EPSILON_RELATIVE = 2 ** -16
/** XORed into a path's random state to seed its shadow ray's stochastic transparency apart from its bounce ray's. */
export const SHADOW_SEED = 0x9e3779b9
/**
 * Most pixel-samples one path-tracing dispatch traces: bounds one dispatch's run time and its buffer of sample
 * groups (16 bytes a pixel-sample group). A CPU driver splits a pixel's samples into groups when one row of them
 * would pass it.
 */
export const PIXEL_SAMPLES_PER_DISPATCH = 1 << 20
/**
 * Run time an abortable render aims each dispatch at, milliseconds. A submitted dispatch cannot be stopped, and the
 * render keeps one queued behind the running one so the device never waits for the host, so an abort waits up to
 * about twice this for the work in flight, plus, where the image's cost is uneven, the time of a few of the tile's
 * costliest rows (bands of 8 rows on a GPU) beyond what the rows timed before foretold.
 */
export const DISPATCH_TARGET_MS = 250
/**
 * Most an abortable render grows one dispatch's pixel-samples over the largest one it has timed: it starts at one row
 * of one sample, and a fast dispatch (its run time mostly fixed cost, or its rows cheap) must not make the next one
 * long.
 */
export const DISPATCH_GROWTH = 4
/**
 * Rows an abortable render's dispatch spreads over, at least, where a pixel's samples go in turn (a CPU driver; see
 * `DispatchPlanner`): a pass takes as many samples of each row as fit the budget over this many rows. The more rows
 * a dispatch holds, the less one costly row weighs in it (a row costing c times the average adds about (c - 1) / 32
 * of the dispatch's time); the more samples, the faster a CPU driver traces them (on lavapipe, passes of one or two
 * samples over every row traced about 15 % fewer rays/s than blocks of all sixteen). Where samples go side by side (a
 * GPU), more of them buy no speed, and a dispatch spreads over every row.
 */
export const PACED_SPREAD_ROWS = 32
/** Workgroup side of the path-tracing kernel (8x8 invocations). */
export const RENDER_WORKGROUP = 8

/** Default Dawn backend on Node. */
export const DEFAULT_BACKEND = 'vulkan'
/** Environment variable Dawn's EGL loader reads; `surfaceless` runs GLES without a display. */
export const EGL_PLATFORM_ENV = 'EGL_PLATFORM'

/** Default exposure applied when tone-mapping linear radiance to 8-bit sRGB. */
export const DEFAULT_EXPOSURE = 1
/**
 * Largest exposure accepted when tone-mapping (about 20 stops above 1): brightens the dimmest render a path tracer
 * gives into view, while an exposure near float64's range would turn every pixel's radiance into an overflow.
 */
export const MAX_EXPOSURE = 1e6
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
 * Most bytes an OpenEXR environment image may store a texel, all its channels together (RGBA in 32-bit floats is 16):
 * a block may decompress to its texels times this, so it bounds what one block and the whole image can inflate to.
 */
export const MAX_ENVIRONMENT_TEXEL_BYTES = 64
/**
 * Brightest radiance a light source may give, an emissive material (its strength, since its factor is at most 1) or
 * an environment texel times the environment's intensity: keeps radiance finite in f32 through a path's products and
 * through a tile's sum of samples. Brighter ones are dimmed to it, an environment texel keeping its hue.
 */
export const MAX_LIGHT_RADIANCE = 1e6
/**
 * Most texels an environment keeps on the GPU: larger ones are box-filtered by halves until they fit. 2048 x 1024
 * texels take 32 MB with their sampling tables, and light a scene as well as the 8k original would.
 */
export const MAX_ENVIRONMENT_TEXELS = 2048 * 1024
