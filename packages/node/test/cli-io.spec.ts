import { spawn } from 'node:child_process'
import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { guardedWriter } from '../src/cli/io.js'
import { tesseraCommand } from '../src/local/spawn-peer.js'

/** A stream whose every write fails with `code`, as a pipe whose reader went away fails with EPIPE. */
function failingStream(code: string): Writable & { writes: number } {
  const stream = new Writable({
    write(_chunk, _encoding, callback) {
      stream.writes++
      callback(Object.assign(new Error(`write ${code}`), { code }))
    },
  }) as Writable & { writes: number }
  stream.writes = 0
  return stream
}

/** Lets the stream's 'error' event, emitted on a later tick, be emitted. */
const settle = () => new Promise((resolve) => setImmediate(resolve))

describe('guardedWriter', () => {
  it('should stop writing at a closed pipe, quietly', async () => {
    const stream = failingStream('EPIPE')
    const failures: Error[] = []
    const write = guardedWriter(stream, (e) => failures.push(e))
    write('job 1\n')
    await settle()
    write('bidding 0/4\n')
    write('running 1/4\n')
    await settle()
    expect(stream.writes).toBe(1)
    expect(failures).toEqual([])
  })

  it('should hand any other write failure on, once', async () => {
    const stream = failingStream('ENOSPC')
    const failures: Error[] = []
    const write = guardedWriter(stream, (e) => failures.push(e))
    write('a\n')
    await settle()
    write('b\n')
    await settle()
    expect(failures.map((e) => e.message)).toEqual(['write ENOSPC'])
  })
})

describe('tessera output', () => {
  it('should exit as the command does, without a stack trace, when its stdout is closed', async () => {
    const { command, args } = tesseraCommand()
    const child = spawn(command, [...args, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] })
    // The reader went away, as `| head -1`'s does after its line.
    child.stdout.destroy()
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
    // Before: "Unhandled 'error' event", write EPIPE and its stack, exit 1.
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' })
  }, 60_000)
})
