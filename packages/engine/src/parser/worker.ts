/**
 * Parser worker entry. Owns a share of the connections: it reads their raw bytes from its inbound
 * ring, runs each Conn's state machine, hands accepted frames to the writer through its writer
 * ring, and turns the writer's durable watermark for this ring into ACKs on the outbound ring.
 *
 * One loop: the worker blocks on its doorbell with Atomics.wait when idle, in bounded sleeps, and
 * yields to its event loop between them and whenever a message rang it (comlink calls and
 * main-thread commands ring the doorbell once posted: engine threads.ts), see IDLE_SLEEP_MS below.
 */
import { getHeapStatistics } from 'node:v8'
import { parentPort, workerData } from 'node:worker_threads'
import { CredentialStore, FailureThrottle } from '@module-ingest/auth'
import { ErrorCode, ProtocolError } from '@module-ingest/protocol'
import { type LoopNext, RingBacklog, RingConsumer, RingProducer, runDoorbellLoop } from '@module-ingest/ring'
import { Metrics } from '@module-ingest/telemetry'
import * as Comlink from 'comlink'
import { Unpackr } from 'msgpackr'
import { unknownMessage } from '../errors.ts'
import { type ConnOpen, In, Out, type ParserCommand, type ParserEvent, W } from '../messages.ts'
import { armHeapGrowth } from '../test-hook.ts'
import { Conn, type SessionHost, type SessionLimits, State } from './session.ts'

export interface ParserInit {
  index: number
  inbound: SharedArrayBuffer
  outbound: SharedArrayBuffer
  toWriter: SharedArrayBuffer
  /** Int32[1]: this worker sleeps on it; main (new bytes) and the writer (durability) ring it. */
  doorbell: Int32Array
  /** Int32[1]: the writer sleeps on it; every parser rings it after publishing to the writer. */
  writerDoorbell: Int32Array
  /** Int32[1]: the main thread sleeps on it for outbound bytes from any parser. */
  mainDoorbell: Int32Array
  /** Int32[parsers]: slot i = number of writer-ring entries of parser i that are durable. */
  acks: SharedArrayBuffer
  /** Int32[parsers]: slot i = entry count at which the log last lost un-synced appends. */
  lost: SharedArrayBuffer
  limits: SessionLimits
  idleTimeoutMs: number
  handshakeTimeoutMs: number
  credentialsFile: string
  control: import('node:worker_threads').MessagePort
}

const init = workerData as ParserInit
const index = init.index
armHeapGrowth(`parser-${index}`)
const { doorbell } = init
const acks = new Int32Array(init.acks)
const lostSlots = new Int32Array(init.lost)
let lost = 0
const inbound = new RingConsumer(init.inbound, { doorbell })
const outbound = new RingProducer(init.outbound, { doorbell: init.mainDoorbell })
const toWriter = new RingProducer(init.toWriter, { doorbell: init.writerDoorbell })
const unpackr = new Unpackr({ useRecords: false })
const credentials = await CredentialStore.load(init.credentialsFile)
/**
 * Failed handshakes seen by this worker, checked at each HELLO. The main thread has the global
 * count and tells every worker (THROTTLE) when an address goes over; this local copy closes the
 * gap until that message arrives, so at most workers × limit guesses get through per window.
 */
const throttle = new FailureThrottle({ maxFailures: init.limits.failedHandshakesPerMinute, windowMs: 60_000 })
const throttledUntil = new Map<string, number>()

const metrics = new Metrics()
const framesIn = metrics.counter('mi_frames_received_total', 'Frames accepted or settled by parsers')
const recordsIn = metrics.counter('mi_records_received_total', 'Records in accepted or settled frames')
const bytesIn = metrics.counter('mi_payload_bytes_received_total', 'Payload bytes of DATA/BATCH frames')
const errors = metrics.counter('mi_protocol_errors_total', 'NACKs and fatal errors sent, by code', ['code'])
const tally = { frames: 0, records: 0, bytes: 0 }
const ratePauses = metrics.counter(
  'mi_rate_limit_pauses_total',
  'Times a socket was paused by a module rate limit',
)
const shed = metrics.counter(
  'mi_connections_shed_total',
  'Connections closed with ERROR OVERLOADED to keep client-controlled memory within limits.memoryBudgetBytes',
  ['reason'],
)
metrics.gauge(
  'mi_partial_frame_bytes',
  'Bytes parser workers hold for partly received frames (budgeted by limits.memoryBudgetBytes)',
  { collect: (g) => g.set(partialBytes) },
)
const ackLatency = metrics.histogram('mi_ack_latency_us', 'Accept-to-ACK latency (durability wait)', {
  unit: 'us',
})

