/**
 * Reading a glTF asset's raw JSON before glTF-Transform parses it: the checks that run first see the file as it was
 * written, where any value may be of any type.
 */

/**
 * Bytes per component of glTF's accessor component types, and components per accessor type. Maps, not objects: an
 * object would also answer `constructor` or `toString` with a function, and one NaN in a sum lifts a bound.
 */
export const COMPONENT_BYTES = new Map<unknown, number>([
  [5120, 1],
  [5121, 1],
  [5122, 2],
  [5123, 2],
  [5125, 4],
  [5126, 4],
])
export const TYPE_COMPONENTS = new Map<unknown, number>([
  ['SCALAR', 1],
  ['VEC2', 2],
  ['VEC3', 3],
  ['VEC4', 4],
  ['MAT2', 4],
  ['MAT3', 9],
  ['MAT4', 16],
])

/** glTF's accessor component types by name. */
export const ComponentType = {
  byte: 5120,
  unsignedByte: 5121,
  short: 5122,
  unsignedShort: 5123,
  unsignedInt: 5125,
  float: 5126,
} as const

/** A glTF JSON object, or a value that should have been one. */
export type JsonObject = Record<string, unknown>

/** The array at `json[key]`, or an empty one where there is none (a list of another type is refused elsewhere). */
export function listOf(json: JsonObject | null | undefined, key: string): unknown[] {
  const list = json?.[key]
  return Array.isArray(list) ? (list as unknown[]) : []
}

/** `value` as an object to read properties of, or an empty one where it is not an object. */
export function objectOf(value: unknown): JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonObject) : {}
}

/** Whether `value` is a non-negative safe integer: an index, a count, an offset or a length. */
export function isIndex(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0
}

/** A glTF object's extension JSON by name, when it has one that is an object. */
export function extensionOf(property: unknown, name: string): JsonObject | undefined {
  const extensions = (property as { extensions?: unknown } | null)?.extensions
  const extension = (extensions as JsonObject | null | undefined)?.[name]
  return typeof extension === 'object' && extension !== null ? (extension as JsonObject) : undefined
}

/** Whether the asset uses `extension` (glTF-Transform reads an extension's data only then). */
export function uses(json: JsonObject, extension: string): boolean {
  return Array.isArray(json.extensionsUsed) && (json.extensionsUsed as unknown[]).includes(extension)
}
