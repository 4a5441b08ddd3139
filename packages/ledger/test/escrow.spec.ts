import { describe } from 'vitest'
import { escrowScenarioSuite } from './support/escrow-scenario.js'
import { liteSvmChain, rpcWsChain } from './support/fixtures.js'

describe('escrow on LiteSVM', () => {
  escrowScenarioSuite(liteSvmChain)
})

describe('escrow over RPC', () => {
  escrowScenarioSuite(rpcWsChain)
})
