/**
 * Whether `value` nests arrays and objects at most `maxDepth` levels deep (a scalar is 0 deep, `{}` and `[]` are 1).
 * It walks with a stack of its own rather than recursing, since the value comes from an endpoint that chooses how
 * deep it goes: the check that keeps recursive readers (kit's reply transformers, ours) off a stack overflow must not
 * overflow itself.
 */
export function nestsWithin(value: unknown, maxDepth: number): boolean {
  const pending: Array<{ node: unknown; depth: number }> = [{ node: value, depth: 0 }]
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (next.node === null || typeof next.node !== 'object') continue
    if (next.depth >= maxDepth) return false
    for (const child of Object.values(next.node)) pending.push({ node: child, depth: next.depth + 1 })
  }
  return true
}
