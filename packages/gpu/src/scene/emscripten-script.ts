/**
 * Starts an Emscripten module shipped as a classic script (one that declares `var <name>` rather than exporting it)
 * with its `.wasm` beside it, under Node: the script runs as a function body, so it leaves no global behind, and is
 * handed Node's `require` and its own file name, which Emscripten's start-up reads. The module prints nothing.
 */
export async function startEmscriptenScript<T>(script: string, name: string, require: NodeJS.Require): Promise<T> {
  const { readFile } = await import('node:fs/promises')
  const { dirname } = await import('node:path')
  const { runInThisContext } = await import('node:vm')
  const [source, wasm] = await Promise.all([readFile(script, 'utf8'), readFile(script.replace(/\.js$/, '.wasm'))])
  const factory = runInThisContext(`(function (require, __filename, __dirname) {${source}\nreturn ${name}})`, {
    filename: script,
  }) as (require: NodeJS.Require, filename: string, dirname: string) => (options: object) => Promise<T>
  const wasmBinary = wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength)
  // What it would print (a file it refuses, an encoder's progress) goes nowhere: failures are reported with codes.
  const quiet = () => {}
  return factory(require, script, dirname(script))({ wasmBinary, print: quiet, printErr: quiet })
}
