import { nextBytes, seededRng, type Challenge } from '@tessera/core'
import { describe, expect, it, vi } from 'vitest'
import {
  challengeIndices,
  commitOutput,
  MerkleTree,
  merkleRoot,
  ProverMachine,
  verifyMerkleProof,
  type ProverOutput,
} from '../src/index.js'

const rng = seededRng(3)
const chunks = Array.from({ length: 10 }, (_, i) => Uint8Array.of(i, i, i))

function drain(m: ProverMachine): ProverOutput[] {
  const out: ProverOutput[] = []
  for (let o = m.pollOutput(); o !== undefined; o = m.pollOutput()) out.push(o)
  return out
}

function committed(retainMs = 1_000): ProverMachine {
  const m = new ProverMachine({ self: 'worker', retainMs, maxTasks: 3 })
  m.handle(
    {
      kind: 'commit',
      jobId: 'j',
      taskId: 't',
      creator: 'creator',
      chunks,
      output: 'bafy',
      tolerance: 'bitwise',
      computeMs: 7,
    },
    100,
  )
  drain(m)
  return m
}

function challenge(overrides: Partial<Challenge> = {}): Challenge {
  return {
    jobId: 'j',
    taskId: 't',
    worker: 'worker',
    verifier: 'v',
    root: merkleRoot(chunks),
    nonce: Uint8Array.from(nextBytes(rng, 32)),
    count: 3,
    issuedAt: 0,
    ...overrides,
  }
}

