import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { defaultConfig, loadConfig } from '../src/index.ts'

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).pathname
const cwd = '/srv/mi'

function configError(t: import('ava').ExecutionContext, fn: () => unknown): string {
  const err = t.throws(fn) as Error & { code: string }
  return err.message
}

test('defaults, with paths derived from dataDir', (t) => {
  const c = defaultConfig(cwd)
  t.deepEqual(c.listen, { host: '127.0.0.1', port: 7411 })
  t.is(c.dataDir, '/srv/mi/data')
  t.is(c.credentialsFile, '/srv/mi/data/credentials.yaml')
  t.is(c.telemetry.adminSocket, '/srv/mi/data/admin.sock')
  t.deepEqual(c.telemetry.metrics, { listen: { host: '127.0.0.1', port: 7412 } })
  t.is(c.telemetry.logLevel, 'info')
  t.is(c.telemetry.memoryLogLines, 1000)
  t.is(c.workers.parsers, Math.max(1, Math.min(4, availableParallelism() - 1)))
  t.like(c.limits, {
    maxConnections: 20000,
    maxFrameBytes: 1048576,
    handshakeTimeoutMs: 5000,
    heartbeatMs: 10000,
    failedHandshakesPerMinute: 20,
  })
  t.is(c.limits.moduleBytesPerSec, undefined)
  t.like(c.log, {
    segmentSizeBytes: 64 * 1024 * 1024,
    flush: 'always',
    flushIntervalMs: 10,
    groupCommitMaxDelayMs: 0,
    groupCommitMaxBytes: 1024 * 1024,
    compression: 'none',
  })
  t.deepEqual(c.log.retention, { checkIntervalMs: 60_000 })
  t.deepEqual(c.ring, { inboundBytes: 4 << 20, toWriterBytes: 8 << 20, outboundBytes: 1 << 20 })
  t.deepEqual(c.subscribers, [
    {
      name: 'disk',
      use: 'disk',
      enabled: true,
      streams: ['*'],
      options: { dir: '/srv/mi/data/archive' },
      concurrency: 1,
      maxAttempts: 5,
      timeoutMs: 30000,
      failedRecheckMs: 60000,
    },
  ])
  t.is(c.shutdown.gracefulTimeoutMs, 10000)
  t.is(c.tls, undefined)
})

test('YAML file, with units and derived paths', (t) => {
  const c = loadConfig({ file: fixture('config.yaml'), env: {}, cwd })
  t.deepEqual(c.listen, { host: '0.0.0.0', port: 7500 })
  t.is(c.dataDir, '/var/lib/mi')
  t.is(c.credentialsFile, '/var/lib/mi/credentials.yaml')
  t.is(c.limits.maxConnections, 500)
  t.is(c.limits.heartbeatMs, 15000)
  t.is(c.log.segmentSizeBytes, 16 << 20)
  t.is(c.log.flush, 'interval')
  t.is(c.telemetry.metrics, false)
  t.is(c.subscribers.length, 2)
  t.deepEqual(c.subscribers[0]?.options, { dir: '/var/lib/mi/archive' })
  t.deepEqual(c.subscribers[1]?.streams, ['telemetry.*'])
  t.deepEqual(c.subscribers[1]?.options, { url: 'nats://127.0.0.1:4222' })
  t.is(c.subscribers[1]?.batch, undefined, 'batch limits left to the runtime (the plugin, then its defaults)')
})

test('JSON file; port 0 allowed', (t) => {
  const c = loadConfig({ file: fixture('config.json'), env: {}, cwd })
  t.deepEqual(c.listen, { host: '127.0.0.1', port: 0 })
  t.is(c.limits.maxConnections, 42)
  t.is(c.telemetry.logLevel, 'warn')
  t.deepEqual(c.telemetry.metrics, { listen: { host: '127.0.0.1', port: 0 } })
})

