import { type JetStreamClient, jetstream } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import type { Channel, Sink } from './channel.ts'

/**
 * A JetStream publisher connection, at most `window` PubAcks outstanding: the same contract as a
 * MIP/1 connection with the same window. Two ways to publish (`--nats-publish`):
 *
 * - `js` (default): `js.publish()` from @nats-io/jetstream, awaiting each PubAck. This is what an
 *   application writes, but the library does per-message request bookkeeping (a promise, a timer,
 *   a muxed-inbox entry) that costs more generator CPU than the server spends on the message.
 * - `raw` (target `nats-js-lean`): the same wire exchange done lean: a core publish with a reply subject
 *   `<inbox>.<id>` and one wildcard subscription per connection collecting PubAcks, like our raw
 *   MIP/1 frames. JetStream cannot tell the two apart.
 */
export type NatsPublishMode = 'js' | 'raw'

const kE = 0x65 // 'e': a PubAck is {"stream":…}, a failure {"error":…}

export class NatsChannel implements Channel {
  readonly backlog: number[] = []
  backlogHead = 0
  dead = false
  inFlight = 0
  #nc: NatsConnection
  #js: JetStreamClient
  #mode: NatsPublishMode
  #body: Buffer
  #sink: Sink
  /** Unsettled frames by id → send time (ids, not times: two sends can share a timestamp). */
  #pending = new Map<number, number>()
  #nextId = 0
  #subject: string
  #inbox: string

  private constructor(nc: NatsConnection, mode: NatsPublishMode, body: Buffer, sink: Sink, index: number) {
    this.#nc = nc
    this.#js = jetstream(nc, { timeout: 30_000 })
    this.#mode = mode
    this.#body = body
    this.#sink = sink
    this.#subject = `bench.c${index}`
    this.#inbox = `_INBOX.bench${index}.${process.pid}`
    if (mode === 'raw') {
      const prefix = this.#inbox.length + 1
      nc.subscribe(`${this.#inbox}.*`, {
        callback: (err, msg) => {
          if (err) return this.#sink.error(`subscription: ${err.message}`)
          const id = Number(msg.subject.slice(prefix))
          const t0 = this.#pending.get(id)
          if (t0 === undefined) return
          this.#pending.delete(id)
          this.inFlight--
          if (msg.data[2] === kE) this.#sink.error(`PubAck error: ${msg.string()}`)
          else this.#sink.settled(this, t0)
          this.#sink.drained(this)
        },
      })
    }
  }

  static async open(o: {
    host: string
    port: number
    body: Buffer
    sink: Sink
    index: number
    mode: NatsPublishMode
  }) {
    const nc = await connect({
      servers: `${o.host}:${o.port}`,
      reconnect: false,
      name: `mi-bench-${o.index}`,
    })
    return new NatsChannel(nc, o.mode, o.body, o.sink, o.index)
  }

  send(t0: number): void {
    this.inFlight++
    const id = this.#nextId++
    this.#pending.set(id, t0)
    if (this.#mode === 'raw') {
      this.#nc.publish(this.#subject, this.#body, { reply: `${this.#inbox}.${id}` })
      return
    }
    this.#js.publish(this.#subject, this.#body).then(
      () => this.#settle(id, t0),
      (err: Error) => {
        this.inFlight--
        this.#pending.delete(id)
        this.#sink.error(`publish: ${err.message}`)
      },
    )
  }

  #settle(id: number, t0: number): void {
    this.inFlight--
    this.#pending.delete(id)
    this.#sink.settled(this, t0)
    this.#sink.drained(this)
  }

  flush(): void {}

  unsettled(): number[] {
    return [...this.#pending.values()]
  }

  close(): void {
    this.dead = true
    void this.#nc.close().catch(() => {})
  }
}
