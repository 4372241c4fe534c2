/**
 * Helpers of kv.bench.ts: per-thread CPU from /proc, percentiles, and the Redis comparison (a
 * redis-server of its own under `appendfsync always`, spoken to by a minimal pipelining RESP client).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { connect as tcp } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from '@module-ingest/testing'

export const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return Number(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!.toFixed(3))
}

const kTickUs = 10_000 // USER_HZ = 100: /proc/<pid>/stat counts 10 ms ticks

/** utime+stime (µs) of a process's threads, summed by thread name (exited threads are lost). */
export function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>()
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
    } catch {
      continue // exited meanwhile
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const us = (Number(f[11]) + Number(f[12])) * kTickUs
    out.set(name, (out.get(name) ?? 0) + us)
  }
  return out
}

/** A minimal RESP client: pipelined commands, resolves each on its reply. */
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

export interface RedisOptions {
  dir: string
  children: ChildProcess[]
  keys: number
  sets: number
  producers: number
  gets: number
  out: (o: Record<string, unknown>) => void
}

/** Redis SET under appendfsync always: load `keys` keys, `sets` sets over them, `gets` gets. */
export async function redisRows(o: RedisOptions): Promise<void> {
  let bin: string
  try {
    bin = execFileSync('sh', ['-c', 'command -v redis-server']).toString().trim()
  } catch {
    o.out({ system: 'redis', skipped: 'no redis-server binary' })
    return
  }
  const port = await freePort()
  const rdir = join(o.dir, `redis-${o.keys}`)
  mkdirSync(rdir, { recursive: true })
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'yes']
  args.push('--appendfsync', 'always', '--dir', rdir, '--save', '', '--protected-mode', 'no')
  const child = spawn(bin, args, { stdio: 'ignore' })
  o.children.push(child)
  for (let i = 0; i < 100; i++) {
    const c = resp(port)
    const ok = await Promise.race([c.ready.then(() => true), sleep(100).then(() => false)])
    c.close()
    if (ok) break
  }
  const value = JSON.stringify({ temp: 1, fw: '1.2.3' })
  /** `n` SETs over `o.producers` pipelining connections; seconds taken. */
  const sets = async (n: number, key: (i: number) => number) => {
    const t0 = performance.now()
    await Promise.all(
      Array.from({ length: o.producers }, async (_, p) => {
        const c = resp(port)
        await c.ready
        const inflight: Array<Promise<void>> = []
        for (let i = p; i < n; i += o.producers) {
          inflight.push(c.cmd(['SET', `device-${key(i)}`, value]))
          if (inflight.length >= 4096) await Promise.all(inflight.splice(0, 2048))
        }
        await Promise.all(inflight)
        c.close()
      }),
    )
    return (performance.now() - t0) / 1000
  }
  const row = { system: 'redis', keys: o.keys }
  const load = await sets(o.keys, (i) => i)
  o.out({ ...row, what: 'load: every key once (pipelined SET)', setsPerSec: Math.round(o.keys / load) })
  const n = Math.min(o.keys, o.sets)
  const s = await sets(o.sets, (i) => Math.floor(((i % n) * o.keys) / n))
  o.out({
    ...row,
    what: 'SET, appendonly yes, appendfsync always',
    sets: o.sets,
    producers: o.producers,
    setsPerSec: Math.round(o.sets / s),
  })
  const c = resp(port)
  await c.ready
  const lat: number[] = []
  for (let i = 0; i < o.gets; i++) {
    const st = performance.now()
    await c.cmd(['GET', `device-${Math.floor(Math.random() * o.keys)}`])
    lat.push(performance.now() - st)
  }
  c.close()
  o.out({ ...row, what: 'GET (ms)', gets: o.gets, p50: pct(lat, 50), p99: pct(lat, 99) })
  child.kill('SIGKILL')
}