describe('ProverMachine', () => {
  it('should commit to the Merkle root of the chunks in a Result sent to the creator', () => {
    const m = new ProverMachine({ self: 'worker' })
    m.handle(
      {
        kind: 'commit',
        jobId: 'j',
        taskId: 't',
        creator: 'creator',
        chunks,
        output: 'bafy',
        tolerance: 'relative',
        computeMs: 7,
      },
      100,
    )
    const [send, event] = drain(m)
    expect(send).toEqual({
      kind: 'send',
      to: 'creator',
      message: {
        type: 'result',
        body: {
          jobId: 'j',
          taskId: 't',
          worker: 'worker',
          root: merkleRoot(chunks),
          chunks: 10,
          output: 'bafy',
          tolerance: 'relative',
          computeMs: 7,
          issuedAt: 100,
        },
      },
    })
    expect(event).toMatchObject({ kind: 'event', event: { name: 'task:committed', chunks: 10 } })
  })

  it('should answer a challenge with the challenged chunks and paths that lead to the root', () => {
    const m = committed()
    const c = challenge()
    m.handle({ kind: 'challenge', from: 'v', challenge: c }, 200)
    const [send] = drain(m)
    if (send?.kind !== 'send' || send.message.type !== 'reveal') throw new Error('expected a reveal')
    const reveal = send.message.body
    expect(send.to).toBe('v')
    expect(reveal.indices).toEqual(challengeIndices(c.root, c.nonce, 3, 10))
    reveal.indices.forEach((index, k) => {
      expect(reveal.chunks[k]).toEqual(chunks[index])
      expect(verifyMerkleProof(c.root, reveal.chunks[k]!, index, 10, reveal.proofs[k]!)).toBe(true)
    })
  })

  it('should hold a commitment its driver built already, without building the tree again, and answer from it', () => {
    const m = new ProverMachine({ self: 'worker' })
    const commitment = commitOutput(chunks)
    const build = vi.spyOn(MerkleTree, 'fromLeaves')
    try {
      m.handle(
        {
          kind: 'commit',
          jobId: 'j',
          taskId: 't',
          creator: 'creator',
          chunks,
          output: 'bafy',
          tolerance: 'bitwise',
          computeMs: 7,
          commitment,
        },
        100,
      )
      expect(build).not.toHaveBeenCalled()
    } finally {
      build.mockRestore()
    }
    const [result] = drain(m)
    expect(result).toMatchObject({ message: { type: 'result', body: { root: merkleRoot(chunks), chunks: 10 } } })
    const c = challenge()
    m.handle({ kind: 'challenge', from: 'v', challenge: c }, 200)
    const [send] = drain(m)
    if (send?.kind !== 'send' || send.message.type !== 'reveal') throw new Error('expected a reveal')
    const reveal = send.message.body
    reveal.indices.forEach((index, k) => {
      expect(reveal.chunks[k]).toEqual(chunks[index])
      expect(verifyMerkleProof(c.root, reveal.chunks[k]!, index, 10, reveal.proofs[k]!)).toBe(true)
    })
  })

  it('should refuse a commitment over another number of chunks than it is given', () => {
    const m = new ProverMachine({ self: 'worker' })
    const commit = {
      kind: 'commit' as const,
      jobId: 'j',
      taskId: 't',
      creator: 'c',
      chunks,
      output: 'b',
      tolerance: 'bitwise',
      computeMs: 1,
      commitment: commitOutput(chunks.slice(1)),
    }
    expect(() => m.handle(commit, 0)).toThrow(expect.objectContaining({ code: 'PROOF__INVALID_INPUT' }))
    expect(m.size).toBe(0)
    expect(drain(m)).toEqual([])
  })

  it('should refuse challenges it must not answer, without changing state', () => {
    const m = committed()
    const cases: [Challenge, string, string][] = [
      [challenge({ taskId: 'x' }), 'v', 'PROOF__TASK_NOT_FOUND'],
      [challenge({ worker: 'someone-else' }), 'v', 'PROOF__UNEXPECTED_MESSAGE'],
      [challenge(), 'impostor', 'PROOF__UNEXPECTED_MESSAGE'],
      [challenge({ root: new Uint8Array(32) }), 'v', 'PROOF__ROOT_MISMATCH'],
      [challenge({ count: 11 }), 'v', 'PROOF__INVALID_CHALLENGE'],
    ]
    for (const [c, from, code] of cases) {
      expect(() => m.handle({ kind: 'challenge', from, challenge: c }, 200)).toThrow(expect.objectContaining({ code }))
    }
    expect(drain(m)).toEqual([])
    m.handle({ kind: 'challenge', from: 'v', challenge: challenge() }, 200)
    m.handle({ kind: 'challenge', from: 'v', challenge: challenge() }, 200)
    expect(() => m.handle({ kind: 'challenge', from: 'v', challenge: challenge() }, 200)).toThrow(
      expect.objectContaining({ code: 'PROOF__CHALLENGE_LIMIT_EXCEEDED' }),
    )
  })

  it("should keep the creator's challenge allowance its own when third peers use up theirs", () => {
    const m = committed()
    for (const verifier of ['a', 'b'])
      m.handle({ kind: 'challenge', from: verifier, challenge: challenge({ verifier }) }, 200)
    expect(() => m.handle({ kind: 'challenge', from: 'c', challenge: challenge({ verifier: 'c' }) }, 200)).toThrow(
      expect.objectContaining({ code: 'PROOF__CHALLENGE_LIMIT_EXCEEDED' }),
    )
    drain(m)
    m.handle({ kind: 'challenge', from: 'creator', challenge: challenge({ verifier: 'creator' }) }, 200)
    const [send] = drain(m)
    expect(send).toMatchObject({ kind: 'send', to: 'creator', message: { type: 'reveal' } })
  })

  it('should drop chunks when released or when they expire', () => {
    const m = committed(1_000)
    expect(m.pollTimeout()).toBe(1_100)
    m.handleTimeout(1_099)
    expect(m.size).toBe(1)
    m.handleTimeout(1_100)
    expect(m.size).toBe(0)
    expect(drain(m)).toEqual([
      { kind: 'event', event: { name: 'task:released', jobId: 'j', taskId: 't', reason: 'expired' } },
    ])
    expect(() => m.handle({ kind: 'challenge', from: 'v', challenge: challenge() }, 1_200)).toThrow(
      expect.objectContaining({ code: 'PROOF__TASK_NOT_FOUND' }),
    )
    const r = committed()
    r.handle({ kind: 'release', jobId: 'j', taskId: 't' }, 150)
    expect(r.size).toBe(0)
    expect(r.pollTimeout()).toBeUndefined()
  })

  it('should hold a task committed again for retainMs from its first commitment, in expiry order', () => {
    // `t` is held until 1,100; `r`, first committed at 50 and restored at 600, until 1,050, not 1,600.
    const m = committed(1_000)
    const again = {
      kind: 'commit' as const,
      jobId: 'j',
      taskId: 'r',
      creator: 'creator',
      chunks,
      output: 'b',
      tolerance: 'bitwise',
      computeMs: 0,
    }
    m.handle({ ...again, committedAt: 50 }, 600)
    expect(m.pollTimeout()).toBe(1_050)
    m.handleTimeout(1_050)
    expect(m.holds('j', 'r')).toBe(false)
    expect(m.holds('j', 't')).toBe(true)
    expect(m.pollTimeout()).toBe(1_100)
    // A commitment time from the future holds no longer than one made now.
    m.handle({ ...again, taskId: 'f', committedAt: 5_000 }, 1_060)
    m.handleTimeout(2_060)
    expect(m.size).toBe(0)
  })

  it('should refuse duplicate tasks, empty outputs and unknown tolerance classes', () => {
    const m = committed()
    const commit = {
      kind: 'commit' as const,
      jobId: 'j',
      taskId: 't',
      creator: 'c',
      chunks,
      output: 'b',
      tolerance: 'bitwise',
      computeMs: 1,
    }
    expect(() => m.handle(commit, 0)).toThrow(expect.objectContaining({ code: 'PROOF__DUPLICATE_TASK' }))
    expect(() => m.handle({ ...commit, taskId: 'e', chunks: [] }, 0)).toThrow(
      expect.objectContaining({ code: 'PROOF__INVALID_INPUT' }),
    )
    expect(() => m.handle({ ...commit, taskId: 'u', tolerance: 'loose' }, 0)).toThrow(
      expect.objectContaining({ code: 'PROOF__UNKNOWN_TOLERANCE' }),
    )
    expect(m.size).toBe(1)
    expect(drain(m)).toEqual([])
    expect(() => new ProverMachine({ self: 'worker', maxTasks: 0 })).toThrow(
      expect.objectContaining({ code: 'PROOF__INVALID_INPUT' }),
    )
  })

  it('should forget its oldest task at maxTasks and keep answering challenges for the newest', () => {
    const m = committed()
    const commit = {
      kind: 'commit' as const,
      jobId: 'j',
      creator: 'creator',
      chunks,
      output: 'b',
      tolerance: 'bitwise',
      computeMs: 1,
    }
    m.handle({ ...commit, taskId: 'a' }, 200)
    m.handle({ ...commit, taskId: 'b' }, 300)
    drain(m)
    m.handle({ ...commit, taskId: 'c' }, 400)
    expect(m.size).toBe(3)
    const out = drain(m)
    expect(out[0]).toEqual({
      kind: 'event',
      event: { name: 'task:released', jobId: 'j', taskId: 't', reason: 'evicted' },
    })
    expect(out.slice(1).map((o) => o.kind)).toEqual(['send', 'event'])
    expect(() => m.handle({ kind: 'challenge', from: 'v', challenge: challenge() }, 500)).toThrow(
      expect.objectContaining({ code: 'PROOF__TASK_NOT_FOUND' }),
    )
    m.handle({ kind: 'challenge', from: 'v', challenge: challenge({ taskId: 'c' }) }, 500)
    expect(drain(m)[0]).toMatchObject({ kind: 'send', to: 'v', message: { type: 'reveal', body: { taskId: 'c' } } })
    // The next timer is the oldest task left.
    expect(m.pollTimeout()).toBe(1_200)
  })
})
