import { pino, type Logger } from 'pino'
import type { NodeConfig } from './config.js'

/** The node's JSON log lines (one object per line on stdout), at the configured level. */
export function createLogger(level: NodeConfig['logLevel'], name = 'tessera'): Logger {
  return pino({ name, level, base: { pid: process.pid } })
}

export type { Logger }
