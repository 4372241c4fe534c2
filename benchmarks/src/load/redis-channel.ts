import { Redis } from 'ioredis'
import type { Channel, Sink } from './channel.ts'

/**
 * A Redis Streams producer connection: one XADD per frame, pipelined (ioredis writes each command
 * as it is issued and matches replies in order; auto-pipelining coalesces a tick's commands into
 * one write), at most `window` unanswered per connection. With `appendfsync always` Redis replies
 * only after the AOF write is fsynced, so a reply is a durable acknowledgement.
 */
export class RedisChannel implements Channel {
  readonly backlog: number[] = []
  backlogHead = 0
  dead = false
  inFlight = 0
  #r: Redis
  #body: Buffer
  #sink: Sink
  /** Unsettled frames by id → send time (ids, not times: two sends can share a timestamp). */
  #pending = new Map<number, number>()
  #nextId = 0

  private constructor(r: Redis, body: Buffer, sink: Sink) {
    this.#r = r
    this.#body = body
    this.#sink = sink
  }

  static async open(o: { host: string; port: number; body: Buffer; sink: Sink }) {
    const r = new Redis({
      host: o.host,
      port: o.port,
      lazyConnect: true,
      enableAutoPipelining: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    })
    await r.connect()
    return new RedisChannel(r, o.body, o.sink)
  }

  send(t0: number): void {
    this.inFlight++
    const id = this.#nextId++
    this.#pending.set(id, t0)
    this.#r.xadd('bench', '*', 'b', this.#body).then(
      () => {
        this.inFlight--
        this.#pending.delete(id)
        this.#sink.settled(this, t0)
        this.#sink.drained(this)
      },
      (err: Error) => {
        this.inFlight--
        this.#pending.delete(id)
        this.#sink.error(`xadd: ${err.message}`)
      },
    )
  }

  flush(): void {}

  unsettled(): number[] {
    return [...this.#pending.values()]
  }

  close(): void {
    this.dead = true
    this.#r.disconnect()
  }
}
