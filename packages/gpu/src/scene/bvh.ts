import { BVH_BINS, BVH_MAX_LEAF_TRIANGLES } from '../constants.js'
import { BVH_NODE_FLOATS } from './scene.js'

/** A BVH flattened in depth-first order, and the triangle order its leaves refer to. */
export interface FlatBvh {
  /** {@link BVH_NODE_FLOATS} floats per node; see {@link Scene.bvh} for the layout. */
  nodes: Float32Array
  nodeCount: number
  depth: number
  /** `order[i]` is the input index of the i-th triangle in leaf order. */
  order: Uint32Array
}

interface Box {
  min: [number, number, number]
  max: [number, number, number]
}

const emptyBox = (): Box => ({ min: [Infinity, Infinity, Infinity], max: [-Infinity, -Infinity, -Infinity] })

function area(b: Box): number {
  const dx = b.max[0] - b.min[0]
  const dy = b.max[1] - b.min[1]
  const dz = b.max[2] - b.min[2]
  return dx < 0 ? 0 : 2 * (dx * dy + dy * dz + dz * dx)
}

/**
 * Builds a binned-SAH BVH over triangles given as 9 floats each (v0, v1, v2). Deterministic: the same input gives
 * the same tree on every machine, so every peer path-traces the same structure.
 */
export function buildBvh(vertices: Float32Array, triangleCount: number): FlatBvh {
  const tmin = new Float64Array(triangleCount * 3)
  const tmax = new Float64Array(triangleCount * 3)
  const centroid = new Float64Array(triangleCount * 3)
  for (let t = 0; t < triangleCount; t++) {
    for (let a = 0; a < 3; a++) {
      const p0 = vertices[t * 9 + a]!
      const p1 = vertices[t * 9 + 3 + a]!
      const p2 = vertices[t * 9 + 6 + a]!
      tmin[t * 3 + a] = Math.min(p0, p1, p2)
      tmax[t * 3 + a] = Math.max(p0, p1, p2)
      centroid[t * 3 + a] = (p0 + p1 + p2) / 3
    }
  }
  const order = new Uint32Array(triangleCount)
  for (let i = 0; i < triangleCount; i++) order[i] = i
  // At most 2n - 1 nodes; grow lazily through a plain array of numbers.
  const out: number[] = []
  let maxDepth = 0

  const boundsOf = (start: number, count: number): Box => {
    const b = emptyBox()
    for (let i = start; i < start + count; i++) {
      const t = order[i]!
      for (let a = 0; a < 3; a++) {
        b.min[a] = Math.min(b.min[a]!, tmin[t * 3 + a]!)
        b.max[a] = Math.max(b.max[a]!, tmax[t * 3 + a]!)
      }
    }
    return b
  }

  const emit = (box: Box): number => {
    const index = out.length / BVH_NODE_FLOATS
    out.push(box.min[0], box.min[1], box.min[2], 0, box.max[0], box.max[1], box.max[2], 0)
    return index
  }

  /** Returns the split position in `order` or -1 for a leaf. */
  const split = (start: number, count: number, box: Box): number => {
    if (count <= 1) return -1
    const cmin = [Infinity, Infinity, Infinity]
    const cmax = [-Infinity, -Infinity, -Infinity]
    for (let i = start; i < start + count; i++) {
      const t = order[i]!
      for (let a = 0; a < 3; a++) {
        cmin[a] = Math.min(cmin[a]!, centroid[t * 3 + a]!)
        cmax[a] = Math.max(cmax[a]!, centroid[t * 3 + a]!)
      }
    }
    let bestCost = Infinity
    let bestAxis = -1
    let bestBin = -1
    for (let axis = 0; axis < 3; axis++) {
      const extent = cmax[axis]! - cmin[axis]!
      if (!(extent > 0)) continue
      const binBoxes = Array.from({ length: BVH_BINS }, emptyBox)
      const binCounts = new Array<number>(BVH_BINS).fill(0)
      const scale = BVH_BINS / extent
      for (let i = start; i < start + count; i++) {
        const t = order[i]!
        const bin = Math.min(BVH_BINS - 1, Math.floor((centroid[t * 3 + axis]! - cmin[axis]!) * scale))
        binCounts[bin]!++
        const bb = binBoxes[bin]!
        for (let a = 0; a < 3; a++) {
          bb.min[a] = Math.min(bb.min[a]!, tmin[t * 3 + a]!)
          bb.max[a] = Math.max(bb.max[a]!, tmax[t * 3 + a]!)
        }
      }
      // Sweep from the right to know each suffix's area and count, then from the left.
      const rightArea = new Array<number>(BVH_BINS).fill(0)
      const rightCount = new Array<number>(BVH_BINS).fill(0)
      const acc = emptyBox()
      let n = 0
      for (let b = BVH_BINS - 1; b > 0; b--) {
        grow(acc, binBoxes[b]!)
        n += binCounts[b]!
        rightArea[b] = area(acc)
        rightCount[b] = n
      }
      const left = emptyBox()
      let leftCount = 0
      for (let b = 0; b < BVH_BINS - 1; b++) {
        grow(left, binBoxes[b]!)
        leftCount += binCounts[b]!
        const rc = rightCount[b + 1]!
        if (leftCount === 0 || rc === 0) continue
        const cost = area(left) * leftCount + rightArea[b + 1]! * rc
        if (cost < bestCost) {
          bestCost = cost
          bestAxis = axis
          bestBin = b
        }
      }
    }
    const leafCost = area(box) * count
    if (bestAxis < 0) {
      // All centroids coincide: split by position in the list so leaves stay small.
      return count <= BVH_MAX_LEAF_TRIANGLES ? -1 : start + (count >> 1)
    }
    if (count <= BVH_MAX_LEAF_TRIANGLES && leafCost <= bestCost) return -1
    const scale = BVH_BINS / (cmax[bestAxis]! - cmin[bestAxis]!)
    let i = start
    let j = start + count - 1
    while (i <= j) {
      const t = order[i]!
      const bin = Math.min(BVH_BINS - 1, Math.floor((centroid[t * 3 + bestAxis]! - cmin[bestAxis]!) * scale))
      if (bin <= bestBin) {
        i++
      } else {
        order[i] = order[j]!
        order[j] = t
        j--
      }
    }
    return i
  }

  const build = (start: number, count: number, depth: number): number => {
    maxDepth = Math.max(maxDepth, depth)
    const box = boundsOf(start, count)
    const node = emit(box)
    const mid = split(start, count, box)
    if (mid < 0) {
      out[node * BVH_NODE_FLOATS + 3] = start
      out[node * BVH_NODE_FLOATS + 7] = count
      return node
    }
    build(start, mid - start, depth + 1)
    build(mid, start + count - mid, depth + 1)
    // The skip link: the first node after this subtree in depth-first order.
    out[node * BVH_NODE_FLOATS + 3] = out.length / BVH_NODE_FLOATS
    return node
  }

  if (triangleCount > 0) build(0, triangleCount, 0)
  const nodes = new Float32Array(out.length)
  const bits = new Uint32Array(nodes.buffer)
  for (let i = 0; i < out.length; i++) {
    // Index/count slots hold integers as u32 bit patterns; bounds come from f32 vertices, so they are exact.
    if (i % 4 === 3) bits[i] = out[i]!
    else nodes[i] = out[i]!
  }
  return { nodes, nodeCount: out.length / BVH_NODE_FLOATS, depth: maxDepth, order }
}