test('precedence: defaults < file < env < flags', (t) => {
  const file = fixture('config.yaml')
  const env = { MI_LIMITS__MAX_CONNECTIONS: '600', MI_LISTEN: '127.0.0.1:7600', MI_LOG_LEVEL: 'debug' }
  const c = loadConfig({ file, env, cwd, flags: { listen: '[::1]:7700' } })
  t.deepEqual(c.listen, { host: '::1', port: 7700 }, 'flag beats env and file')
  t.is(c.limits.maxConnections, 600, 'env beats file')
  t.is(c.limits.heartbeatMs, 15000, 'file beats default, siblings from other sources kept')
  t.is(c.limits.maxFrameBytes, 1048576, 'default where nobody set it')
  t.is(c.telemetry.logLevel, 'debug', 'MI_LOG_LEVEL shorthand')
  t.is(c.dataDir, '/var/lib/mi')
  const d = loadConfig({ file, env: { MI_DATA_DIR: 'rel' }, cwd, flags: { 'telemetry.logLevel': 'error' } })
  t.is(d.dataDir, '/srv/mi/rel')
  t.is(d.telemetry.adminSocket, '/srv/mi/rel/admin.sock')
  t.is(d.telemetry.logLevel, 'error')
})

test('environment mapping: nesting, booleans, lists, JSON, false sections', (t) => {
  const c = loadConfig({
    cwd,
    env: {
      MI_TLS__CERT_FILE: 'cert.pem',
      MI_TLS__KEY_FILE: '/etc/key.pem',
      MI_TLS__REQUEST_CLIENT_CERT: 'true',
      MI_TELEMETRY__METRICS: 'false',
      MI_LOG__RETENTION__MAX_AGE_MS: '7d',
      MI_SUBSCRIBERS: '[{"name":"a","use":"./my-plugin.js","streams":["x.*"]}]',
      MI_TEST: '1',
      MI_SOAK: '1',
      MI_SOMETHING_ELSE_ENTIRELY: 'ignored',
      PATH: '/bin',
    },
  })
  t.deepEqual(c.tls, {
    certFile: '/srv/mi/cert.pem',
    keyFile: '/etc/key.pem',
    requestClientCert: true,
    requireClientCert: false,
  })
  t.is(c.telemetry.metrics, false)
  t.is(c.log.retention.maxAgeMs, 7 * 86_400_000)
  t.is(c.subscribers.length, 1)
  t.like(c.subscribers[0], { name: 'a', use: './my-plugin.js', streams: ['x.*'], concurrency: 1 })
  const d = loadConfig({
    cwd,
    env: { MI_TELEMETRY__METRICS__LISTEN: '0.0.0.0:9100', MI_CREDENTIALS_FILE: 'creds.yaml' },
  })
  t.deepEqual(d.telemetry.metrics, { listen: { host: '0.0.0.0', port: 9100 } })
  t.is(d.credentialsFile, '/srv/mi/creds.yaml')
})

test('error: bad value names key, source and problem', (t) => {
  const msg = configError(t, () => loadConfig({ env: { MI_LIMITS__MAX_CONNECTIONS: 'abc' } }))
  t.is(
    msg,
    'config error: limits.maxConnections (from MI_LIMITS__MAX_CONNECTIONS): expected a positive integer, got "abc"',
  )
  t.is(
    configError(t, () =>
      loadConfig({
        env: {},
        flags: { 'limits.maxFrameBytes': '0' },
        flagLabels: { 'limits.maxFrameBytes': '--max-frame' },
      }),
    ),
    'config error: limits.maxFrameBytes (from --max-frame): expected a positive integer, got 0',
  )
  t.is(
    configError(t, () => loadConfig({ env: { MI_LIMITS__FAILED_HANDSHAKES_PER_MINUTE: '5' } })),
    'config error: limits.failedHandshakesPerMinute (from MI_LIMITS__FAILED_HANDSHAKES_PER_MINUTE): expected an integer ≥ 20, got 5',
  )
  t.is(
    configError(t, () => loadConfig({ env: { MI_LOG__FLUSH: 'sometimes' } })),
    'config error: log.flush (from MI_LOG__FLUSH): expected one of "always", "interval", "none", got "sometimes"',
  )
  t.regex(
    configError(t, () => loadConfig({ env: {}, flags: { listen: 'localhost' } })),
    /^config error: listen \(from --listen\): expected "host:port"/,
  )
  t.regex(
    configError(t, () => loadConfig({ env: { MI_LISTEN: '1.2.3.4:70000' } })),
    /listen \(from MI_LISTEN\): port 70000 is out of range/,
  )
  t.regex(
    configError(t, () => loadConfig({ env: { MI_TLS__CERT_FILE: 'a.pem' } })),
    /^config error: tls.keyFile \(from defaults\): is required/,
  )
  t.regex(
    configError(t, () =>
      loadConfig({
        env: { MI_TLS__REQUEST_CLIENT_CERT: 'maybe', MI_TLS__CERT_FILE: 'a', MI_TLS__KEY_FILE: 'b' },
      }),
    ),
    /tls.requestClientCert \(from MI_TLS__REQUEST_CLIENT_CERT\): expected true or false, got "maybe"/,
  )
  t.regex(
    configError(t, () => loadConfig({ env: { MI_SUBSCRIBERS: '[{"name":' } })),
    /subscribers \(from MI_SUBSCRIBERS\): invalid JSON/,
  )
})

