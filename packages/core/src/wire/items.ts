import { z } from 'zod'

/** What {@link maxItemsOf} reads of a JSON Schema. */
interface JsonSchemaNode {
  type?: unknown
  properties?: Record<string, JsonSchemaNode>
  additionalProperties?: unknown
  items?: JsonSchemaNode
  prefixItems?: JsonSchemaNode[]
  maxItems?: number
  anyOf?: JsonSchemaNode[]
  oneOf?: JsonSchemaNode[]
  allOf?: JsonSchemaNode[]
  $ref?: string
}

/**
 * The most CBOR data items a value `schema` accepts is encoded in, read from its JSON Schema (zod's own conversion):
 * an object is one item and two a property (its key and its value), an array one and its elements (at most
 * `maxItems`), a union its largest branch, anything else (a string, a number, bytes) one. Infinity where nothing
 * bounds it (an array with no `maxItems`, a record, a reference). A decoder holding an input to this bound refuses one
 * the schema refuses anyway, before decoding it all: decoding costs by the item (an empty map, one byte, becomes an
 * object), so 8 MiB of empty maps took seconds of the event loop and 500 MiB of heap before the schema said no.
 */
export function maxItemsOf(schema: z.ZodType): number {
  return itemsOf(z.toJSONSchema(schema, { unrepresentable: 'any', io: 'input' }) as JsonSchemaNode)
}

function itemsOf(node: JsonSchemaNode): number {
  const branches = node.anyOf ?? node.oneOf
  if (branches !== undefined) return Math.max(...branches.map(itemsOf))
  if (node.allOf !== undefined || node.$ref !== undefined) return Infinity
  if (node.type === 'object') {
    if (node.additionalProperties !== undefined && node.additionalProperties !== false) return Infinity
    return Object.values(node.properties ?? {}).reduce((items, property) => items + 1 + itemsOf(property), 1)
  }
  if (node.type === 'array') {
    const tuple = (node.prefixItems ?? []).reduce((items, element) => items + itemsOf(element), 0)
    const rest = node.items === undefined || node.maxItems === 0 ? 0 : (node.maxItems ?? Infinity) * itemsOf(node.items)
    return 1 + tuple + rest
  }
  return 1
}
