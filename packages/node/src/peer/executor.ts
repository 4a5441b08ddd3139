import type { TaskExecutor } from '@tessera/scheduler/driver'
import { cpuWorkload } from '@tessera/scheduler/driver'
import type { Logger } from 'pino'
import type { NodeConfig } from '../config.js'

/** The engine a worker runs tasks on, and how to release it. */
export interface ExecutorHandle {
  executor: TaskExecutor
  close(): Promise<void>
}

/** Creates the task executor for this peer's configuration. */
export async function createExecutor(_config: NodeConfig, _logger: Logger): Promise<ExecutorHandle> {
  return { executor: cpuWorkload(), close: async () => {} }
}
