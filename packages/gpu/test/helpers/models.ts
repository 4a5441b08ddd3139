import { floatTensor, GraphBuilder, int64Tensor, randomFloats } from './onnx-builder.js'
import type { Attr } from './onnx-builder.js'

/** An MLP: Gemm -> Relu -> MatMul + Add -> Gelu -> Gemm (transB) -> Softmax. Input x [batch, 64], output y [batch, 10]. */
export function mlpModel(): Uint8Array {
  return new GraphBuilder()
    .input('x', ['batch', 64])
    .output('y', ['batch', 10])
    .weight('w1', [64, 128], randomFloats(64 * 128, 1, 0.2))
    .weight('b1', [128], randomFloats(128, 2, 0.1))
    .weight('w2', [128, 32], randomFloats(128 * 32, 3, 0.2))
    .weight('b2', [32], randomFloats(32, 4, 0.1))
    .weight('w3', [10, 32], randomFloats(10 * 32, 5, 0.3))
    .weight('b3', [10], randomFloats(10, 6, 0.1))
    .node('Gemm', ['x', 'w1', 'b1'], ['h1'])
    .node('Relu', ['h1'], ['a1'])
    .node('MatMul', ['a1', 'w2'], ['h2'])
    .node('Add', ['h2', 'b2'], ['h2b'])
    .node('Gelu', ['h2b'], ['a2'])
    .node('Gemm', ['a2', 'w3', 'b3'], ['logits'], { transB: { int: 1 }, alpha: { float: 0.5 } })
    .node('Softmax', ['logits'], ['y'], { axis: { int: -1 } })
    .build(20)
}

/** A small CNN: Conv+Relu -> MaxPool -> grouped Conv+Relu -> GlobalAveragePool -> Flatten -> Gemm. x [batch, 3, 16, 16] -> y [batch, 10]. */
export function cnnModel(): Uint8Array {
  return new GraphBuilder()
    .input('x', ['batch', 3, 16, 16])
    .output('y', ['batch', 10])
    .weight('k1', [8, 3, 3, 3], randomFloats(8 * 27, 11, 0.3))
    .weight('c1', [8], randomFloats(8, 12, 0.1))
    .weight('k2', [16, 4, 3, 3], randomFloats(16 * 36, 13, 0.3))
    .weight('c2', [16], randomFloats(16, 14, 0.1))
    .weight('fc', [10, 16], randomFloats(160, 15, 0.3))
    .weight('fb', [10], randomFloats(10, 16, 0.1))
    .node('Conv', ['x', 'k1', 'c1'], ['h1'], { pads: { ints: [1, 1, 1, 1] }, kernel_shape: { ints: [3, 3] } })
    .node('Relu', ['h1'], ['a1'])
    .node('MaxPool', ['a1'], ['p1'], { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] } })
    .node('Conv', ['p1', 'k2', 'c2'], ['h2'], {
      group: { int: 2 },
      strides: { ints: [1, 1] },
      dilations: { ints: [1, 1] },
    })
    .node('Relu', ['h2'], ['a2'])
    .node('GlobalAveragePool', ['a2'], ['g'])
    .node('Flatten', ['g'], ['f'])
    .node('Gemm', ['f', 'fc', 'fb'], ['y'], { transB: { int: 1 } })
    .build(20)
}

/** Sequence length, width and heads of {@link transformerModel}. */
export const TRANSFORMER = { seq: 8, width: 32, heads: 4 } as const

/**
 * A pre-norm transformer block: LayerNorm -> multi-head self-attention (MatMul, Reshape, Transpose, scaled
 * Softmax) -> residual -> LayerNorm -> MLP with Gelu -> residual. x [batch, 8, 32] -> y [batch, 8, 32].
 */
