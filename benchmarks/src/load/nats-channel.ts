import { type JetStreamClient, jetstream } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import type { Channel, Sink } from './channel.ts'

/**
 * A JetStream publisher connection: `js.publish` per frame, PubAck awaited, at most `window`
 * unacknowledged per connection: the same contract as a MIP/1 connection with the same window.
 * The client library batches outgoing protocol lines itself, so flush() has nothing to do.
 */
export class NatsChannel implements Channel {
  readonly backlog: number[] = []
  backlogHead = 0
  dead = false
  inFlight = 0
  #nc: NatsConnection
  #js: JetStreamClient
  #body: Buffer
  #sink: Sink
  /** Unsettled frames by id → send time (ids, not times: two sends can share a timestamp). */
  #pending = new Map<number, number>()
  #nextId = 0
  #subject: string

  private constructor(nc: NatsConnection, body: Buffer, sink: Sink, subject: string) {
    this.#nc = nc
    this.#js = jetstream(nc, { timeout: 30_000 })
    this.#body = body
    this.#sink = sink
    this.#subject = subject
  }

  static async open(o: { host: string; port: number; body: Buffer; sink: Sink; index: number }) {
    const nc = await connect({
      servers: `${o.host}:${o.port}`,
      reconnect: false,
      name: `mi-bench-${o.index}`,
    })
    return new NatsChannel(nc, o.body, o.sink, `bench.c${o.index}`)
  }

  send(t0: number): void {
    this.inFlight++
    const id = this.#nextId++
    this.#pending.set(id, t0)
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
