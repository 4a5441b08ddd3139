import { mkdirSync, writeFileSync } from 'node:fs'
import { SCENARIO_SCHEMA } from '../src/scenario/schema.js'
import { SWEEP_FILE_SCHEMA } from '../src/sweep/file.js'

/**
 * `npm run schema -w @tessera/sim`: writes the scenario and sweep files' JSON Schemas to `schema/`, for editors
 * (`# yaml-language-server: $schema=...` in YAML, a `"$schema"` key in JSON). A test checks they match the code.
 */
const SCHEMA_FILES = { 'scenario.schema.json': SCENARIO_SCHEMA, 'sweep.schema.json': SWEEP_FILE_SCHEMA }

const dir = new URL('../schema/', import.meta.url)
mkdirSync(dir, { recursive: true })
for (const [name, schema] of Object.entries(SCHEMA_FILES)) {
  writeFileSync(new URL(name, dir), `${JSON.stringify(schema, null, 2)}\n`)
}
