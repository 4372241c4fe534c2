/**
 * KV benchmark: durable sets/s through a real `module-ingest serve` (MIP/1, group commit,
 * fdatasync, ACK), how fast the `kv` subscriber applies them, and get latency (HTTP read API and
 * the in-process reader) at KEYS keys; the same against Redis SET under `appendfsync always` when a
 * redis-server binary is found. One JSON line per measurement.
 *
 *   node packages/kv/bench/kv.bench.ts            # KEYS=10000 SETS=100000 PRODUCERS=4 GETS=2000
 *   KEYS=1000000 SETS=1000000 node packages/kv/bench/kv.bench.ts
 *
 * Numbers from a shared, loaded machine are noisy: compare within one run.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect as tcp } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { createOperator, createToken } from '@module-ingest/auth'
import { connect } from '@module-ingest/client'
import { encodeOp, streamOf } from '@module-ingest/kv-protocol'
import { freePort } from '@module-ingest/testing'
import { KvReader } from '../src/read.ts'
import { KvStore } from '../src/store.ts'

const KEYS = Number(process.env.KEYS ?? 10_000)
const SETS = Number(process.env.SETS ?? 100_000)
const PRODUCERS = Number(process.env.PRODUCERS ?? 4)
const GETS = Number(process.env.GETS ?? 2000)
const cli = new URL('../../../apps/server/src/cli.ts', import.meta.url).pathname
const out = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`)
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return Number(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!.toFixed(3))
}

const dir = mkdtempSync(join(tmpdir(), 'mi-kv-bench-'))
const children: ChildProcess[] = []
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})

async function moduleIngest() {
  const creds = join(dir, 'credentials.yaml')
  const token = (await createToken(creds, { module: 'bench-*', scopes: ['write:kv.*'], kind: 'token' }))
    .secret
  const reader = (await createOperator(creds, { name: 'bench', scopes: ['read:kv.*'] })).token
  const port = await freePort()
  const http = await freePort()
  const storePath = join(dir, 'kv.sqlite')
  const config = join(dir, 'mi.json')
  writeFileSync(
    config,
    JSON.stringify({
      dataDir: dir,
      listen: `127.0.0.1:${port}`,
      telemetry: { metrics: { listen: `127.0.0.1:${http}` }, logLevel: 'warn' },
      subscribers: [
        {
          name: 'kv',
          use: 'kv',
          streams: ['kv.*'],
          options: { path: storePath },
          batch: { maxRecords: 5000, maxWaitMs: 20 },
        },
      ],
    }),
  )
  const child = spawn(process.execPath, [cli, 'serve', '--config', config, '--log-level', 'info'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.push(child)
  await new Promise<void>((resolve) =>
    createInterface({ input: child.stdout! }).on('line', (l) => l.includes('"ServerListening"') && resolve()),
  )
  const api = `http://127.0.0.1:${http}`

  // Durable sets: PRODUCERS modules, each pipelining DATA frames (one set per frame).
  const bodies = Array.from({ length: KEYS }, (_, i) =>
    encodeOp({
      op: 'set',
      key: `device-${i}`,
      value: { type: 'json', value: { temp: i % 100, fw: '1.2.3' } },
    }),
  )
  const stream = streamOf('bench')
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: PRODUCERS }, async (_, p) => {
      const client = await connect({ port, module: `bench-${p}`, auth: { token }, window: 4096 })
      const inflight: Array<Promise<unknown>> = []
      for (let i = p; i < SETS; i += PRODUCERS) {
        inflight.push(client.send(stream, bodies[i % KEYS]!))
        if (inflight.length >= 4096) await Promise.all(inflight.splice(0, 2048))
      }
      await Promise.all(inflight)
      await client.close()
    }),
  )
  const acked = performance.now() - t0
  out({
    system: 'module-ingest',
    what: 'durable kv sets (ACK after fdatasync)',
    sets: SETS,
    keys: KEYS,
    producers: PRODUCERS,
    seconds: +(acked / 1000).toFixed(2),
    setsPerSec: Math.round(SETS / (acked / 1000)),
  })

  // The materializer: time until everything ACKed is applied.
  const headers = { authorization: `Bearer ${reader}` }
  for (;;) {
    const s = (await (await fetch(`${api}/kv/v1/status`, { headers })).json()) as { appliedLsn: number }
    if (s.appliedLsn >= SETS) break
    await sleep(20)
  }
  const applied = performance.now() - t0
  out({
    system: 'module-ingest',
    what: 'kv sets applied to the store (from first send)',
    seconds: +(applied / 1000).toFixed(2),
    setsPerSec: Math.round(SETS / (applied / 1000)),
  })

  // Get latency over HTTP (sequential, random keys) and in-process.
  const lat: number[] = []
  for (let i = 0; i < GETS; i++) {
    const k = `device-${Math.floor(Math.random() * KEYS)}`
    const s = performance.now()
    const r = await fetch(`${api}/kv/v1/get?ns=bench&key=${k}`, { headers })
    await r.arrayBuffer()
    lat.push(performance.now() - s)
  }
  out({
    system: 'module-ingest',
    what: 'kv get over HTTP (ms)',
    keys: KEYS,
    gets: GETS,
    p50: pct(lat, 50),
    p99: pct(lat, 99),
  })
  const reader2 = new KvReader(storePath)
  const local: number[] = []
  for (let i = 0; i < GETS * 10; i++) {
    const s = performance.now()
    reader2.get('bench', `device-${Math.floor(Math.random() * KEYS)}`)
    local.push(performance.now() - s)
  }
  reader2.close()
  out({
    system: 'module-ingest',
    what: 'kv get in-process KvReader (ms)',
    keys: KEYS,
    gets: GETS * 10,
    p50: pct(local, 50),
    p99: pct(local, 99),
  })
  child.kill('SIGTERM')
}

/** A minimal RESP client: pipelined commands, counts replies. */
function resp(port: number) {
  const sock = tcp({ port, host: '127.0.0.1' })
  let waiters: Array<() => void> = []
  let buf = ''
  sock.on('error', () => {}) // the startup probe connects before redis listens
  sock.setEncoding('latin1')
  sock.on('data', (d: string) => {
    buf += d
    let nl = buf.indexOf('\r\n')
    while (nl >= 0) {
      const line = buf.slice(0, nl)
      if (line.startsWith('$') && line !== '$-1') {
        const len = Number(line.slice(1))
        if (buf.length < nl + 2 + len + 2) break
        buf = buf.slice(nl + 2 + len + 2)
      } else buf = buf.slice(nl + 2)
      waiters.shift()?.()
      nl = buf.indexOf('\r\n')
    }
  })
  const enc = (args: string[]) =>
    `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`
  return {
    ready: new Promise<void>((r) => sock.once('connect', () => r())),
    cmd(args: string[]): Promise<void> {
      return new Promise((resolve) => {
        waiters.push(resolve)
        sock.write(enc(args))
      })
    },
    close: () => {
      waiters = []
      sock.destroy()
    },
  }
}

