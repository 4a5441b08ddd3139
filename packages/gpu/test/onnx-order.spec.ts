import { describe, expect, it } from 'vitest'
import { isGpuError, loadOnnxModel } from '../src/index.js'
import type { OnnxNode } from '../src/index.js'
import { topologicalOrder } from '../src/onnx/model.js'
import { onnx } from '../src/onnx/proto.js'

/** Identity nodes listed in reverse: node i reads v(i+1) and writes v(i); the last reads the graph input x. */
function reversedChain(n: number): { opType: string; input: string[]; output: string[] }[] {
  return Array.from({ length: n }, (_, i) => ({
    opType: 'Identity',
    input: [i === n - 1 ? 'x' : `v${i + 1}`],
    output: [`v${i}`],
  }))
}

const x = { name: 'x', dims: [1], dataType: 'float' } as const
const output = (name: string) => ({ name, dims: undefined, dataType: 'float' }) as const

/** Runtime nodes from (name, inputs, outputs); `reads` counts how often the sort reads a node's inputs. */
function nodes(specs: [string, string[], string[]][], reads = { count: 0 }): OnnxNode[] {
  return specs.map(([name, inputs, outputs]) => ({
    name,
    opType: 'Identity',
    outputs,
    attributes: {},
    get inputs() {
      reads.count++
      return inputs
    },
  }))
}

describe('ONNX node order', () => {
  it('should load 20,000 nodes listed in reverse, in execution order', () => {
    const n = 20_000
    const bytes = onnx.ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'g',
        node: reversedChain(n),
        input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }] } } } }],
        output: [{ name: 'v0', type: { tensorType: { elemType: 1 } } }],
      },
    }).finish()
    const model = loadOnnxModel(bytes)
    expect(model.nodes).toHaveLength(n)
    expect(model.nodes.every((node, k) => node.outputs[0] === `v${n - 1 - k}`)).toBe(true)
  })

  it('should read each node a bounded number of times, however the nodes are listed', () => {
    const n = 2000
    const reads = { count: 0 }
    const chain = nodes(
      reversedChain(n).map((s, i) => [`n${i}`, s.input, s.output]),
      reads,
    )
    expect(topologicalOrder(chain, [x], new Map(), [output('v0')]).map((node) => node.name)[0]).toBe(`n${n - 1}`)
    // linear in the nodes; ordering by repeated passes reads about n^2 / 2 times
    expect(reads.count).toBeLessThanOrEqual(2 * n)
  })

  it('should keep file order among nodes ready together', () => {
    const graph = nodes([
      ['c', ['b'], ['c']],
      ['a1', ['x'], ['a1']],
      ['b', ['a1', 'a2'], ['b']],
      ['a2', ['x'], ['a2']],
      ['d', ['x'], ['d']],
    ])
    const order = topologicalOrder(graph, [x], new Map(), [output('c'), output('d')]).map((node) => node.name)
    expect(order).toEqual(['a1', 'a2', 'b', 'c', 'd'])
  })

  it('should refuse a cycle, naming the nodes in it', () => {
    const graph = nodes([
      ['p', ['x', 'q'], ['p']],
      ['q', ['p'], ['q']],
      ['r', ['x'], ['r']],
    ])
    let error: unknown
    try {
      topologicalOrder(graph, [x], new Map(), [output('r')])
    } catch (e) {
      error = e
    }
    expect(isGpuError(error, 'GPU__MALFORMED_MODEL')).toBe(true)
    expect((error as { context: { stuck: string[] } }).context.stuck).toEqual(['p', 'q'])
  })

  it('should refuse a node reading a value nothing produces', () => {
    const graph = nodes([['p', ['missing'], ['p']]])
    expect(() => topologicalOrder(graph, [x], new Map(), [output('p')])).toThrow(/nothing produces/)
  })
})
