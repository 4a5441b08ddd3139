import type { Command } from 'commander'
import { type DataDir, resolveDataDir } from '../data-dir.js'
import { checkFlags } from './errors.js'

/**
 * The data directory `--data-dir` (or `TESSERA_DATA_DIR`) names. One set empty is how the command was called, not
 * an operation that failed: a usage error, exit 2.
 */
export function dataDirOf(program: Command): DataDir {
  return checkFlags(() => resolveDataDir(program.opts<{ dataDir?: string }>().dataDir))
}
