/**
 * A load-generator child process (forked by coordinator.ts; never imported). It opens its share of
 * the connections, then runs one of two loops until the measurement window ends:
 *
 * - closed loop (`ratePerSec` 0): every connection keeps `window` frames unsettled, sending the
 *   next one as each settles. Latency runs from the actual send.
 * - open loop: frames are scheduled at a fixed rate, round-robin over the connections, whether or
 *   not earlier ones were answered. A frame that finds its connection's window full waits in that
 *   connection's backlog, and its latency still runs from the *scheduled* time, so a stalled
 *   server shows up in the percentiles instead of silently slowing the generator down
 *   (no coordinated omission).
 *
 * Frames scheduled inside the measurement window are recorded into an hdr histogram in µs; those
 * still unsettled at the drain deadline are recorded at their age then and counted as timed out.
 */
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import * as hdr from 'hdr-histogram-js'
import { makeBodies } from './bodies.ts'
import type { Channel, Sink } from './channel.ts'
import type { FromChild, LoadPlan, LoadResult, ToChild } from './messages.ts'
import { MipChannel } from './mip-channel.ts'
import { NatsChannel } from './nats-channel.ts'
import { RedisChannel } from './redis-channel.ts'

const send = (m: FromChild) => new Promise<void>((resolve) => process.send!(m, () => resolve()))

let plan: LoadPlan
let channels: Channel[] = []
const histogram = hdr.build({
  bitBucketSize: 64,
  lowestDiscernibleValue: 1,
  highestTrackableValue: 3_600_000_000,
  numberOfSignificantValueDigits: 3,
  useWebAssembly: false,
})
let errors = 0
const errorSamples: string[] = []
let startAt = 0
let measureStart = 0
let measureEnd = 0
let sending = false
let sentTotal = 0
let settledTotal = 0
let settledInWindow = 0
let measuredFrames = 0
let lastSettleAt = 0

function noteError(message: string): void {
  errors++
  if (errorSamples.length < 5) errorSamples.push(message)
}

function record(t0: number, now: number): void {
  if (t0 >= measureStart && t0 < measureEnd) {
    histogram.recordValue(Math.max(1, Math.round((now - t0) * 1000)))
    measuredFrames++
  }
}

const sink: Sink = {
  settled(_ch, t0) {
    const now = performance.now()
    settledTotal++
    if (now >= measureStart && now < measureEnd) {
      settledInWindow++
      lastSettleAt = now
    }
    record(t0, now)
  },
  drained(ch) {
    refill(ch)
  },
  error: noteError,
}

function quotaLeft(): boolean {
  return plan.maxFrames === 0 || sentTotal < plan.maxFrames
}

function refill(ch: Channel): void {
  if (ch.dead) return
  const { window } = plan
  if (plan.ratePerSec === 0) {
    if (!sending) return
    const now = performance.now()
    while (ch.inFlight < window && quotaLeft()) {
      ch.send(now)
      sentTotal++
    }
  } else {
    const q = ch.backlog
    while (ch.backlogHead < q.length && ch.inFlight < window) {
      ch.send(q[ch.backlogHead++]!)
      sentTotal++
    }
    if (ch.backlogHead > 4096 && ch.backlogHead * 2 > q.length) {
      q.splice(0, ch.backlogHead)
      ch.backlogHead = 0
    }
  }
  ch.flush()
}

async function open(p: LoadPlan): Promise<{ connected: number; connectMs: number }> {
  const bodySpec = p.body ?? { kind: 'random' }
  const t = performance.now()
  const opened: Channel[] = new Array(p.connections)
  let next = 0
  const one = async (i: number) => {
    const index = p.firstConnection + i
    const host = p.host
    const items = makeBodies(bodySpec, p.bodyBytes, index)
    const body = items[0]!.body
    if (p.kind === 'mip') {
      const localAddress = p.localAddresses.length
        ? p.localAddresses[index % p.localAddresses.length]
        : undefined
      return MipChannel.open({
        host,
        port: p.port,
        ...(localAddress ? { localAddress } : {}),
        module: `bench-${index}`,
        token: p.token ?? '',
        bodies: items.map((x) => x.body),
        stream: p.stream ?? 'bench',
        tsSpreadMs: p.tsSpreadMs ?? 0,
        recordsPerFrame: p.recordsPerFrame,
        window: p.window,
        sink,
        handshakeTimeoutMs: 30_000,
      })
    }
    if (p.kind === 'nats')
      return NatsChannel.open({ host, port: p.port, body, sink, index, mode: p.natsPublish })
    return RedisChannel.open({ host, port: p.port, items, sink })
  }
  const lanes = Array.from({ length: Math.min(p.connectConcurrency, p.connections) }, async () => {
    for (let i = next++; i < p.connections; i = next++) {
      try {
        opened[i] = await one(i)
      } catch (err) {
        noteError(`connect: ${(err as Error).message}`)
      }
    }
  })
  await Promise.all(lanes)
  channels = opened.filter(Boolean)
  return { connected: channels.length, connectMs: performance.now() - t }
}