const conns = new Map<number, Conn>()
const sessions = new Map<string, Conn>()
const pendingConns = new Set<Conn>()

/**
 * Writes that did not fit their ring (outbound or writer) yet, in order across both, copied (they
 * may be views into the inbound ring). While any wait, no new input is read.
 */
const overflow = new RingBacklog()
let entries = 0 // writer-ring entries produced, wrapping Int32 (compared by difference)
let durable = 0
let draining = false
/** Until then the main loop sleeps with waitAsync: a message this worker waits for is on its way. */
let expectingMessageUntil = 0
/** Assembly-buffer bytes held by this worker's decoders (its share of the memory budget). */
let partialBytes = 0

/** Re-count `conn`'s decoder memory after it was fed; shed connections when over budget. */
function accountPartial(conn: Conn): void {
  const now = conn.dead ? 0 : conn.decoder.allocatedBytes
  if (conn.dead && conn.decoder.allocatedBytes > 0) conn.decoder.discard(SHED_ERROR)
  partialBytes += now - conn.accountedBytes
  conn.accountedBytes = now
  if (partialBytes > init.limits.partialFrameBudgetBytes) shedPartial()
}

const SHED_ERROR = new ProtocolError(ErrorCode.OVERLOADED, 'connection shed')

/**
 * Over budget: first drop idle assembly buffers (no frame in progress), then end the newest
 * connections holding partial frames with ERROR OVERLOADED. Newest first, so long-lived, well-behaved
 * sessions keep their slot while a burst of new sockets pays for the burst.
 */
function shedPartial(): void {
  const budget = init.limits.partialFrameBudgetBytes
  const all = [...conns.values()]
  for (let i = all.length - 1; i >= 0 && partialBytes > budget; i--) {
    const conn = all[i]!
    if (conn.accountedBytes === 0 || conn.decoder.bufferedBytes > 0) continue
    conn.decoder.trim()
    partialBytes += conn.decoder.allocatedBytes - conn.accountedBytes
    conn.accountedBytes = conn.decoder.allocatedBytes
  }
  for (let i = all.length - 1; i >= 0 && partialBytes > budget; i--) {
    const conn = all[i]!
    if (conn.accountedBytes === 0) continue
    shed.inc({ reason: 'partial-frames' })
    conn.fail(host, ErrorCode.OVERLOADED, 'server memory budget exceeded: too many partly sent frames')
    conn.decoder.discard(SHED_ERROR)
    partialBytes -= conn.accountedBytes
    conn.accountedBytes = 0
  }
}

function write(ring: RingProducer, kind: number, tag: number, parts: Uint8Array[]): void {
  overflow.write(ring, kind, tag, parts)
}

const host: SessionHost = {
  limits: init.limits,
  credentials,
  send(conn, bytes) {
    write(outbound, Out.WRITE, conn.id, [bytes])
  },
  pause(conn, ms) {
    ratePauses.inc()
    const data = Buffer.allocUnsafe(4)
    data.writeUInt32BE(Math.min(ms, 60_000))
    write(outbound, Out.PAUSE, conn.id, [data])
  },
  end(conn, bytes) {
    pendingConns.delete(conn)
    if (sessions.get(conn.module) === conn) sessions.delete(conn.module)
    write(outbound, Out.END, conn.id, [bytes])
  },
  accept(conn, encoded) {
    // tryWrite copies at once, so the encoder's buffers are reused for the next frame (write()
    // copies them when they wait in the overflow queue).
    write(toWriter, W.FRAME, conn.id, encoded)
    entries = (entries + 1) | 0
    return entries
  },
  isDurable(entry) {
    return ((durable - entry) | 0) >= 0
  },
  claim(conn, module) {
    post({ code: 'CLAIM', module, connId: conn.id, worker: index })
    // The answer (CLAIMED) comes as a message: keep the event loop responsive until it is likely in.
    expectingMessageUntil = performance.now() + 1000
  },
  authFailed(conn, reason) {
    throttle.fail(conn.remoteAddress)
    post({ code: 'AUTH_FAILED', connId: conn.id, reason, ...(conn.module ? { module: conn.module } : {}) })
  },
  throttled(conn) {
    const until = throttledUntil.get(conn.remoteAddress)
    if (until !== undefined) {
      if (Date.now() < until) return true
      throttledUntil.delete(conn.remoteAddress)
    }
    return throttle.check(conn.remoteAddress)
  },
  markPending(conn) {
    pendingConns.add(conn)
  },
  countError(code) {
    errors.inc({ code: String(code) }, 1)
  },
  countFrame(records, bytes) {
    // Plain numbers on the hot path; folded into the counters when stats are read.
    tally.frames++
    tally.records += records
    tally.bytes += bytes
  },
}

