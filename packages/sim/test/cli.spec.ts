import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { invokeSim as invoke } from './helpers.js'

let dir: string | undefined

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('simCommand', () => {
  it('should run a scenario and write its files where --out says', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-sim-cli-'))
    const fixture = new URL('./fixtures/tiny.yaml', import.meta.url).pathname
    const { code, stdout } = await invoke(['run', fixture, '--seed', '9', '--out', 'out', '--quiet'], dir)
    expect(code).toBe(0)
    expect(stdout).toContain('scenario tiny, seed 9')
    expect(stdout).toMatch(/\nrefused inputs: \d+ \(SCHEDULER__BID_WINDOW_CLOSED \d+\)\n/)
    expect(await readdir(join(dir, 'out'))).toContain('metrics.json')
  })

  it('should refuse bad arguments with exit code 2', async () => {
    const cwd = tmpdir()
    expect((await invoke([], cwd)).code).toBe(2)
    expect((await invoke(['a.yaml', '--seed', '-4'], cwd)).code).toBe(2)
    expect((await invoke(['a.yaml', '--bogus'], cwd)).code).toBe(2)
  })

  it('should refuse an --out it cannot write to with exit code 2, before running', async () => {
    dir ??= await mkdtemp(join(tmpdir(), 'tessera-sim-cli-'))
    const fixture = new URL('./fixtures/tiny.yaml', import.meta.url).pathname
    await writeFile(join(dir, 'a-file'), '')
    const { code, stdout, stderr } = await invoke([fixture, '--out', 'a-file/out', '--quiet'], dir)
    expect(code).toBe(2)
    expect(stderr).toContain('SIM__INVALID_OUT_DIR')
    expect(stderr).not.toContain('SIM__RUN_FAILED')
    expect(stdout).toBe('')
  })

  it('should print the seed and the coded error of a failing run', async () => {
    dir ??= await mkdtemp(join(tmpdir(), 'tessera-sim-cli-'))
    const fixture = new URL('./fixtures/tiny.yaml', import.meta.url).pathname
    const broken = join(dir, 'broken.yaml')
    await writeFile(broken, `${await readFile(fixture, 'utf8')}maxEvents: 10\n`)
    const { code, stderr } = await invoke([broken, '--seed', '31', '--quiet'], dir)
    expect(code).toBe(1)
    expect(stderr).toContain('seed 31')
    expect(stderr).toContain('SIM__RUN_FAILED')
  })

  it('should report an invalid scenario with its path', async () => {
    dir ??= await mkdtemp(join(tmpdir(), 'tessera-sim-cli-'))
    const bad = join(dir, 'bad.yaml')
    await writeFile(bad, 'version: 1\nname: bad\n')
    const { code, stderr } = await invoke([bad, '--quiet'], dir)
    expect(code).toBe(1)
    expect(stderr).toContain('SIM__INVALID_SCENARIO')
  })
})
