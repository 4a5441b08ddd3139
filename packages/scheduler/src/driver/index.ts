/**
 * @packageDocumentation
 *
 * `@tessera/scheduler/driver`: runs the market machines on a real node. Kept apart from the package's main entry
 * because it reads the clock, sets timers and loads `@tessera/core`'s runtime, which the simulator must not.
 *
 * @example
 * ```ts
 * import { createNode } from '@tessera/core'
 * import { fixedPrice } from '@tessera/scheduler'
 * import { cpuWorkload, createScheduler } from '@tessera/scheduler/driver'
 *
 * const node = await createNode()
 * const scheduler = createScheduler({ bus: node.bus, blobs: node.blobs }, {
 *   worker: { profile: { memoryMb: 4096, features: [], score: 10, slots: 2, tiers: [3] }, pricing: fixedPrice(5n), executor: cpuWorkload() },
 * })
 * ```
 */
import { SchedulerDriver, type SchedulerComponents, type SchedulerInit } from './scheduler-driver.js'

export * from './assemble.js'
export * from './cpu-workload.js'
export * from './executor.js'
export * from './scheduler-driver.js'

/** Creates and starts a {@link SchedulerDriver}. */
export function createScheduler(components: SchedulerComponents, init: SchedulerInit = {}): SchedulerDriver {
  const driver = new SchedulerDriver(components, init)
  driver.start()
  return driver
}