function post(event: ParserEvent): void {
  parentPort!.postMessage(event)
}

function onInbound(data: Uint8Array, kind: number, tag: number): boolean {
  if (kind === In.DATA) {
    const conn = conns.get(tag)
    if (conn && !draining) {
      conn.receive(host, data)
      if (conn.accountedBytes !== conn.decoder.allocatedBytes || conn.dead) accountPartial(conn)
    }
  } else if (kind === In.OPEN) {
    const open = unpackr.unpack(data) as ConnOpen
    const conn = new Conn(tag, open.remoteAddress, open.tlsIdentity, init.limits.maxFrame)
    conns.set(tag, conn)
    if (draining) conn.fail(host, ErrorCode.SHUTTING_DOWN, 'server is shutting down')
    else conn.welcome(host)
  } else if (kind === In.CLOSE) {
    const conn = conns.get(tag)
    if (conn) {
      conns.delete(tag)
      partialBytes -= conn.accountedBytes
      conn.accountedBytes = 0
      pendingConns.delete(conn)
      if (sessions.get(conn.module) === conn) sessions.delete(conn.module)
      conn.close()
    }
  }
  // Stop at the first record whose output would not fit: backpressure flows to the sockets.
  return overflow.length === 0
}

function pumpDurable(): number {
  const now = Atomics.load(acks, index)
  // Read after the durable count: the writer stores `lost` first, so a new count implies we see it.
  const lostNow = Atomics.load(lostSlots, index)
  if (lostNow !== lost) {
    lost = lostNow
    for (const conn of pendingConns) {
      if (conn.hasPendingUpTo(lost))
        conn.fail(host, ErrorCode.OVERLOADED, 'the server could not make data durable')
    }
  }
  if (now === durable) return 0
  durable = now
  const recordMs = (ms: number) => ackLatency.record(Math.round(ms * 1000))
  for (const conn of pendingConns) {
    conn.drainDurable(host, recordMs)
    if (!conn.hasPending) pendingConns.delete(conn)
  }
  return 1
}

/** End a live session whose credential no longer admits it, and say so in the audit log. */
function revoke(conn: Conn, reason: string): void {
  conn.fail(host, ErrorCode.AUTH_FAILED, `credential ${reason}`)
  post({ code: 'AUTH_REVOKED', connId: conn.id, module: conn.module, reason })
}

function sweepTimers(): void {
  const now = performance.now()
  const wallMs = Date.now()
  for (const conn of conns.values()) {
    const expiresAtMs = conn.identity?.expiresAtMs
    if (conn.state === State.OPEN && expiresAtMs !== undefined && wallMs >= expiresAtMs) {
      // auth README "Live sessions on reload": a session ends when its credential's expiresAt
      // passes, not only when a reload happens to review it. Checked by this sweep (≤ 250 ms late).
      revoke(conn, 'expired')
    } else if (conn.state === State.HANDSHAKE && now - conn.openedAt > init.handshakeTimeoutMs) {
      conn.fail(host, ErrorCode.HANDSHAKE_TIMEOUT, `no HELLO within ${init.handshakeTimeoutMs} ms`)
    } else if (conn.state === State.OPEN && now - conn.lastFrameAt > init.idleTimeoutMs) {
      conn.fail(host, ErrorCode.IDLE_TIMEOUT, `no frame for ${init.idleTimeoutMs} ms`)
    }
  }
}

parentPort!.on('message', (cmd: ParserCommand) => {
  if (cmd.code === 'CLAIMED') {
    const conn = conns.get(cmd.connId)
    if (conn) {
      conn.claimed(host, cmd.hwm)
      if (conn.state === State.OPEN) {
        throttle.succeed(conn.remoteAddress)
        sessions.set(cmd.module, conn)
        post({ code: 'AUTH_OK', connId: conn.id, module: cmd.module })
      }
    }
  } else if (cmd.code === 'OVERLOADED') {
    // Nothing after each session's last ACK counts as accepted; clients resume from HELLO_OK.
    for (const conn of conns.values()) {
      if (conn.state !== State.DEAD)
        conn.fail(host, ErrorCode.OVERLOADED, 'the server cannot make data durable')
    }
  } else if (cmd.code === 'THROTTLE') {
    throttledUntil.set(cmd.ip, Date.now() + cmd.ms)
    // Bounded like the throttle itself: the oldest entries go first.
    if (throttledUntil.size > 10_000) throttledUntil.delete(throttledUntil.keys().next().value!)
  } else if (cmd.code === 'RELEASE') {
    const live = sessions.get(cmd.module)
    if (live && cmd.supersede) live.fail(host, ErrorCode.SUPERSEDED, 'a newer session of this module started')
    sessions.delete(cmd.module)
    const token = Buffer.allocUnsafe(4)
    token.writeUInt32BE(cmd.token)
    write(toWriter, W.BARRIER, 0, [token, Buffer.from(cmd.module, 'latin1')])
    entries = (entries + 1) | 0
  } else unknownMessage('parser command', cmd) // a code nobody handles: crash this worker loudly
  publish()
})

