import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { progressBar } from '../src/progress-bar.js'

describe('progressBar', () => {
  it('should draw on a stream that is not a terminal, and nothing when quiet', () => {
    const stream = new PassThrough()
    const bar = progressBar(stream, false, 'runs {bar} {value}/{total}')
    bar?.start(10, 0)
    bar?.update(10)
    bar?.stop()
    const lines = String(stream.read()).trim().split('\n')
    expect(lines[0]).toMatch(/^runs -+ 0\/10$/)
    expect(lines.at(-1)).toMatch(/^runs =+ 10\/10$/)
    expect(progressBar(stream, true, 'runs {bar}')).toBeUndefined()
  })
})