function grow(into: Box, b: Box): void {
  for (let a = 0; a < 3; a++) {
    into.min[a] = Math.min(into.min[a]!, b.min[a]!)
    into.max[a] = Math.max(into.max[a]!, b.max[a]!)
  }
}

/**
 * The right child of inner node `node` in a flattened tree (`bits`: its nodes' words as integers). Depth-first order
 * puts the left child next, and the right one after the left one's subtree: a leaf's next node, or an inner node's
 * skip link.
 */
function rightChildOf(bits: Uint32Array, node: number): number {
  const left = node + 1
  return bits[left * BVH_NODE_FLOATS + 7]! > 0 ? left + 1 : bits[left * BVH_NODE_FLOATS + 3]!
}

/**
 * `topology`'s tree over new positions of the same triangles (an animated scene's later frame): every node keeps its
 * triangles and children, and its box is recomputed bottom-up around where they lie now. Linear in the triangles,
 * where a build sorts them at every level. The tree stays correct, every box holding its triangles, but it can be
 * slower to trace than one built for these positions when the triangles moved far from where the tree grouped them.
 * Over the vertices `topology` was built on it gives `buildBvh`'s tree bit for bit: minima and maxima of the same
 * f32 values, in whatever order, are the same values.
 */
export function refitBvh(topology: FlatBvh, vertices: Float32Array): FlatBvh {
  const { order, nodeCount } = topology
  const nodes = new Float32Array(topology.nodes)
  const bits = new Uint32Array(nodes.buffer)
  // Depth-first order puts every node before its children: walked backwards, children are refitted first.
  for (let node = nodeCount - 1; node >= 0; node--) {
    const o = node * BVH_NODE_FLOATS
    const count = bits[o + 7]!
    let min0 = Infinity
    let min1 = Infinity
    let min2 = Infinity
    let max0 = -Infinity
    let max1 = -Infinity
    let max2 = -Infinity
    if (count > 0) {
      const first = bits[o + 3]!
      for (let i = first; i < first + count; i++) {
        const v = order[i]! * 9
        for (let k = v; k < v + 9; k += 3) {
          min0 = Math.min(min0, vertices[k]!)
          min1 = Math.min(min1, vertices[k + 1]!)
          min2 = Math.min(min2, vertices[k + 2]!)
          max0 = Math.max(max0, vertices[k]!)
          max1 = Math.max(max1, vertices[k + 1]!)
          max2 = Math.max(max2, vertices[k + 2]!)
        }
      }
    } else {
      const left = node + 1
      const right = rightChildOf(bits, node)
      for (const child of [left * BVH_NODE_FLOATS, right * BVH_NODE_FLOATS]) {
        min0 = Math.min(min0, nodes[child]!)
        min1 = Math.min(min1, nodes[child + 1]!)
        min2 = Math.min(min2, nodes[child + 2]!)
        max0 = Math.max(max0, nodes[child + 4]!)
        max1 = Math.max(max1, nodes[child + 5]!)
        max2 = Math.max(max2, nodes[child + 6]!)
      }
    }
    nodes[o] = min0
    nodes[o + 1] = min1
    nodes[o + 2] = min2
    nodes[o + 4] = max0
    nodes[o + 5] = max1
    nodes[o + 6] = max2
  }
  return { nodes, nodeCount, depth: topology.depth, order }
}

