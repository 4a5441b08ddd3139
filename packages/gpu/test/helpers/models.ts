import { GraphBuilder, randomFloats } from './onnx-builder.js'

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
  let seed = 100
  const w = (name: string, dims: number[], scale: number): void => {
    g.weight(
      name,
      dims,
      randomFloats(
        dims.reduce((a, b) => a * b, 1),
        seed++,
        scale,
      ),
    )
  }
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