function publish(): void {
  outbound.publish()
  toWriter.publish()
}

/** Control plane (comlink): stats, credential reload, drain. */
const control = {
  stats() {
    framesIn.inc(tally.frames)
    recordsIn.inc(tally.records)
    bytesIn.inc(tally.bytes)
    tally.frames = tally.records = tally.bytes = 0
    return {
      worker: index,
      connections: conns.size,
      sessions: sessions.size,
      inboundRingUsedBytes: inbound.usedBytes,
      overflow: overflow.length,
      /** This worker's V8 heap in use (workers.parserHeapMb caps it). */
      heapUsedBytes: getHeapStatistics().used_heap_size,
      metrics: metrics.snapshot(),
    }
  },
  async reloadCredentials() {
    await credentials.reload()
    // Live sessions whose credential was revoked, disabled or expired end now (docs/security.md).
    for (const conn of conns.values()) {
      if (conn.state !== State.OPEN && conn.state !== State.CLAIMING) continue
      const reason = conn.identity && credentials.isRevokedOrChanged(conn.identity)
      if (reason) revoke(conn, reason)
    }
    publish()
  },
  /**
   * Graceful shutdown: stop taking frames, wait until everything accepted is durable and ACKed,
   * then tell every client SHUTTING_DOWN.
   */
  async drain(timeoutMs: number) {
    draining = true
    const deadline = performance.now() + timeoutMs
    while (performance.now() < deadline && (pendingConns.size > 0 || overflow.length > 0)) {
      await new Promise((r) => setTimeout(r, 2))
    }
    for (const conn of conns.values()) conn.fail(host, ErrorCode.SHUTTING_DOWN, 'server is shutting down')
    publish()
    while (performance.now() < deadline && overflow.length > 0) await new Promise((r) => setTimeout(r, 2))
    return { pending: pendingConns.size }
  },
}
Comlink.expose(control, init.control as unknown as Comlink.Endpoint)
export type ParserControl = typeof control

/**
 * Idle, the worker blocks in Atomics.wait on its doorbell (runDoorbellLoop) for at most
 * IDLE_SLEEP_MS (and gets the event loop every 2 ms when busy). Main-thread commands and comlink
 * calls ring the doorbell, so they do not wait for the sleep to end; the bound is for the
 * connection sweep (heartbeats, idle timeouts: every 250 ms) and costs a wake each time: at 5 ms
 * (200 wakes/s) this thread took ~1.2% of a core on an idle server. While a reply it needs is on its way as a message (CLAIMED
 * after a CLAIM), or while draining, it sleeps with waitAsync instead so that the message is
 * handled at once. Blocked on a full ring it re-checks every millisecond.
 */
const IDLE_SLEEP_MS = 50
const sleepIdle: LoopNext = { sleepMs: IDLE_SLEEP_MS }
const sleepIdleAsync: LoopNext = { sleepMs: IDLE_SLEEP_MS, async: true }
const sleepFull: LoopNext = { sleepMs: 1 }
const sleepFullAsync: LoopNext = { sleepMs: 1, async: true }
let lastSweep = performance.now()
await runDoorbellLoop(
  doorbell,
  () => {
    let work = 0
    if (overflow.flush()) {
      work += inbound.read(onInbound, 1024)
      inbound.release()
    }
    work += pumpDurable()
    publish()
    const now = performance.now()
    if (now - lastSweep > 250) {
      lastSweep = now
      sweepTimers()
      publish()
    }
    const full = overflow.length > 0
    if (work > 0 && !full) return 'again'
    const async = draining || now < expectingMessageUntil
    if (full) return async ? sleepFullAsync : sleepFull
    return async ? sleepIdleAsync : sleepIdle
  },
  { blocking: true },
)
