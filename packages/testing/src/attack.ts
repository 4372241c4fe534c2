/**
 * The memory attacks of issue 11 (items 1, 2, 4) as one driver, for the bounded CI test
 * (packages/engine/test/attack.test.ts) and the benchmark scenario (benchmarks/src/scenarios/attack.ts):
 *
 * - `oversize`: before HELLO_OK, a frame header announcing far more than a HELLO, then part of it.
 *   The server must answer FRAME_TOO_LARGE at the header instead of buffering (it once allocated
 *   the announced size: 2,000 such sockets took 2.9 GB).
 * - `helloPartial`: before HELLO_OK, part of a HELLO-sized frame, then silence until the handshake
 *   timeout. Legal bytes that the server must hold: they count against the partial-frame budget.
 * - `partialData`: authenticated, part of a large DATA frame, never finished (partial-frame budget;
 *   the newest holders are shed with OVERLOADED).
 * - `deaf`: authenticated, floods PINGs (and some DATA) and never reads the PONGs/ACKs. The server's
 *   unsent output is budgeted; a socket over its share for a second is closed with OVERLOADED. A
 *   deaf client cannot see that ERROR (it is queued behind what it never read), so the server's
 *   `stats().connections.shedOutput` is the evidence, not the outcome recorded here.
 *
 * Each attacker connects from `localAddresses` (round-robin), so that the per-address throttle it
 * triggers does not refuse a well-behaved client on 127.0.0.1. With `sustain`, a connection the
 * server closed is replaced by a new one of the same kind until `stop()`: a standing attack for a
 * benchmark rather than a single wave.
 */
import type { Socket } from 'node:net'
import {
  decodeNackOrError,
  encodeData,
  encodeFrame,
  encodePing,
  FrameType,
  MAX_HELLO_PAYLOAD,
} from '@module-ingest/protocol'
import { MipSocket } from './mip-socket.ts'

export type AttackKind = 'oversize' | 'helloPartial' | 'partialData' | 'deaf'

export interface AttackOptions {
  port: number
  host?: string
  /** A token accepted for any `attack-*` module with write access to `attack.*`. */
  token: string
  /** Connections of each kind (0 = none). */
  oversize?: number
  helloPartial?: number
  partialData?: number
  deaf?: number
  /**
   * Bytes of its announced 1 MiB an `oversize` socket sends after the header. Default 64 KiB; send
   * nearly all of it to measure memory: a decoder that allocates the announced size only makes RSS
   * grow as the bytes arrive and touch the pages.
   */
  oversizeSendBytes?: number
  /** Announced DATA payload of a `partialData` frame; this much minus 1 KiB is sent. Default 900 000. */
  partialDataBytes?: number
  /** Bytes of PINGs (and DATA, one frame in 64) each `deaf` connection writes. Default 8 MiB. */
  deafBytes?: number
  /** Source addresses (e.g. 127.0.0.2 …); default the system's choice. */
  localAddresses?: string[]
  /** Replace connections the server closed, until stop(). */
  sustain?: boolean
  /** With `sustain`, how long a replacement waits after its predecessor closed. Default 1000. */
  sustainDelayMs?: number
  /** Connections opened at once. Default 32. */
  concurrency?: number
}

/**
 * What each kind's connections saw, by outcome: an MIP/1 ERROR code's number, `closed` (closed
 * without an ERROR), `open` (still open at stop), `connect-failed`, or `unread` (deaf: never reads,
 * so its outcome is unknown here).
 */
export type AttackOutcomes = Record<AttackKind, Record<string, number>>

export interface Attack {
  /** Resolves once every first-wave connection has sent its attack. */
  readonly ready: Promise<void>
  outcomes(): AttackOutcomes
  /** Connections opened so far (replacements included). */
  opened(): number
  /** Close every attacking socket (and stop replacing them). */
  stop(): Promise<void>
}

const MiB = 1024 * 1024

