/**
 * One live session per module, across parser workers.
 *
 * A parser that verified a HELLO asks for the module (CLAIM). The claim is granted only after the
 * module's previous host — the worker that last held a session of it — has ended that session
 * (SUPERSEDED) and pushed a barrier through its writer ring, and the writer has made everything
 * before the barrier durable. The writer then reports the module's exact high-water mark, which
 * becomes HELLO_OK's seq. Claims of one module are served one at a time, in arrival order.
 */
import type { ParserCommand } from './messages.ts'

interface Claim {
  module: string
  connId: number
  worker: number
}

export class ClaimCoordinator {
  readonly #lastHost = new Map<string, number>()
  readonly #queues = new Map<string, Claim[]>()
  readonly #inFlight = new Map<number, Claim>()
  readonly #send: (worker: number, cmd: ParserCommand) => void
  #nextToken = 1

  constructor(send: (worker: number, cmd: ParserCommand) => void) {
    this.#send = send
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
    const claim = this.#inFlight.get(token)
    if (!claim) return
    this.#inFlight.delete(token)
    this.#lastHost.set(claim.module, claim.worker)
    this.#send(claim.worker, { code: 'CLAIMED', module: claim.module, connId: claim.connId, hwm })
    const queue = this.#queues.get(claim.module)!
    queue.shift()
    if (queue.length === 0) this.#queues.delete(claim.module)
    else this.#start(queue[0]!)
  }

  get pending(): number {
    return this.#inFlight.size
  }

  #start(claim: Claim): void {
    const token = this.#nextToken
    this.#nextToken = (this.#nextToken % 0xffffffff) + 1
    this.#inFlight.set(token, claim)
    // With no previous host (first session since start), the claimant's own ring carries the
    // barrier: it orders nothing older, but still yields the durable high-water mark.
    const host = this.#lastHost.get(claim.module) ?? claim.worker
    this.#send(host, { code: 'RELEASE', module: claim.module, token, supersede: true })
  }
}
