#!/usr/bin/env node
import { processIo } from '../cli/io.js'
import { runCli } from '../cli/program.js'

const code = await runCli(process.argv.slice(2), processIo)
// A command that succeeded keeps the failure of an output it could not write (`processIo`).
if (code !== 0 || process.exitCode === undefined) process.exitCode = code