export function transformerModel(): Uint8Array {
  const { seq, width, heads } = TRANSFORMER
  const d = width / heads
  const g = new GraphBuilder().input('x', ['batch', seq, width]).output('y', ['batch', seq, width])
  const w = seededWeights(g, 100)
  w('ln1g', [width], 1)
  w('ln1b', [width], 0.1)
  for (const p of ['q', 'k', 'v', 'o']) {
    w(`w${p}`, [width, width], 0.25)
    w(`b${p}`, [width], 0.05)
  }
  w('ln2g', [width], 1)
  w('ln2b', [width], 0.1)
  w('wf1', [width, 2 * width], 0.25)
  w('bf1', [2 * width], 0.05)
  w('wf2', [2 * width, width], 0.25)
  w('bf2', [width], 0.05)
  g.weight('scale', [], Float32Array.of(Math.sqrt(d)))
  g.ints('heads_shape', [0, 0, heads, d])
  g.ints('merge_shape', [0, 0, width])
  g.node('LayerNormalization', ['x', 'ln1g', 'ln1b'], ['n1'], { axis: { int: -1 }, epsilon: { float: 1e-5 } })
  for (const p of ['q', 'k', 'v']) {
    g.node('MatMul', ['n1', `w${p}`], [`${p}0`])
      .node('Add', [`${p}0`, `b${p}`], [`${p}1`])
      .node('Reshape', [`${p}1`, 'heads_shape'], [`${p}2`])
  }
  g.node('Transpose', ['q2'], ['q3'], { perm: { ints: [0, 2, 1, 3] } })
  g.node('Transpose', ['k2'], ['k3'], { perm: { ints: [0, 2, 3, 1] } })
  g.node('Transpose', ['v2'], ['v3'], { perm: { ints: [0, 2, 1, 3] } })
  g.node('MatMul', ['q3', 'k3'], ['s0'])
    .node('Div', ['s0', 'scale'], ['s1'])
    .node('Softmax', ['s1'], ['att'], { axis: { int: -1 } })
  g.node('MatMul', ['att', 'v3'], ['c0'])
    .node('Transpose', ['c0'], ['c1'], { perm: { ints: [0, 2, 1, 3] } })
    .node('Reshape', ['c1', 'merge_shape'], ['c2'])
  g.node('MatMul', ['c2', 'wo'], ['o0']).node('Add', ['o0', 'bo'], ['o1']).node('Add', ['o1', 'x'], ['h'])
  g.node('LayerNormalization', ['h', 'ln2g', 'ln2b'], ['n2'], { axis: { int: -1 } })
  g.node('MatMul', ['n2', 'wf1'], ['f0']).node('Add', ['f0', 'bf1'], ['f1']).node('Gelu', ['f1'], ['f2'])
  g.node('MatMul', ['f2', 'wf2'], ['f3']).node('Add', ['f3', 'bf2'], ['f4']).node('Add', ['f4', 'h'], ['y'])
  return g.build(20)
}

/** Channels and spatial size of {@link mobileNetBlockModel}'s input. */
export const MOBILENET_BLOCK = { channels: 8, expanded: 16, size: 12, classes: 5 } as const

/**
 * A MobileNetV2-style inverted residual block with MobileNetV3 and Inception touches: pointwise Conv ->
 * BatchNormalization -> Clip(0, 6) -> depthwise Conv (group = channels) -> BatchNormalization -> Clip -> pointwise
 * Conv -> BatchNormalization -> residual Add -> HardSwish -> two branches (1x1 and 3x3 Conv) joined by Concat on
 * axis -3 -> AveragePool -> ReduceMean over the spatial axes (keepdims 0) -> Gemm.
 * x [batch, 8, 12, 12] -> y [batch, 5].
 */
export function mobileNetBlockModel(): Uint8Array {
  const { channels: c, expanded: e, size, classes } = MOBILENET_BLOCK
  const g = new GraphBuilder().input('x', ['batch', c, size, size]).output('y', ['batch', classes])
  const w = seededWeights(g, 200)
  // Batch statistics that push some activations past both of Clip's bounds.
  const batchNorm = (name: string, channels: number): void => {
    w(`${name}_scale`, [channels], 1, 2.5)
    w(`${name}_bias`, [channels], 1, 1)
    w(`${name}_mean`, [channels], 0.3)
    w(`${name}_var`, [channels], 0.4, 0.6)
  }
  w('pw1', [e, c, 1, 1], 0.6)
  batchNorm('bn1', e)
  w('dw', [e, 1, 3, 3], 0.5)
  batchNorm('bn2', e)
  w('pw2', [c, e, 1, 1], 0.4)
  batchNorm('bn3', c)
  w('ba', [6, c, 1, 1], 0.5)
  w('ba_bias', [6], 0.1)
  w('bb', [4, c, 3, 3], 0.2)
  w('fc', [classes, 10], 0.5)
  w('fc_bias', [classes], 0.1)
  g.weight('zero', [], Float32Array.of(0)).weight('six', [], Float32Array.of(6))
  g.ints('spatial', [2, 3])
  g.node('Conv', ['x', 'pw1'], ['e0'])
    .node('BatchNormalization', ['e0', 'bn1_scale', 'bn1_bias', 'bn1_mean', 'bn1_var'], ['e1'])
    .node('Clip', ['e1', 'zero', 'six'], ['e2'])
    .node('Conv', ['e2', 'dw'], ['d0'], { group: { int: e }, pads: { ints: [1, 1, 1, 1] } })
    .node('BatchNormalization', ['d0', 'bn2_scale', 'bn2_bias', 'bn2_mean', 'bn2_var'], ['d1'], {
      epsilon: { float: 1e-3 },
    })
    .node('Clip', ['d1', 'zero', 'six'], ['d2'])
    .node('Conv', ['d2', 'pw2'], ['p0'])
    .node('BatchNormalization', ['p0', 'bn3_scale', 'bn3_bias', 'bn3_mean', 'bn3_var'], ['p1'])
    .node('Add', ['p1', 'x'], ['r'])
    .node('HardSwish', ['r'], ['h'])
    .node('Conv', ['h', 'ba', 'ba_bias'], ['a'])
    .node('Conv', ['h', 'bb'], ['b'], { pads: { ints: [1, 1, 1, 1] } })
    .node('Concat', ['a', 'b'], ['cat'], { axis: { int: -3 } })
    .node('AveragePool', ['cat'], ['pool'], {
      kernel_shape: { ints: [3, 3] },
      strides: { ints: [2, 2] },
      pads: { ints: [1, 1, 1, 1] },
    })
    .node('ReduceMean', ['pool', 'spatial'], ['m'], { keepdims: { int: 0 } })
    .node('Gemm', ['m', 'fc', 'fc_bias'], ['y'], { transB: { int: 1 } })
  return g.build(20)
}

