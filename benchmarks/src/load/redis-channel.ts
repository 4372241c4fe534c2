import { Redis } from 'ioredis'
import type { BodyItem } from './bodies.ts'
import type { Channel, Sink } from './channel.ts'

/**
 * A Redis Streams producer connection: one XADD per frame, pipelined (ioredis writes each command
 * as it is issued and matches replies in order; auto-pipelining coalesces a tick's commands into
 * one write), at most `window` unanswered per connection. With `appendfsync always` Redis replies
 * only after the AOF write is fsynced, so a reply is a durable acknowledgement.
 * kv bodies (bodies.ts `kv-set`) become `SET key value` instead, cycling over the same keys.
 */
export class RedisChannel implements Channel {
  readonly backlog: number[] = []
  backlogHead = 0
  dead = false
  inFlight = 0
  #r: Redis
  #items: BodyItem[]
  #next = 0
  #sink: Sink
  /** Unsettled frames by id → send time (ids, not times: two sends can share a timestamp). */
  #pending = new Map<number, number>()
  #nextId = 0

  private constructor(r: Redis, items: BodyItem[], sink: Sink) {
    this.#r = r
    this.#items = items
    this.#sink = sink
  }

  static async open(o: { host: string; port: number; items: BodyItem[]; sink: Sink }) {
    const r = new Redis({
      host: o.host,
      port: o.port,
      lazyConnect: true,
      enableAutoPipelining: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    })
    await r.connect()
    return new RedisChannel(r, o.items, o.sink)
  }

  send(t0: number): void {
    this.inFlight++
    const id = this.#nextId++
    this.#pending.set(id, t0)
    const item = this.#items[this.#next]!
    if (++this.#next === this.#items.length) this.#next = 0
    const reply =
      item.key === undefined ? this.#r.xadd('bench', '*', 'b', item.body) : this.#r.set(item.key, item.value!)
    reply.then(
      () => {
        this.inFlight--
        this.#pending.delete(id)
        this.#sink.settled(this, t0)
        this.#sink.drained(this)
      },
      (err: Error) => {
        this.inFlight--
        this.#pending.delete(id)
        this.#sink.error(`redis: ${err.message}`)
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
