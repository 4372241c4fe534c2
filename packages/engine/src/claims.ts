/**
 * One live session per module, across parser workers.
 *
 * A parser that verified a HELLO asks for the module (CLAIM). The claim is granted only after the
 * module's previous host — the worker that last held a session of it — has ended that session
 * (SUPERSEDED) and pushed a barrier through its writer ring, and the writer has made everything
 * before the barrier durable. The writer then reports the module's exact high-water mark, which
 * becomes HELLO_OK's seq. Claims of one module are served one at a time, in arrival order.
 *
 * Memory is bounded (issue 11.3): the last host is remembered for at most `maxTrackedModules`
 * modules (least recently claimed forgotten first). A claim for a module whose host was forgotten
 * sends its barrier through every worker and is granted once all are durable: slower for that one
 * claim, equally safe.
 */
import type { ParserCommand } from './messages.ts'

interface Claim {
  module: string
  connId: number
  worker: number
}

interface InFlight {
  claim: Claim
  /** Barriers still to come back (1, or one per worker when the host was forgotten). */
  waiting: number
  hwm: bigint
}

export interface ClaimOptions {
  /** Parser workers (barriers go to all of them for a module whose host was forgotten). */
  workers: number
  /** Modules whose last host is remembered; default 100 000. */
  maxTrackedModules?: number
}

export class ClaimCoordinator {
  readonly #lastHost = new Map<string, number>()
  readonly #queues = new Map<string, Claim[]>()
  readonly #inFlight = new Map<number, InFlight>()
  readonly #send: (worker: number, cmd: ParserCommand) => void
  readonly #workers: number
  readonly #maxTracked: number
  #forgotten = false
  #nextToken = 1

  constructor(send: (worker: number, cmd: ParserCommand) => void, options: ClaimOptions = { workers: 1 }) {
    this.#send = send
    this.#workers = options.workers
    this.#maxTracked = options.maxTrackedModules ?? 100_000
  }

  claim(claim: Claim): void {
    const queue = this.#queues.get(claim.module)
    if (queue) {
      queue.push(claim)
      return
    }
    this.#queues.set(claim.module, [claim])
    this.#start(claim)
  }

  /** The writer made the barrier `token` durable; `hwm` is the module's high-water mark. */
  barrier(token: number, hwm: bigint): void {
    const flight = this.#inFlight.get(token)
    if (!flight) return
    this.#inFlight.delete(token)
    if (hwm > flight.hwm) flight.hwm = hwm
    if (--flight.waiting > 0) return
    const { claim } = flight
    this.#remember(claim.module, claim.worker)
    this.#send(claim.worker, { code: 'CLAIMED', module: claim.module, connId: claim.connId, hwm: flight.hwm })
    const queue = this.#queues.get(claim.module)!
    queue.shift()
    if (queue.length === 0) this.#queues.delete(claim.module)
    else this.#start(queue[0]!)
  }

  get pending(): number {
    return this.#inFlight.size
  }

  /** Modules whose last host is remembered (bounded by maxTrackedModules). */
  get trackedModules(): number {
    return this.#lastHost.size
  }

  #remember(module: string, worker: number): void {
    this.#lastHost.delete(module) // re-insert: Map order is least recently claimed first
    this.#lastHost.set(module, worker)
    while (this.#lastHost.size > this.#maxTracked) {
      this.#lastHost.delete(this.#lastHost.keys().next().value!)
      this.#forgotten = true
    }
  }

  #start(claim: Claim): void {
    // With no previous host (first session since start), the claimant's own ring carries the
    // barrier: it orders nothing older, but still yields the durable high-water mark. Once any
    // host was forgotten, "unknown" may mean "forgotten": then every worker carries one.
    const known = this.#lastHost.get(claim.module)
    const hosts =
      known !== undefined
        ? [known]
        : this.#forgotten
          ? Array.from({ length: this.#workers }, (_, i) => i)
          : [claim.worker]
    const flight: InFlight = { claim, waiting: hosts.length, hwm: 0n }
    for (const host of hosts) {
      const token = this.#nextToken
      this.#nextToken = (this.#nextToken % 0xffffffff) + 1
      this.#inFlight.set(token, flight)
      this.#send(host, { code: 'RELEASE', module: claim.module, token, supersede: true })
    }
  }
}
