import { simCommand } from '../src/cli.js'

/** `npm run sim -w @tessera/sim -- <scenario> --seed N --out DIR`: paths are relative to where npm was started. */
const controller = new AbortController()
process.once('SIGINT', () => controller.abort())
process.exitCode = await simCommand(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  cwd: process.env.INIT_CWD ?? process.cwd(),
  signal: controller.signal,
})
