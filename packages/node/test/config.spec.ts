import { symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfig, parseConfig, serializeConfig } from '../src/config.js'
import { isNodeError } from '../src/errors.js'
import { tempDir } from './helpers.js'

describe('config', () => {
  it('should fill every default from an empty object', () => {
    const config = parseConfig({})
    expect(config.worker.price).toBe(100n)
    expect(config.ledger.transport).toBe('litesvm')
    expect(config.bootstrap).toEqual([])
    // Left to follow the listen addresses: a node listening on 0.0.0.0 must not get loopback-friendly limits.
    expect(config.localNetwork).toBeUndefined()
    expect(parseConfig({ localNetwork: true }).localNetwork).toBe(true)
  })

  it('should round-trip through its JSON form', () => {
    const config = parseConfig({ worker: { price: '250', stake: 5000 } })
    expect(parseConfig(JSON.parse(serializeConfig(config)))).toEqual(config)
  })

  it('should name the bad field and reject unknown keys', () => {
    expect(() => parseConfig({ worker: { price: '-1' } })).toThrow(/worker\.price/)
    try {
      parseConfig({ listn: [] })
      expect.unreachable()
    } catch (e) {
      expect(isNodeError(e, 'NODE__INVALID_CONFIG')).toBe(true)
    }
  })

  it('should refuse an unknown key inside a section, naming its whole path', () => {
    // Dropped before: `enable` (for `enabled`) loaded, and the node offered its GPU as a worker.
    const cases: Array<[unknown, string[]]> = [
      [{ worker: { enable: false } }, ['worker', 'enable']],
      [{ api: { prot: 8080 } }, ['api', 'prot']],
      [{ verification: { server: false } }, ['verification', 'server']],
      [{ ledger: { feebps: 0 } }, ['ledger', 'feebps']],
      [{ listn: [] }, ['listn']],
    ]
    for (const [input, path] of cases) {
      try {
        parseConfig(input, 'flags')
        expect.unreachable(JSON.stringify(input))
      } catch (e) {
        expect(e).toMatchObject({
          code: 'NODE__INVALID_CONFIG',
          context: { source: 'flags', path },
          message: `flags: ${path.join('.')}: unknown key; check its spelling or remove it`,
        })
      }
    }
  })

  it('should take an IP address or a host name for the API host, and refuse what is neither', () => {
    for (const host of ['127.0.0.1', '::1', 'localhost', '0.0.0.0', 'host.docker.internal']) {
      expect(parseConfig({ api: { host } }).api.host).toBe(host)
    }
    for (const host of ['', 'http://127.0.0.1', 'a b', '127.0.0.1:8080']) {
      expect(() => parseConfig({ api: { host } }), host).toThrow(/api\.host: expected an IP address or a host name/)
    }
  })

  it('should pay on the chain its transport names, and refuse a cluster url it would ignore', () => {
    const mint = 'EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v'
    const rpc = parseConfig({ ledger: { transport: 'rpc', url: 'http://127.0.0.1:8899', mint } }).ledger
    expect(rpc).toMatchObject({ transport: 'rpc', url: 'http://127.0.0.1:8899', mint })
    expect(() => parseConfig({ ledger: { transport: 'rpc', mint } })).toThrow(/ledger\.url: transport rpc needs/)
    expect(() => parseConfig({ ledger: { url: 'http://127.0.0.1:8899' } })).toThrow(/ledger\.transport/)
    expect(() => parseConfig({ ledger: { wsUrl: 'ws://127.0.0.1:8900' } })).toThrow(/ledger\.transport/)
    // Accepted before: the node started on the embedded chain, which has no such mint, and no ledger call succeeded.
    expect(() => parseConfig({ ledger: { mint } })).toThrow(/ledger\.mint: a mint is a cluster's token/)
    expect(() => parseConfig({ ledger: { transport: 'litesvm', mint } })).toThrow(/ledger\.mint/)
    for (const bad of ['', 'not-an-address', `${mint}0OIl`, '0'.repeat(32)]) {
      expect(() => parseConfig({ ledger: { transport: 'rpc', url: 'http://127.0.0.1:8899', mint: bad } }), bad).toThrow(
        /ledger\.mint: must be a base58/,
      )
    }
  })

  it('should refuse a cluster without its payment mint, naming the field and how to set it', () => {
    // Accepted before: the node started, and every ledger call then failed with LEDGER__INVALID_INPUT.
    try {
      parseConfig({ ledger: { transport: 'rpc', url: 'https://api.devnet.solana.com' } }, 'flags')
      expect.unreachable()
    } catch (e) {
      expect(e).toMatchObject({
        code: 'NODE__INVALID_CONFIG',
        context: { source: 'flags', path: ['ledger', 'mint'] },
        message: expect.stringMatching(/ledger\.mint: .*set ledger\.mint in config\.json, or pass --mint <address>/),
      })
    }
  })

  it('should take only http(s) cluster URLs and ws(s) WebSocket URLs', () => {
    const mint = 'EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v'
    const ledger = (url: string, wsUrl?: string) => ({
      ledger: { transport: 'rpc', url, mint, ...(wsUrl === undefined ? {} : { wsUrl }) },
    })
    expect(parseConfig(ledger('https://api.devnet.solana.com', 'wss://api.devnet.solana.com')).ledger).toMatchObject({
      url: 'https://api.devnet.solana.com',
      wsUrl: 'wss://api.devnet.solana.com',
    })
    expect(parseConfig(ledger('http://127.0.0.1:8899', 'ws://127.0.0.1:8900')).ledger.wsUrl).toBe('ws://127.0.0.1:8900')
    for (const url of [
      'file:///etc/passwd',
      'javascript:alert(1)',
      'ws://127.0.0.1:8900',
      'ftp://host/',
      'not a url',
    ]) {
      expect(() => parseConfig(ledger(url)), url).toThrow(/ledger\.url: (expected a http: or https: URL|Invalid URL)/)
    }
    for (const wsUrl of ['http://127.0.0.1:8900', 'file:///tmp/socket', 'not a url']) {
      expect(() => parseConfig(ledger('http://127.0.0.1:8899', wsUrl)), wsUrl).toThrow(
        /ledger\.wsUrl: (expected a ws: or wss: URL|Invalid URL)/,
      )
    }
  })

  it('should take listen and bootstrap addresses only as multiaddrs, naming the entry refused', () => {
    const peer = '12D3KooWJPvoBcKArbt3mcJG4ESAEsNQJKQHQZw8ePv95U2rfpJg'
    const config = parseConfig({
      listen: ['/ip4/0.0.0.0/tcp/4001', '/ip6/::1/tcp/0/ws'],
      bootstrap: [`/ip4/127.0.0.1/tcp/4001/p2p/${peer}`, `/dns4/boot.example.com/tcp/443/wss/p2p/${peer}`],
    })
    expect(config.listen).toEqual(['/ip4/0.0.0.0/tcp/4001', '/ip6/::1/tcp/0/ws'])
    // Taken before, and refused only as the node started, by a message naming no entry.
    const refused: [unknown, RegExp][] = [
      [
        { listen: ['/ip4/127.0.0.1/tcp/0', 'localhost:4001'] },
        /^config: listen\.1: "localhost:4001": .*start with "\/"/,
      ],
      [{ listen: ['/ip4/999.0.0.1/tcp/1'] }, /^config: listen\.0: "\/ip4\/999\.0\.0\.1\/tcp\/1": Invalid IPv4/],
      [{ listen: [''] }, /^config: listen\.0: "": it is empty/],
      [{ bootstrap: ['/ip4/127.0.0.1/tcp/4001'] }, /^config: bootstrap\.0: .*ends in \/p2p\/<peer id>/],
      // A /p2p/ part must name a peer id that parses.
      [{ bootstrap: ['/ip4/1.2.3.4/tcp/1/p2p/12D3KooWxxx'] }, /^config: bootstrap\.0: .*12D3KooWxxx is not a peer id/],
      [{ bootstrap: [`/ip4/127.0.0.1/tcp/4001/p2p/${peer}`, 'nope'] }, /^config: bootstrap\.1: "nope"/],
    ]
    for (const [input, message] of refused) {
      expect(() => parseConfig(input), JSON.stringify(input)).toThrow(
        expect.objectContaining({ code: 'NODE__INVALID_CONFIG', message: expect.stringMatching(message) }),
      )
    }
  })

  it('should serve at least one tier, each listed once', () => {
    expect(parseConfig({ worker: { tiers: [1, 3] } }).worker.tiers).toEqual([1, 3])
    expect(parseConfig({}).worker.workTolerance).toBe(16)
    expect(parseConfig({ worker: { workTolerance: 1 } }).worker.workTolerance).toBe(1)
    expect(() => parseConfig({ worker: { workTolerance: 0.5 } })).toThrow(
      expect.objectContaining({ code: 'NODE__INVALID_CONFIG' }),
    )
    // Both were taken before: a worker of no tier, or of one tier twice.
    expect(() => parseConfig({ worker: { tiers: [] } })).toThrow(/worker\.tiers: a worker serves at least one tier/)
    expect(() => parseConfig({ worker: { tiers: [3, 3] } })).toThrow(/worker\.tiers: each tier is listed once/)
  })

  it('should take third-party verifiers as peer ids and refuse anything else', () => {
    const defaults = parseConfig({}).verification
    expect(defaults).toEqual({
      verifiers: [],
      selfWeight: 1,
      serve: true,
      minPsnrDb: 30,
      psnrOutlierFraction: 1 / 32,
    })
    const peer = '12D3KooWJPvoBcKArbt3mcJG4ESAEsNQJKQHQZw8ePv95U2rfpJg'
    expect(parseConfig({ verification: { verifiers: [peer], selfWeight: 0 } }).verification).toEqual({
      verifiers: [peer],
      selfWeight: 0,
      serve: true,
      minPsnrDb: 30,
      psnrOutlierFraction: 1 / 32,
    })
    expect(() => parseConfig({ verification: { verifiers: ['12D3KooWtypo'] } })).toThrow(/verification\.verifiers\.0/)
    expect(() => parseConfig({ verification: { selfWeight: -1 } })).toThrow(/verification\.selfWeight/)
    expect(() => parseConfig({ verification: { psnrOutlierFraction: 0.5 } })).toThrow(
      /verification\.psnrOutlierFraction/,
    )
    expect(() => parseConfig({ verification: { minPsnrDb: 0 } })).toThrow(/verification\.minPsnrDb/)
    expect(parseConfig({ verification: { psnrOutlierFraction: 0, minPsnrDb: 40 } }).verification).toMatchObject({
      psnrOutlierFraction: 0,
      minPsnrDb: 40,
    })
  })

  it('should reject a missing, non-JSON or oversized file with distinct codes', async () => {
    const dir = await tempDir()
    try {
      await expect(loadConfig(join(dir.path, 'absent.json'))).rejects.toMatchObject({
        code: 'NODE__CONFIG_NOT_FOUND',
        cause: { code: 'ENOENT' },
      })
      await writeFile(join(dir.path, 'bad.json'), '{ nope')
      await expect(loadConfig(join(dir.path, 'bad.json'))).rejects.toMatchObject({ code: 'NODE__MALFORMED_CONFIG' })
      await writeFile(join(dir.path, 'big.json'), ' '.repeat(300 * 1024))
      await expect(loadConfig(join(dir.path, 'big.json'))).rejects.toMatchObject({ code: 'NODE__INVALID_CONFIG' })
      // Read whole before its size was checked, a link to /dev/zero filled memory without end.
      await symlink('/dev/zero', join(dir.path, 'zero.json'))
      await expect(loadConfig(join(dir.path, 'zero.json'))).rejects.toMatchObject({
        code: 'NODE__INVALID_CONFIG',
        message: expect.stringMatching(/not a regular file/),
      })
    } finally {
      await dir.cleanup()
    }
  })
})