/**
 * The surface-area-heuristic cost of a built BVH: how many boxes and triangles a ray that enters a box tests on
 * average, if rays were spread evenly over directions and positions, for the costliest box of the tree. A box inside
 * another is hit with the probability of the ratio of their surface areas, so a box's cost is 1 (itself) plus, for
 * each inner node under it (itself included), 2 (its children's boxes) times its area ratio to the box, plus, for
 * each leaf, its triangle count times its area ratio.
 *
 * It tracks what a scene costs to trace far better than its triangle count: a million triangles of a dense mesh
 * cost tens to hundreds, while many long thin triangles crossing the scene (slivers) overlap in boxes that fill it,
 * and every ray then tests most of them. The root's cost alone would be dodged by one triangle far away: the root box
 * grows, every box under it becomes a small fraction of it, and the rays the camera sends into the slivers test them
 * all the same. So every box is costed against itself, and the tree costs what its costliest box does. A box without
 * area (its triangles on one line) gives each box under it the ratio 1: any ray that grazes it tests everything.
 */
export function bvhTraversalCost(bvh: Pick<FlatBvh, 'nodes' | 'nodeCount'>): number {
  if (bvh.nodeCount === 0) return 0
  const { nodes, nodeCount } = bvh
  const bits = new Uint32Array(nodes.buffer, nodes.byteOffset, nodes.length)
  const boxArea = (node: number): number => {
    const o = node * BVH_NODE_FLOATS
    const dx = nodes[o + 4]! - nodes[o]!
    const dy = nodes[o + 5]! - nodes[o + 1]!
    const dz = nodes[o + 6]! - nodes[o + 2]!
    return 2 * (dx * dy + dy * dz + dz * dx)
  }
  // Over each subtree: its tests weighted by their boxes' areas, and unweighted (for a box without area).
  const weighted = new Float64Array(nodeCount)
  const tests = new Float64Array(nodeCount)
  let worst = 0
  // Depth-first order puts every node before its children: walked backwards, children are summed first.
  for (let node = nodeCount - 1; node >= 0; node--) {
    const count = bits[node * BVH_NODE_FLOATS + 7]!
    const area = boxArea(node)
    let own = count === 0 ? 2 : count
    let sum = area * own
    if (count === 0) {
      const left = node + 1
      const right = rightChildOf(bits, node)
      sum += weighted[left]! + weighted[right]!
      own += tests[left]! + tests[right]!
    }
    weighted[node] = sum
    tests[node] = own
    worst = Math.max(worst, 1 + (area > 0 ? sum / area : own))
  }
  return worst
}
