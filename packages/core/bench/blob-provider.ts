/**
 * The providing side of the blob benchmark, run as a separate process as a real peer would be: a Tessera node that
 * holds the blob, and a plain TCP server that sends the same bytes, each answering the parent over IPC.
 */
import { randomFillSync } from 'node:crypto'
import { createServer, type AddressInfo } from 'node:net'
import { createNode } from '../src/index.js'

const BYTES = Number(process.argv[2] ?? 64 * 1024 * 1024)
const RAW_CHUNK_BYTES = 256 * 1024

const bytes = new Uint8Array(BYTES)
for (let offset = 0; offset < BYTES; offset += 65_536) randomFillSync(bytes, offset, Math.min(65_536, BYTES - offset))

const node = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'] })
const cid = await node.blobs.put(bytes)

// Each connection receives the whole blob, written in RAW_CHUNK_BYTES pieces with back-pressure, then the end.
const raw = createServer((socket) => {
  void (async () => {
    for (let offset = 0; offset < BYTES; offset += RAW_CHUNK_BYTES) {
      if (!socket.write(bytes.subarray(offset, offset + RAW_CHUNK_BYTES)))
        await new Promise((resolve) => socket.once('drain', resolve))
    }
    socket.end()
  })()
})
await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve))

process.send!({
  addr: node.getMultiaddrs()[0]!.toString(),
  cid: cid.toString(),
  rawPort: (raw.address() as AddressInfo).port,
})
process.on('message', async (message) => {
  if (message === 'stop') {
    raw.close()
    await node.stop()
    process.exit(0)
  }
})