export function startAttack(o: AttackOptions): Attack {
  const host = o.host ?? '127.0.0.1'
  const addrs = o.localAddresses ?? []
  const outcomes: AttackOutcomes = { oversize: {}, helloPartial: {}, partialData: {}, deaf: {} }
  const live = new Set<Socket>()
  let stopped = false
  let opened = 0
  let nextAddr = 0
  let nextModule = 0
  const count = (kind: AttackKind, outcome: string) => {
    outcomes[kind][outcome] = (outcomes[kind][outcome] ?? 0) + 1
  }
  const localAddress = () => (addrs.length ? addrs[nextAddr++ % addrs.length] : undefined)

  /** One attacking connection; resolves when its attack is sent, `done` when it is over. */
  async function one(kind: AttackKind): Promise<{ done: Promise<void> }> {
    let sock: MipSocket
    try {
      sock = await MipSocket.open(o.port, host, localAddress())
    } catch {
      count(kind, 'connect-failed')
      return { done: Promise.resolve() }
    }
    if (stopped) {
      sock.close()
      return { done: Promise.resolve() }
    }
    opened++
    live.add(sock.socket)
    const closed = new Promise<void>((r) => sock.socket.once('close', () => r()))
    void closed.then(() => live.delete(sock.socket))
    try {
      if (kind === 'oversize' || kind === 'helloPartial') {
        const announced = kind === 'oversize' ? MiB : MAX_HELLO_PAYLOAD
        const header = encodeFrame(FrameType.HELLO, 0n, Buffer.alloc(0)).subarray(0, 20)
        header.writeUInt32BE(announced, 8)
        // Two chunks: the decoder once allocated the announced size when a second chunk arrived.
        sock.write(header)
        await new Promise((r) => setTimeout(r, 10))
        const n = kind === 'oversize' ? (o.oversizeSendBytes ?? 64 * 1024) : announced - 1
        sock.write(Buffer.alloc(Math.min(announced - 1, n), 0x41))
      } else {
        await sock.hello({
          module: `attack-${kind === 'deaf' ? 'deaf' : 'partial'}-${nextModule++}`,
          token: o.token,
        })
        if (kind === 'partialData') {
          const n = o.partialDataBytes ?? 900_000
          const frame = encodeData(1n, { stream: 'attack.partial', ts: 0, body: Buffer.alloc(n, 0x42) })
          sock.write(frame.subarray(0, frame.byteLength - 1024))
        } else {
          sock.socket.pause() // never reads again
          writeDeaf(sock, o.deafBytes ?? 8 * MiB)
        }
      }
    } catch {
      // The server may close first (shed, throttled): the outcome below says how.
    }
    const done = (async () => {
      if (kind === 'deaf') {
        await closed
        return count(kind, 'unread')
      }
      // The first frame after the attack: an ERROR is the server's coded answer.
      for (;;) {
        let f: Awaited<ReturnType<MipSocket['next']>>
        try {
          f = await sock.next(24 * 3600_000)
        } catch {
          return count(kind, stopped ? 'open' : 'closed')
        }
        if (f.type === FrameType.ERROR) return count(kind, String(decodeNackOrError(f.payload).code))
      }
    })()
    return { done }
  }

  /** Keep `n` connections of a kind going (once, or replaced while `sustain`). */
  async function lane(kind: AttackKind, n: number, started: Promise<void>[]): Promise<void> {
    const gate = semaphore(o.concurrency ?? 32)
    for (let i = 0; i < n; i++) {
      started.push(
        gate(async () => {
          let { done } = await one(kind)
          void (async () => {
            while (o.sustain) {
              await done
              if (stopped) return
              await new Promise((r) => setTimeout(r, o.sustainDelayMs ?? 1000))
              if (stopped) return
              ;({ done } = await one(kind))
            }
          })()
        }),
      )
    }
  }

  const started: Promise<void>[] = []
  for (const kind of ['oversize', 'helloPartial', 'partialData', 'deaf'] as const)
    void lane(kind, o[kind] ?? 0, started)
  const ready = Promise.all(started).then(() => {})

  return {
    ready,
    outcomes: () => structuredClone(outcomes),
    opened: () => opened,
    async stop() {
      stopped = true
      await ready
      const all = [...live]
      for (const s of all) s.destroy()
      await new Promise((r) => setImmediate(r))
    },
  }
}

/** PINGs with one DATA in 64, `bytes` in all, written at once (the kernel and Node buffer them). */
function writeDeaf(sock: MipSocket, bytes: number): void {
  const chunk: Buffer[] = []
  for (let i = 0; i < 64; i++) {
    chunk.push(
      i === 0
        ? encodeData(0n, { stream: 'attack.deaf', ts: 0, body: Buffer.alloc(64, 0x43) })
        : encodePing(BigInt(i), Buffer.alloc(64, i)),
    )
  }
  // DATA frames carry seq 0 here and are NACKed: the NACKs are output the client never reads too,
  // and nothing attacker-sent lands in the log.
  const block = Buffer.concat(chunk)
  const blocks = Math.max(1, Math.ceil(bytes / block.byteLength))
  const all = Buffer.concat(Array.from({ length: Math.min(blocks, 256) }, () => block))
  for (let written = 0; written < bytes; written += all.byteLength) sock.write(all)
}

/** At most `n` of the returned function's tasks run at once. */
function semaphore(n: number): (task: () => Promise<void>) => Promise<void> {
  let running = 0
  const waiting: Array<() => void> = []
  return async (task) => {
    if (running >= n) await new Promise<void>((r) => waiting.push(r))
    running++
    try {
      await task()
    } finally {
      running--
      waiting.shift()?.()
    }
  }
}
