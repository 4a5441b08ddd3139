import { TesseraError } from '@tessera/core'
import { describe, expect, it } from 'vitest'
import { EXIT_FAILURE, EXIT_USAGE, UsageError, reportError } from '../src/cli/errors.js'
import { cli } from './helpers.js'

/** Runs `reportError` with stderr captured, and `TESSERA_DEBUG` unset. */
function report(failure: unknown): { code: number; stderr: string } {
  let stderr = ''
  const debug = process.env.TESSERA_DEBUG
  delete process.env.TESSERA_DEBUG
  try {
    const code = reportError(failure, { stdout: () => {}, stderr: (t) => void (stderr += t), isTty: false })
    return { code, stderr }
  } finally {
    if (debug !== undefined) process.env.TESSERA_DEBUG = debug
  }
}

describe('reportError', () => {
  it('should print only the first line of an uncoded error, without its stack frames', () => {
    // libp2p's listen failure, as it was printed whole before: the addresses and the frames of each cause.
    const listen = new Error(
      'Some configured addresses failed to be listened on, you may need to remove one or more listen addresses:\n\n' +
        '  /ip4/8.8.8.8/tcp/4001: Error: listen EADDRNOTAVAIL: address not available 8.8.8.8:4001\n' +
        '      at Server.setupListenHandle [as _listen2] (node:net:1919:21)\n' +
        '      at listenInCluster (node:net:1998:12)\n',
    )
    expect(report(listen)).toEqual({
      code: EXIT_FAILURE,
      stderr:
        'error: Some configured addresses failed to be listened on, you may need to remove one or more listen ' +
        'addresses:\n',
    })
    expect(report('\n  thrown text\nat somewhere  ')).toEqual({ code: EXIT_FAILURE, stderr: 'error: thrown text\n' })
  })

  it('should print a coded error with its code, and exit 2 for a usage error', () => {
    const bad = new TesseraError('NODE__INVALID_CONFIG', 'flags: listen.0: bad', {})
    expect(report(bad)).toEqual({ code: EXIT_FAILURE, stderr: 'error: flags: listen.0: bad (NODE__INVALID_CONFIG)\n' })
    expect(report(new UsageError(bad))).toEqual({
      code: EXIT_USAGE,
      stderr: 'error: flags: listen.0: bad (NODE__INVALID_CONFIG)\n',
    })
  })
})

describe('tessera usage errors', () => {
  it("should print commander's own on one line with a code, the suggestion kept, and exit 2", async () => {
    // Three lines before, and no code: the error, "(Did you mean node?)" and "(run with --help for usage)".
    expect(await cli('nope')).toEqual({
      code: EXIT_USAGE,
      stdout: '',
      stderr:
        "error: unknown command 'nope' (Did you mean node?); run with --help for usage (NODE__INVALID_ARGUMENT)\n",
    })
    for (const argv of [
      ['render', 'scene.glb', '--width', 'NaN'],
      ['render', 'a.glb', 'b.glb'],
      ['render'],
      ['bench', '--runz', '3'],
      ['job', 'submit', 'x.glb', '--tier', '4'],
    ]) {
      const res = await cli(...argv)
      expect({ argv, code: res.code }).toEqual({ argv, code: EXIT_USAGE })
      expect(res.stderr).toMatch(/^error: [^\n]+; run with --help for usage \(NODE__INVALID_ARGUMENT\)\n$/)
    }
    expect((await cli('bench', '--runz', '3')).stderr).toMatch(/unknown option '--runz' \(Did you mean --runs\?\)/)
    // A command asked for without its subcommand prints its help, as before.
    const job = await cli('job')
    expect(job.code).toBe(EXIT_USAGE)
    expect(job.stderr).toMatch(/^Usage: tessera job/)
  })

  it('should refuse bench runs past what the benchmark takes before opening the device', async () => {
    // Exit 1 before, GPU__INVALID_INPUT from the benchmark once the device was open.
    const res = await cli('bench', '--runs', '101')
    expect(res.code).toBe(EXIT_USAGE)
    expect(res.stderr).toMatch(/^error: option '--runs <n>' argument '101' is invalid\. expected 1 to 100 runs/)
  })
})