test('error: unknown keys with did-you-mean, in file, env and flags', (t) => {
  const msg = configError(t, () => loadConfig({ file: fixture('bad.yaml'), env: {} }))
  const file = fixture('bad.yaml')
  t.is(
    msg,
    [
      `config error: limits.maxConections (from ${file}): unknown key, did you mean "maxConnections"?`,
      `config error: log.segmentSize (from ${file}): unknown key, did you mean "segmentSizeBytes"?`,
      `config error: limits.maxFrameBytes (from ${file}): expected a positive integer, got "lots"`,
    ].join('\n'),
  )
  t.is(
    configError(t, () => loadConfig({ env: { MI_LIMITS__MAX_CONECTIONS: '5' } })),
    'config error: limits.maxConections (from MI_LIMITS__MAX_CONECTIONS): unknown key, did you mean MI_LIMITS__MAX_CONNECTIONS?',
  )
  t.is(
    configError(t, () => loadConfig({ env: { MI_DATADIR: '/x' } })),
    'config error: datadir (from MI_DATADIR): unknown setting, did you mean MI_DATA_DIR?',
  )
  t.is(
    configError(t, () => loadConfig({ env: {}, flags: { 'limits.maxConection': 1 } })),
    'config error: limits.maxConection (from --limits.maxConection): unknown key, did you mean "limits.maxConnections"?',
  )
  t.regex(
    configError(t, () => loadConfig({ env: {}, flags: { zzz: 1 } })),
    /zzz \(from --zzz\): unknown key$/,
  )
})

test('error: cross-field checks', (t) => {
  t.regex(
    configError(t, () =>
      loadConfig({ env: { MI_SUBSCRIBERS: '[{"name":"a","use":"disk"},{"name":"a","use":"nats"}]' } }),
    ),
    /subscribers\[1\]\.name \(from MI_SUBSCRIBERS\): duplicate subscriber name "a"/,
  )
  t.regex(
    configError(t, () => loadConfig({ env: { MI_RING__INBOUND_BYTES: '1MiB' } })),
    /ring.inboundBytes \(from MI_RING__INBOUND_BYTES\): must be larger than limits.maxFrameBytes/,
  )
})

test('error: config file problems', (t) => {
  t.throws(() => loadConfig({ file: fixture('missing.yaml'), env: {} }), {
    code: 'MI_ERR_CONFIG_FILE_READ',
    message: /missing\.yaml: no such file/,
  })
  t.throws(() => loadConfig({ file: fixture('broken.json'), env: {} }), { code: 'MI_ERR_CONFIG_FILE_PARSE' })
  t.throws(() => loadConfig({ file: fixture('config.toml'), env: {} }), { code: 'MI_ERR_CONFIG_FILE_TYPE' })
  const err = t.throws(() => loadConfig({ file: fixture('bad.yaml'), env: {} })) as Error & {
    code: string
    issues: unknown[]
  }
  t.is(err.code, 'MI_ERR_CONFIG_INVALID')
  t.is(err.issues.length, 3)
})

