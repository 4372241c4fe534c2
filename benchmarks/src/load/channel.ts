/**
 * One connection of the load generator, whatever it speaks. The generator loop only sees this:
 * `send(t0)` queues one frame whose latency clock starts at `t0` (the scheduled send time in
 * open-loop runs, the actual one in closed-loop runs), `flush()` hands queued bytes to the socket,
 * and the channel reports each settled frame back through `Sink.settled(t0)`.
 */
export interface Sink {
  /** One frame settled (durably acknowledged); `t0` is what `send` was given. */
  settled(ch: Channel, t0: number): void
  /** After a burst of settlements on `ch` (refill point). */
  drained(ch: Channel): void
  error(message: string): void
}

export interface Channel {
  /** Frames sent and not yet settled. */
  readonly inFlight: number
  /** Open-loop backlog: scheduled send times not yet sent because the window was full. */
  readonly backlog: number[]
  /** backlog read position (the array is compacted now and then). */
  backlogHead: number
  readonly dead: boolean
  send(t0: number): void
  flush(): void
  /** Send times of frames still unsettled (for timed-out accounting). */
  unsettled(): number[]
  close(): void
}
