import { describe } from 'vitest'
import { liteSvmChain, rpcChain, rpcWsChain } from './support/fixtures.js'
import { transportComplianceSuite } from './support/transport-compliance.js'

describe('LiteSvmTransport', () => {
  transportComplianceSuite(liteSvmChain)
})

describe('RpcTransport (JSON-RPC double, polling)', () => {
  transportComplianceSuite(rpcChain)
})

describe('RpcTransport (JSON-RPC double, WebSocket)', () => {
  transportComplianceSuite(rpcWsChain)
})
