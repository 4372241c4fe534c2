import type { ServerResponse } from 'node:http'

/**
 * One Server-Sent Events client with backpressure. While the socket has not drained (write()
 * returned false) new frames are not queued: only the newest one is kept and written on 'drain'.
 * A slow browser therefore sees the latest state, and the server never buffers more than one
 * frame per client beyond what the kernel holds.
 */
export class SseClient {
  readonly res: ServerResponse
  #draining = false
  #pending: string | null = null
  /** Frames replaced by a newer one before they could be written (slow client). */
  dropped = 0
  written = 0

  constructor(res: ServerResponse) {
    this.res = res
    res.on('drain', () => {
      this.#draining = false
      const next = this.#pending
      this.#pending = null
      if (next !== null) this.#write(next)
    })
  }

  get closed(): boolean {
    return this.res.destroyed || this.res.writableEnded
  }

  /** Send one event; while the client is slow, replaces the frame waiting for 'drain'. */
  send(id: number, data: string, event?: string): void {
    if (this.closed) return
    const frame = `${event ? `event: ${event}\n` : ''}id: ${id}\ndata: ${data}\n\n`
    if (this.#draining) {
      if (this.#pending !== null) this.dropped++
      this.#pending = frame
      return
    }
    this.#write(frame)
  }

  /** A frame that must not be dropped (the history sent on connect): written even when slow. */
  sendNow(id: number, data: string, event?: string): void {
    if (this.closed) return
    this.#write(`${event ? `event: ${event}\n` : ''}id: ${id}\ndata: ${data}\n\n`)
  }

  #write(frame: string): void {
    this.written++
    if (!this.res.write(frame)) this.#draining = true
  }

  end(): void {
    if (!this.closed) this.res.end()
  }
}
