/**
 * `module-ingest top`: the dashboard's numbers in the terminal. Polls the admin socket's `stats`
 * (like `stats --watch`), turns each reply into the dashboard's sample (same rates, same fields)
 * and redraws a table with sparklines and one row per subscriber. `q` (or Ctrl-C) quits.
 *
 * Percentiles are per refresh: each request names this process's histogram window on the server
 * (`window` in the stats request), so a line shows what happened since the previous frame.
 */
import { randomUUID } from 'node:crypto'
import { type Percentiles, type Sample, type StatsLike, toSample } from '@module-ingest/dashboard'
import { adminRequest } from '@module-ingest/telemetry'
import { Command } from 'commander'
import { type ConfigFlags, configFromFlags, configOptions, usageError } from '../common.ts'

const kBars = '▁▂▃▄▅▆▇█'

/** A sparkline of the last `width` values, scaled from 0 to their max. */
export function sparkline(values: number[], width = 30): string {
  const tail = values.slice(-width)
  const max = Math.max(0, ...tail)
  return tail.map((v) => (max <= 0 ? kBars[0] : kBars[Math.min(7, Math.floor((v / max) * 7.999))])).join('')
}

const fmtBytes = (b: number | null) =>
  b === null
    ? 'n/a'
    : b >= 1e9
      ? `${(b / 1e9).toFixed(2)} GB`
      : b >= 1e6
        ? `${(b / 1e6).toFixed(1)} MB`
        : `${(b / 1e3).toFixed(1)} kB`
const fmtMs = (us: number) => (us / 1000).toFixed(us >= 10_000 ? 0 : 2)
const fmtAge = (s: number) =>
  s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${(s / 60).toFixed(1)} min` : `${Math.round(s)} s`
const pad = (s: string, n: number) => (s.length >= n ? s.slice(0, n) : s + ' '.repeat(n - s.length))
const fmtPct = (p: Percentiles | null, f: (v: number) => string) =>
  p ? `p50 ${f(p.p50)}  p99 ${f(p.p99)}  p99.9 ${f(p.p999)}` : 'none recorded'

/** One frame of `top` from the samples so far (oldest first). Plain text, no escape codes. */
export function renderTop(samples: Sample[], source: string, width = 100): string {
  const s = samples.at(-1)
  const lines = [`module-ingest top — ${source}   (q quits)`]
  if (!s) return `${lines[0]}\n\nwaiting for the first sample…\n`
  const spark = (pick: (x: Sample) => number, used = 26) =>
    sparkline(samples.map(pick), Math.max(10, width - used - 24))
  const prev = samples.at(-2)
  const per = prev ? `last ${((s.t - prev.t) / 1000).toFixed(1)} s` : 'since the first request'
  // Per-interval p99 trend: a spike stands out in its own column.
  const latency = (label: string, p: (x: Sample) => Percentiles | null, f: (v: number) => string) =>
    `${pad(label, 14)}${pad(fmtPct(p(s), f), 36)}${spark((x) => p(x)?.p99 ?? 0, 50)}`
  lines.push(
    new Date(s.t).toISOString().slice(11, 19),
    '',
    `${pad('records/s', 14)}${pad(s.recordsPerSec.toFixed(0), 12)}${spark((x) => x.recordsPerSec)}`,
    `${pad('MB/s', 14)}${pad((s.bytesPerSec / 1e6).toFixed(2), 12)}${spark((x) => x.bytesPerSec)}`,
    `percentiles ${per}; sparklines: their p99`,
    latency('ack ms', (x) => x.ackUs, fmtMs),
    latency('flush ms', (x) => x.flushUs, fmtMs),
    latency('group records', (x) => x.groupRecords, String),
    `${pad('connections', 14)}${pad(String(s.connections), 12)}sessions ${s.sessions}`,
    `${pad('log', 14)}${pad(fmtBytes(s.logBytes), 12)}segments ${s.segments}  oldest ${fmtAge(s.oldestRecordAgeSec)}  disk free ${fmtBytes(s.diskFreeBytes)}`,
    `${pad('rings', 14)}${Object.entries(s.ringUsedBytes)
      .map(([k, v]) => `${k} ${fmtBytes(v)}`)
      .join('  ')}`,
    '',
  )
  if (s.subscribers.length === 0) lines.push('no subscribers')
  else {
    lines.push(
      `${pad('SUBSCRIBER', 20)}${pad('STATE', 10)}${pad('LAG', 10)}${pad('REC/S', 10)}${pad('LAG TREND', 22)}LAST ERROR`,
    )
    for (const sub of s.subscribers) {
      const lag = samples.map((x) => x.subscribers.find((y) => y.name === sub.name)?.lag ?? 0)
      lines.push(
        `${pad(sub.name, 20)}${pad(sub.state, 10)}${pad(String(sub.lag), 10)}${pad(sub.ratePerSec.toFixed(1), 10)}${pad(sparkline(lag, 20), 22)}${sub.lastError ?? ''}`,
      )
    }
  }
  return `${lines.map((l) => l.slice(0, width)).join('\n')}\n`
}

export function topCommand(): Command {
  return configOptions(new Command('top'))
    .description("live view of a running server's rates, latencies, log and subscribers (q quits)")
    .option('--interval-ms <ms>', 'refresh period', '1000')
    .option('--socket <path>', 'admin socket (default telemetry.adminSocket)')
    .action(async (o: ConfigFlags & { intervalMs: string; socket?: string }) => {
      const socket = o.socket ?? configFromFlags(o).telemetry.adminSocket
      const interval = Number(o.intervalMs)
      if (!Number.isInteger(interval) || interval < 100)
        throw usageError('--interval-ms expects an integer ≥ 100')
      const samples: Sample[] = []
      const window = `top-${process.pid}-${randomUUID().slice(0, 8)}`
      const tty = process.stdout.isTTY === true
      let stop: () => void = () => {}
      const stopped = new Promise<void>((resolve) => {
        stop = resolve
      })
      const stdin = process.stdin
      const onKey = (key: Buffer) => {
        const k = key.toString()
        if (k === 'q' || k === 'Q' || k === '\x03') stop()
      }
      if (stdin.isTTY) stdin.setRawMode(true)
      stdin.on('data', onKey)
      stdin.on('end', () => stop()) // piped stdin closed: quit too
      stdin.resume()
      if (tty) process.stdout.write('\x1b[?1049h\x1b[?25l') // alternate screen, hide cursor
      try {
        for (;;) {
          // The first reply fails loudly (no server); later failures show on screen and retry.
          let text: string
          try {
            const stats = (await adminRequest(socket, 'stats', { window })) as StatsLike
            samples.push(toSample(stats, samples.at(-1), Date.now(), null))
            if (samples.length > 300) samples.shift()
            text = renderTop(samples, socket, tty ? process.stdout.columns || 100 : 120)
          } catch (err) {
            if (samples.length === 0) throw err
            text = `module-ingest top — ${socket}   (q quits)\n\n${(err as Error).message}\n`
          }
          process.stdout.write(tty ? `\x1b[H\x1b[2J${text}` : `${text}\n`)
          const tick = await Promise.race([
            stopped.then(() => 'stop'),
            new Promise((r) => setTimeout(r, interval, 'tick')),
          ])
          if (tick === 'stop') return
        }
      } finally {
        if (tty) process.stdout.write('\x1b[?25h\x1b[?1049l')
        stdin.off('data', onKey)
        if (stdin.isTTY) stdin.setRawMode(false)
        stdin.pause()
      }
    })
}