async function run(startAtWallMs: number): Promise<LoadResult> {
  const p = plan
  startAt = performance.now() + (startAtWallMs - Date.now())
  measureStart = startAt + p.warmupMs
  measureEnd = measureStart + p.measureMs
  const wait = startAt - performance.now()
  if (wait > 0) await sleep(wait)

  if (p.ratePerSec === 0) {
    sending = true
    for (const ch of channels) refill(ch)
    // A frame quota (maxFrames) ends the run early, once everything is sent.
    for (let now = performance.now(); now < measureEnd; now = performance.now()) {
      if (!quotaLeft()) break
      await sleep(Math.min(50, measureEnd - now))
    }
    sending = false
  } else {
    const perMs = p.ratePerSec / 1000
    let scheduled = 0
    const touched = new Set<Channel>()
    const n = channels.length
    while (n > 0) {
      const now = Math.min(performance.now(), measureEnd)
      // Frames whose scheduled time has come: k = 0 … floor(elapsed·rate). Without the +1 every
      // frame left one interval late (6.4 ms at 156 frames/s per child, the s3 rows), and that
      // interval was in every latency, since it runs from the scheduled time.
      const due = Math.floor((now - startAt) * perMs) + 1
      while (scheduled < due && quotaLeft()) {
        const ch = channels[scheduled % n]!
        ch.backlog.push(startAt + scheduled / perMs)
        touched.add(ch)
        scheduled++
      }
      for (const ch of touched) refill(ch)
      touched.clear()
      if (now >= measureEnd) break
      await sleep(1)
    }
  }

  // Drain: wait for what is outstanding, bounded.
  const drainEnd = performance.now() + p.drainMs
  const busy = () => channels.some((c) => !c.dead && (c.inFlight > 0 || c.backlogHead < c.backlog.length))
  while (busy() && performance.now() < drainEnd) await sleep(10)
  const now = performance.now()
  let timedOut = 0
  for (const ch of channels) {
    for (const t0 of [...ch.unsettled(), ...ch.backlog.slice(ch.backlogHead)]) {
      timedOut++
      record(t0, now)
    }
  }
  return {
    measuredFrames,
    settledInWindow,
    settledTotal,
    sentTotal,
    timedOut,
    errors,
    errorSamples,
    histogram: hdr.encodeIntoCompressedBase64(histogram),
    // A quota run ends before its nominal window: its throughput divides by the time it took.
    windowMs: p.maxFrames > 0 ? Math.max(1, lastSettleAt - measureStart) : p.measureMs,
    connected: channels.length,
    connectMs: 0,
  }
}

process.on('message', (msg: ToChild) => {
  if (msg.code === 'START') {
    plan = msg.plan
    open(plan).then(
      ({ connected, connectMs }) => send({ code: 'READY', connected, connectMs, errors, errorSamples }),
      (err: Error) => send({ code: 'FAILED', message: err.message }),
    )
  } else if (msg.code === 'GO') {
    run(msg.startAtMs).then(
      async (result) => {
        await send({ code: 'DONE', result })
        for (const ch of channels) ch.close()
        process.exit(0)
      },
      async (err: Error) => {
        await send({ code: 'FAILED', message: err.stack ?? err.message })
        process.exit(1)
      },
    )
  } else if (msg.code === 'ABORT') {
    for (const ch of channels) ch.close()
    process.exit(0)
  }
})
process.on('disconnect', () => process.exit(0))
