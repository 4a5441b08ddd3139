import { isCoreError } from '@tessera/core'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { actionDigest, type LedgerAction } from '../src/executor.js'
import { memoInstruction } from '../src/memo.js'
import { createWorld, liteSvmChain, type Chain, type World } from './support/fixtures.js'

const aborted = (e: unknown): boolean => isCoreError(e, 'CORE__ABORTED')

describe('ActionExecutor', () => {
  let chain: Chain
  let world: World | undefined
  /** What the actions did, in order: `build:<key>` when built, `sent:<key>` once confirmed. */
  let steps: string[]

  const action = (key: string): LedgerAction => ({
    key,
    digest: actionDigest([key]),
    instructions: () => {
      steps.push(`build:${key}`)
      return [memoInstruction(key)]
    },
  })

  beforeEach(async () => {
    chain = await liteSvmChain()
    steps = []
  })

  afterEach(async () => {
    await world?.close()
    await chain.close()
  })

  it('should reject a queued call once its signal aborts, keeping the others queued behind the running one', async () => {
    const { promise: gate, resolve: release } = Promise.withResolvers<void>()
    world = await createWorld(chain.transport, {
      hooks: {
        afterIntent: async (key) => {
          if (key === 'first') await gate
        },
        afterSubmit: (key) => void steps.push(`sent:${key}`),
      },
    })
    const { executor } = world
    const first = executor.execute(action('first'))
    const controller = new AbortController()
    const second = executor.execute(action('second'), { signal: controller.signal })
    const third = executor.execute(action('third'))
    await vi.waitFor(() => expect(steps).toEqual(['build:first']))

    controller.abort()
    await expect(second).rejects.toSatisfy(aborted)
    // Give a wrongly released third call the time to start alongside the first, which is still held.
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(steps).toEqual(['build:first'])

    release()
    await first
    await third
    expect(steps).toEqual(['build:first', 'sent:first', 'build:third', 'sent:third'])
    expect(executor.status('second')).toBeUndefined()
  })

  it('should reject a reconcile that is aborted part-way instead of reporting each intent as failed', async () => {
    world = await createWorld(chain.transport, {
      hooks: {
        // The process "dies" between journaling the intent and sending it.
        afterIntent: () => {
          throw new Error('crash')
        },
      },
    })
    await expect(world.executor.execute(action('a'))).rejects.toThrow('crash')
    await expect(world.executor.execute(action('b'))).rejects.toThrow('crash')
    expect(world.journal.pending().map((i) => i.key)).toEqual(['a', 'b'])

    const controller = new AbortController()
    const transport = chain.transport
    const status = transport.getSignatureStatus.bind(transport)
    // The signal fires while the first intent is being settled.
    transport.getSignatureStatus = (signature, options) => {
      controller.abort()
      return status(signature, options)
    }
    await expect(world.executor.reconcile({ signal: controller.signal })).rejects.toSatisfy(aborted)
    expect(world.journal.pending().map((i) => i.key)).toEqual(['a', 'b'])
  })
})
