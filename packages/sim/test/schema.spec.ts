import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { parseScenario } from '../src/scenario/load.js'
import { SCENARIO_SCHEMA } from '../src/scenario/schema.js'
import { parseSweepDefinition, SWEEP_FILE_SCHEMA } from '../src/sweep/file.js'

const committed = async (name: string): Promise<unknown> =>
  JSON.parse(await readFile(new URL(`../schema/${name}`, import.meta.url), 'utf8'))

describe('published JSON Schemas', () => {
  // A change to a schema must regenerate the files editors read: `npm run schema -w @tessera/sim`.
  it('should match the schemas the code validates with', async () => {
    expect(await committed('scenario.schema.json')).toEqual(JSON.parse(JSON.stringify(SCENARIO_SCHEMA)))
    expect(await committed('sweep.schema.json')).toEqual(JSON.parse(JSON.stringify(SWEEP_FILE_SCHEMA)))
  })

  it('should let a JSON scenario or sweep name its schema', async () => {
    const tiny = await readFile(new URL('./fixtures/tiny.yaml', import.meta.url), 'utf8')
    const scenario = parseScenario(`$schema: ../schema/scenario.schema.json\n${tiny}`, 'yaml')
    expect(scenario.name).toBe('tiny')
    const sweep = parseSweepDefinition(
      { $schema: 'sweep.schema.json', version: 1, scenario: 'tiny.yaml', parameters: { 'jobs.count': [1, 2] } },
      '/x/sweep.json',
    )
    expect(sweep.scenario).toBe('/x/tiny.yaml')
  })
})