test('MI_CONFIG names the file', (t) => {
  const c = loadConfig({ env: { MI_CONFIG: fixture('config.json') }, cwd })
  t.is(c.limits.maxConnections, 42)
  t.is(join(c.dataDir), '/srv/mi/data')
})

test('a YAML parse error ends with the problem, position first (not "column N:" and nothing)', (t) => {
  // Written here, not a fixture file: the repo's formatter parses YAML fixtures and rejects this one.
  const dir = mkdtempSync(join(tmpdir(), 'mi-config-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'broken-indent.yaml')
  writeFileSync(file, 'listen: 127.0.0.1:7411\ndataDir: ./data\n  bad: [1\nlog: {}\n')
  const err = t.throws(() => loadConfig({ file, env: {} }), {
    code: 'MI_ERR_CONFIG_FILE_PARSE',
  })
  const message = err?.message ?? ''
  t.notRegex(message, /:\s*$/)
  t.regex(message, /broken-indent\.yaml: line \d+, column \d+: \S.*[^:]$/)
})

test('telemetry.reads: its own listener by default, nice bounded, false allowed', (t) => {
  t.deepEqual(defaultConfig(cwd).telemetry.reads, { listen: { host: '127.0.0.1', port: 7413 }, nice: -5 })
  const c = loadConfig({
    env: { MI_TELEMETRY__READS__LISTEN: '0.0.0.0:9000' },
    cwd,
    flags: { 'telemetry.reads.nice': 3 },
  })
  t.deepEqual(c.telemetry.reads, { listen: { host: '0.0.0.0', port: 9000 }, nice: 3 })
  t.is(loadConfig({ env: {}, cwd, flags: { 'telemetry.reads': false } }).telemetry.reads, false)
  t.regex(
    configError(t, () => loadConfig({ env: {}, flags: { 'telemetry.reads.nice': 20 } })),
    /telemetry\.reads\.nice.*from -20 to 19/,
  )
  t.regex(
    configError(t, () => loadConfig({ env: {}, flags: { 'telemetry.reads.listen': 'nowhere' } })),
    /telemetry\.reads/,
  )
})

test('subscribers[].nice: 0..19, absent means the plugin decides', (t) => {
  const load = (entry: string) => loadConfig({ env: { MI_SUBSCRIBERS: `[${entry}]` }, cwd })
  t.is(load('{"name":"a","use":"index"}').subscribers[0]?.nice, undefined)
  t.is(load('{"name":"a","use":"index","nice":10}').subscribers[0]?.nice, 10)
  t.regex(
    configError(t, () => load('{"name":"a","use":"index","nice":-1}')),
    /subscribers\[0\]\.nice.*/,
  )
  t.regex(
    configError(t, () => load('{"name":"a","use":"index","nice":20}')),
    /from 0 to 19/,
  )
})

test('subscribers[].rateLimit: optional with no defaults (the plugin declares its own), fields validated', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mi-cfg-rate-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'c.yaml')
  writeFileSync(
    file,
    'subscribers:\n  - { name: a, use: s3 }\n  - { name: b, use: s3, rateLimit: { when: always } }\n  - { name: c, use: s3, rateLimit: { bytesPerSec: 0 } }\n',
  )
  const c = loadConfig({ file, env: {}, cwd })
  t.is(c.subscribers[0]?.rateLimit, undefined)
  t.deepEqual(c.subscribers[1]?.rateLimit, { when: 'always' })
  t.deepEqual(c.subscribers[2]?.rateLimit, { bytesPerSec: 0 })
  writeFileSync(file, 'subscribers:\n  - { name: a, use: s3, rateLimit: { bytesPerSec: 1, when: never } }\n')
  t.regex(
    configError(t, () => loadConfig({ file, env: {}, cwd })),
    /rateLimit\.when/,
  )
})
