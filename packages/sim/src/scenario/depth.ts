/**
 * How deeply scenario text nests, measured on the text before it is parsed. The parsers and `structuredClone` recurse
 * once per level: a few thousand levels overflow the stack, and a 1 MiB YAML flow of brackets costs seconds and
 * hundreds of MB before any validation could refuse it. One pass over the characters, no recursion, no allocation
 * beyond a stack of block indents.
 */

/** The deepest nesting of JSON text: open `[` and `{` outside strings. */
function jsonDepth(text: string): number {
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (inString) {
      if (c === '\\') i++
      else if (c === '"') inString = false
    } else if (c === '"') inString = true
    else if (c === '[' || c === '{') max = Math.max(max, ++depth)
    else if (c === ']' || c === '}') depth--
  }
  return max
}

/** Whether `c` ends a YAML indicator (`- `, `? `, `: `, ` #`): whitespace or the end of the line. */
function isBlank(c: string | undefined): boolean {
  return c === undefined || c === ' ' || c === '\t'
}

/**
 * The deepest nesting of YAML text, an upper bound on the depth of the parsed value: block levels (a line indented
 * deeper than the open ones, each `- `, `? ` or `: ` that opens a node) plus open flow collections (`[`, `{` where a
 * node starts, or anywhere inside a flow). Quoted scalars, comments and block scalars (`|`, `>`) are skipped, so
 * brackets in a description never count.
 */
function yamlDepth(text: string): number {
  const indents: number[] = []
  let flow = 0
  let quote: '"' | "'" | undefined
  let blockScalarParent = -1
  let max = 0
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    let indent = 0
    while (line[indent] === ' ') indent++
    if (blockScalarParent >= 0) {
      if (indent === line.length || indent > blockScalarParent) continue
      blockScalarParent = -1
    }
    let i = 0
    // Where a node may start: a flow opens or a quote starts only there (`don't` and `see [1]` are plain scalars).
    let nodeStart = quote === undefined && flow > 0
    if (quote === undefined && flow === 0) {
      if (indent === line.length || line[indent] === '#') continue
      if (indent === 0 && (line.startsWith('---') || line.startsWith('...')) && isBlank(line[3])) {
        indents.length = 0
        i = 3
      } else {
        while (indents.length > 0 && (indents.at(-1) as number) >= indent) indents.pop()
        indents.push(indent)
        i = indent
      }
      nodeStart = true
    }
    for (; i < line.length; i++) {
      const c = line[i] as string
      if (quote !== undefined) {
        if (quote === '"' && c === '\\') i++
        else if (quote === "'" && c === "'" && line[i + 1] === "'") i++
        else if (c === quote) quote = undefined
        continue
      }
      if (c === ' ' || c === '\t') continue
      if (c === '#' && (i === 0 || isBlank(line[i - 1]))) break
      if (flow > 0) {
        if (c === '[' || c === '{') {
          flow++
          nodeStart = true
        } else if (c === ']' || c === '}') {
          flow--
          nodeStart = false
        } else if (c === ',' || c === ':' || c === '?') {
          nodeStart = true
        } else if (nodeStart && (c === '"' || c === "'")) {
          quote = c
          nodeStart = false
        } else nodeStart = false
      } else if (nodeStart && (c === '-' || c === '?' || c === ':') && isBlank(line[i + 1])) {
        // The node it opens holds the lines indented to its content's column (or past the indicator, if none).
        let content = i + 1
        while (isBlank(line[content]) && content < line.length) content++
        indents.push(content < line.length ? content : i + 1)
      } else if (nodeStart && (c === '[' || c === '{')) {
        flow = 1
      } else if (nodeStart && (c === '"' || c === "'")) {
        quote = c
        nodeStart = false
      } else if (nodeStart && (c === '|' || c === '>')) {
        blockScalarParent = indent
        break
      } else if (nodeStart && (c === '&' || c === '!')) {
        while (i + 1 < line.length && !isBlank(line[i + 1])) i++
      } else if (c === ':' && isBlank(line[i + 1])) {
        nodeStart = true
      } else nodeStart = false
      max = Math.max(max, indents.length + flow)
    }
    max = Math.max(max, indents.length + flow)
  }
  return max
}

/** The deepest nesting of scenario text in `format`, counted without parsing it (see {@link yamlDepth}). */
export function nestingDepth(text: string, format: 'json' | 'yaml'): number {
  return format === 'json' ? jsonDepth(text) : yamlDepth(text)
}