/** Vocabulary, context (positions), width, heads and MLP width of {@link tinyGptModel}. */
export const TINY_GPT = { vocab: 40, context: 16, width: 32, heads: 4, hidden: 128 } as const

/**
 * A GPT block as `torch.onnx.export` writes it (opset 17, dynamic batch and sequence): int64 token ids
 * [batch, seq] -> Gather on the token embedding, plus positional embeddings gathered by Range(0, Shape(ids)[1])
 * (Shape -> Gather -> Cast -> Range -> Unsqueeze) -> LayerNormalization -> causal self-attention: one fused QKV
 * MatMul cut by Split, heads by Reshape to a shape built by Shape/Gather/Unsqueeze/Concat, a causal mask from
 * Range/Unsqueeze/Less and Where(-inf), Softmax -> residual -> LayerNormalization -> MLP with Gelu written as
 * x * 0.5 * (1 + Erf(x / sqrt 2)) -> residual -> LayerNormalization -> logits by MatMul with the token embedding
 * transposed. ids [batch, seq] (seq up to 16) -> logits [batch, seq, 40].
 */
export function tinyGptModel(): Uint8Array {
  const { vocab, context, width, heads, hidden } = TINY_GPT
  const d = width / heads
  const g = new GraphBuilder().input('input_ids', ['batch', 'seq'], 'int64').output('logits', ['batch', 'seq', vocab])
  const w = seededWeights(g, 300)
  w('wte', [vocab, width], 0.5)
  w('wpe', [context, width], 0.2)
  for (const ln of ['ln_1', 'ln_2', 'ln_f']) {
    w(`${ln}.weight`, [width], 0.2, 1)
    w(`${ln}.bias`, [width], 0.1)
  }
  w('attn.c_attn.weight', [width, 3 * width], 0.25)
  w('attn.c_attn.bias', [3 * width], 0.05)
  w('attn.c_proj.weight', [width, width], 0.25)
  w('attn.c_proj.bias', [width], 0.05)
  w('mlp.c_fc.weight', [width, hidden], 0.25)
  w('mlp.c_fc.bias', [hidden], 0.05)
  w('mlp.c_proj.weight', [hidden, width], 0.15)
  w('mlp.c_proj.bias', [width], 0.05)
  const constant = (name: string, value: Attr): void => {
    g.node('Constant', [], [name], { value })
  }
  const int64 = (name: string, dims: number[], values: number[]): void =>
    constant(name, { tensor: int64Tensor(dims, values) })
  const float = (name: string, value: number): void => constant(name, { tensor: floatTensor([], [value]) })
  int64('zero', [], [0])
  int64('one', [], [1])
  int64('axes_0', [1], [0])
  int64('axes_1', [1], [1])
  int64('split_qkv', [3], [width, width, width])
  int64('heads_dims', [2], [heads, d])
  int64('width_dim', [1], [width])
  float('scale', Math.sqrt(d))
  float('neg_inf', -Infinity)
  float('sqrt2', Math.SQRT2)
  float('one_f', 1)
  float('half', 0.5)

  // Positions: Range(0, Shape(ids)[1]) -> Unsqueeze(0) -> Gather on wpe.
  g.node('Shape', ['input_ids'], ['ids_shape'])
    .node('Gather', ['ids_shape', 'zero'], ['batch'], { axis: { int: 0 } })
    .node('Gather', ['ids_shape', 'one'], ['seq_len0'], { axis: { int: 0 } })
    .node('Cast', ['seq_len0'], ['seq_len'], { to: { int: 7 } })
    .node('Range', ['zero', 'seq_len', 'one'], ['positions'])
    .node('Unsqueeze', ['positions', 'axes_0'], ['position_ids'])
    .node('Gather', ['wte', 'input_ids'], ['tok_emb'])
    .node('Gather', ['wpe', 'position_ids'], ['pos_emb'])
    .node('Add', ['tok_emb', 'pos_emb'], ['h0'])
  g.node('LayerNormalization', ['h0', 'ln_1.weight', 'ln_1.bias'], ['n1'], {
    axis: { int: -1 },
    epsilon: { float: 1e-5 },
  })
  // Attention: fused QKV, split, heads by a Reshape whose shape comes from Shape/Gather/Unsqueeze/Concat.
  g.node('MatMul', ['n1', 'attn.c_attn.weight'], ['qkv0'])
    .node('Add', ['qkv0', 'attn.c_attn.bias'], ['qkv'])
    .node('Split', ['qkv', 'split_qkv'], ['q0', 'k0', 'v0'], { axis: { int: 2 } })
    .node('Unsqueeze', ['batch', 'axes_0'], ['batch_1'])
    .node('Unsqueeze', ['seq_len', 'axes_0'], ['seq_1'])
    .node('Concat', ['batch_1', 'seq_1', 'heads_dims'], ['heads_shape'], { axis: { int: 0 } })
    .node('Concat', ['batch_1', 'seq_1', 'width_dim'], ['merge_shape'], { axis: { int: 0 } })
  for (const [p, perm] of [
    ['q', [0, 2, 1, 3]],
    ['k', [0, 2, 3, 1]],
    ['v', [0, 2, 1, 3]],
  ] as const) {
    g.node('Reshape', [`${p}0`, 'heads_shape'], [`${p}1`]).node('Transpose', [`${p}1`], [`${p}2`], {
      perm: { ints: [...perm] },
    })
  }
  g.node('MatMul', ['q2', 'k2'], ['scores0']).node('Div', ['scores0', 'scale'], ['scores'])
  // Causal mask: key position > query position is the future.
  g.node('Unsqueeze', ['positions', 'axes_1'], ['query_pos'])
    .node('Unsqueeze', ['positions', 'axes_0'], ['key_pos'])
    .node('Less', ['query_pos', 'key_pos'], ['future'])
    .node('Where', ['future', 'neg_inf', 'scores'], ['masked'])
    .node('Softmax', ['masked'], ['att'], { axis: { int: -1 } })
    .node('MatMul', ['att', 'v2'], ['ctx0'])
    .node('Transpose', ['ctx0'], ['ctx1'], { perm: { ints: [0, 2, 1, 3] } })
    .node('Reshape', ['ctx1', 'merge_shape'], ['ctx'])
    .node('MatMul', ['ctx', 'attn.c_proj.weight'], ['o0'])
    .node('Add', ['o0', 'attn.c_proj.bias'], ['o'])
    .node('Add', ['h0', 'o'], ['h1'])
  // MLP with the exact Gelu spelled out.
  g.node('LayerNormalization', ['h1', 'ln_2.weight', 'ln_2.bias'], ['n2'], { axis: { int: -1 } })
    .node('MatMul', ['n2', 'mlp.c_fc.weight'], ['f0'])
    .node('Add', ['f0', 'mlp.c_fc.bias'], ['f1'])
    .node('Div', ['f1', 'sqrt2'], ['g0'])
    .node('Erf', ['g0'], ['g1'])
    .node('Add', ['g1', 'one_f'], ['g2'])
    .node('Mul', ['f1', 'g2'], ['g3'])
    .node('Mul', ['g3', 'half'], ['g4'])
    .node('MatMul', ['g4', 'mlp.c_proj.weight'], ['p0'])
    .node('Add', ['p0', 'mlp.c_proj.bias'], ['p'])
    .node('Add', ['h1', 'p'], ['h2'])
  // Tied output embedding: logits = ln_f(h) @ wte^T.
  g.node('LayerNormalization', ['h2', 'ln_f.weight', 'ln_f.bias'], ['nf'], { axis: { int: -1 } })
    .node('Transpose', ['wte'], ['wte_t'], { perm: { ints: [1, 0] } })
    .node('MatMul', ['nf', 'wte_t'], ['logits'])
  return g.build(17)
}

/**
 * A function adding weight `name` of `dims` to `g`: seeded random floats (seeds counting up from `firstSeed`, one per
 * weight, so adding a weight changes none before it) times `scale`, plus `offset`.
 */
function seededWeights(
  g: GraphBuilder,
  firstSeed: number,
): (name: string, dims: number[], scale: number, offset?: number) => void {
  let seed = firstSeed
  return (name, dims, scale, offset = 0) => {
    const n = dims.reduce((a, b) => a * b, 1)
    g.weight(
      name,
      dims,
      randomFloats(n, seed++, scale).map((v) => v + offset),
    )
  }
}