async function redis() {
  let bin: string
  try {
    bin = execFileSync('sh', ['-c', 'command -v redis-server']).toString().trim()
  } catch {
    out({ system: 'redis', skipped: 'no redis-server binary' })
    return
  }
  const port = await freePort()
  const rdir = join(dir, 'redis')
  execFileSync('mkdir', ['-p', rdir])
  const child = spawn(
    bin,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--dir',
      rdir,
      '--save',
      '',
      '--protected-mode',
      'no',
    ],
    { stdio: 'ignore' },
  )
  children.push(child)
  for (let i = 0; i < 100; i++) {
    const c = resp(port)
    const ok = await Promise.race([c.ready.then(() => true), sleep(100).then(() => false)])
    c.close()
    if (ok) break
  }
  const value = JSON.stringify({ temp: 1, fw: '1.2.3' })
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: PRODUCERS }, async (_, p) => {
      const c = resp(port)
      await c.ready
      const inflight: Array<Promise<void>> = []
      for (let i = p; i < SETS; i += PRODUCERS) {
        inflight.push(c.cmd(['SET', `device-${i % KEYS}`, value]))
        if (inflight.length >= 4096) await Promise.all(inflight.splice(0, 2048))
      }
      await Promise.all(inflight)
      c.close()
    }),
  )
  const s = (performance.now() - t0) / 1000
  out({
    system: 'redis',
    what: 'SET, appendonly yes, appendfsync always',
    sets: SETS,
    keys: KEYS,
    producers: PRODUCERS,
    seconds: +s.toFixed(2),
    setsPerSec: Math.round(SETS / s),
  })
  const c = resp(port)
  await c.ready
  const lat: number[] = []
  for (let i = 0; i < GETS; i++) {
    const st = performance.now()
    await c.cmd(['GET', `device-${Math.floor(Math.random() * KEYS)}`])
    lat.push(performance.now() - st)
  }
  c.close()
  out({ system: 'redis', what: 'GET (ms)', keys: KEYS, gets: GETS, p50: pct(lat, 50), p99: pct(lat, 99) })
  child.kill('SIGKILL')
}

/** The store alone: KvStore.apply in-process, deliveries of 5000 (what the subscriber does per batch). */
function storeOnly() {
  const store = new KvStore(join(dir, 'apply-only.sqlite'))
  const recs = Array.from({ length: SETS }, (_, i) => ({
    lsn: i + 1,
    stream: 'kv.bench',
    module: 'm',
    core: '',
    seq: BigInt(i + 1),
    rts: Date.now() * 1000,
    body: encodeOp({
      op: 'set',
      key: `device-${i % KEYS}`,
      value: { type: 'json', value: { temp: i % 100, fw: '1.2.3' } },
    }),
  }))
  const t0 = performance.now()
  for (let i = 0; i < SETS; i += 5000) store.apply(recs.slice(i, i + 5000))
  const s = (performance.now() - t0) / 1000
  store.close()
  out({
    system: 'module-ingest',
    what: 'KvStore.apply in-process (no server), synchronous FULL',
    sets: SETS,
    keys: KEYS,
    seconds: +s.toFixed(2),
    setsPerSec: Math.round(SETS / s),
  })
}

await moduleIngest()
storeOnly()
await redis()
process.exit(0)
