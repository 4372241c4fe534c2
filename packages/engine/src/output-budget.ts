/**
 * The global budget for unsent output (ACKs, PONGs, ERRORs) across every socket.
 *
 * The per-socket cap (connections.ts MAX_UNSENT_BYTES) only pauses reading; what is already in
 * the rings still turns into output, so many sockets that never read can hold far more than the
 * cap each. Every OUTPUT_SWEEP_MS this sums the real unsent bytes; over budget, a connection above
 * budget/connections for OUTPUT_GRACE_MS is shed (the caller closes it with ERROR OVERLOADED).
 */
import type { Socket } from 'node:net'

/** How often unsent output is summed against the budget. */
export const OUTPUT_SWEEP_MS = 250
/** A connection over its share of the budget for this long (while over budget) is shed. */
const OUTPUT_GRACE_MS = 1000

export interface OutputConn {
  socket: Socket
  /** Already closing: never shed twice. */
  ending: boolean
  /** When it was first seen over its share while the budget was exceeded (0 = not). */
  overShareSince: number
}

export class OutputBudget<C extends OutputConn> {
  #unsentBytes = 0
  #shed = 0
  readonly #timer: ReturnType<typeof setInterval>

  /**
   * @param budget bytes all sockets may hold unsent together
   * @param conns the live connections, read at each sweep
   * @param shed closes a connection that stayed over its share
   */
  constructor(budget: number, conns: () => ReadonlyMap<unknown, C>, shed: (conn: C) => void) {
    this.#timer = setInterval(() => this.#sweep(budget, conns(), shed), OUTPUT_SWEEP_MS)
    this.#timer.unref()
  }

  /** Unsent output bytes summed at the last sweep. */
  get unsentBytes(): number {
    return this.#unsentBytes
  }

  /** Connections shed for staying over their share. */
  get shed(): number {
    return this.#shed
  }

  stop(): void {
    clearInterval(this.#timer)
  }

  #sweep(budget: number, conns: ReadonlyMap<unknown, C>, shed: (conn: C) => void): void {
    let total = 0
    for (const conn of conns.values()) total += conn.socket.writableLength
    this.#unsentBytes = total
    const now = Date.now()
    if (total <= budget) {
      for (const conn of conns.values()) conn.overShareSince = 0
      return
    }
    const share = budget / Math.max(1, conns.size)
    for (const conn of conns.values()) {
      if (conn.ending || conn.socket.writableLength <= share) {
        conn.overShareSince = 0
        continue
      }
      if (conn.overShareSince === 0) conn.overShareSince = now
      else if (now - conn.overShareSince >= OUTPUT_GRACE_MS) {
        this.#shed++
        shed(conn)
      }
    }
  }
}
