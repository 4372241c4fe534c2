import {
  type Logger,
  type SubscriberMetrics,
  type SubscriberRecord,
  sleep,
} from '@module-ingest/subscriber-sdk'
import { DeliverPolicy, type JetStreamClient, jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import type { NatsSubscriberConfig } from './config.ts'
import { connectionOptions } from './connection.ts'
import { MI_ERR_NATS_CLOSED, MI_ERR_NATS_PUBLISH_FAILED, MI_ERR_NATS_UNAVAILABLE } from './errors.ts'
import { headersOf, msgIdOf } from './message.ts'
import { ensureStream } from './stream.ts'
import { compileSubject, type SubjectMapper } from './subject.ts'

export interface BatchResult {
  /** Records JetStream stored for this call. */
  stored: number
  /** Records JetStream reported as duplicates (already stored under the same Nats-Msg-Id). */
  duplicates: number
  /** Records skipped because an earlier, failed attempt of this batch already had them acked. */
  skipped: number
}

export interface ForwarderDeps {
  logger: Logger
  metrics: SubscriberMetrics
}

/**
 * The engine behind the `nats` subscriber: one NATS connection, a JetStream client, and
 * pipelined, bounded publishing of record batches. Not exported from the package root.
 *
 *   handle(batch) ─► usable()? ─► publish × N (≤ maxInFlight awaiting PubAck) ─► all acked ─► resolve
 *                       │                        any failure ─► wait for the rest ─► reject
 *                       └─ not connected after unavailableWaitMs ─► reject (runtime backs off)
 */
export class NatsForwarder {
  readonly config: NatsSubscriberConfig
  #deps: ForwarderDeps
  #subject: SubjectMapper
  #nc: NatsConnection | null = null
  #js: JetStreamClient | null = null
  #connected = false
  #streamReady: boolean
  #closing = false
  #lastProblem = 'not connected yet'
  #stopConnecting = new AbortController()
  #connecting: Promise<void> | null = null
  // Woken on every change of #connected / #streamReady; handle() waits on it, bounded.
  #changed = Promise.withResolvers<void>()
  // Msg ids that JetStream acked during the last *failed* attempt: a retry skips them, so an outage
  // longer than the duplicate window cannot turn the retry's re-publishes into stored duplicates.
  #ackedBeforeFailure = new Set<string>()
  // Publishes of the last failed attempt whose outcome is unknown (the PubAck never came: timeout,
  // lost link, leader failover): JetStream may have stored them. Before the retry, the stream itself
  // is asked (resolveDoubt), so the answer does not depend on the duplicate window still covering
  // them — an uplink down for an hour must not turn them into stored duplicates.
  #inDoubt: InDoubt | null = null

  constructor(config: NatsSubscriberConfig, deps: ForwarderDeps) {
    this.config = config
    this.#deps = deps
    this.#subject = compileSubject(config.subject, { prefix: config.subjectPrefix, source: config.source })
    this.#streamReady = !config.createStream
  }

  get connected(): boolean {
    return this.#connected
  }

  /** Start connecting in the background; retries forever until close(). */
  start(): void {
    this.#connecting ??= this.#connectLoop()
  }

  async #connectLoop(): Promise<void> {
    const { logger, metrics } = this.#deps
    const signal = this.#stopConnecting.signal
    for (let attempt = 0; !signal.aborted; attempt++) {
      try {
        const nc = await connect(connectionOptions(this.config))
        if (signal.aborted) {
          await nc.close()
          return
        }
        this.#nc = nc
        this.#js = jetstream(nc, { timeout: this.config.publishTimeoutMs })
        this.#setConnected(true)
        logger.info({ event: 'NatsConnectionEstablished', server: nc.getServer() }, 'connected to NATS')
        void this.#watch(nc)
        return
      } catch (err) {
        const problem = (err as Error).message
        const changed = problem !== this.#lastProblem
        this.#lastProblem = problem
        metrics.counter('nats_connect_errors_total').inc()
        const waitMs = Math.min(this.config.reconnectTimeWaitMs * 2 ** Math.min(attempt, 5), 30_000)
        // While NATS stays down, the runtime logs one SubscriberUnavailable line per failed init
        // (with MI_ERR_NATS_UNAVAILABLE and this text). Here: warn on the first failure and when the
        // problem changes, debug otherwise, so the same error is not logged twice per retry. The
        // nats client's errors carry no MI_ERR code: log the text, not the error object.
        logger[changed ? 'warn' : 'debug'](
          {
            event: 'NatsConnectionError',
            code: 'MI_ERR_NATS_UNAVAILABLE',
            servers: String(this.config.servers),
            problem,
            attempt: attempt + 1,
            retryInMs: waitMs,
          },
          'cannot connect to NATS',
        )
        await sleep(waitMs * (0.75 + Math.random() / 2), signal)
      }
    }
  }

  async #watch(nc: NatsConnection): Promise<void> {
    const { logger } = this.#deps
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') {
        this.#lastProblem = `disconnected from ${status.server}`
        this.#setConnected(false)
        logger.warn(
          { event: 'NatsConnectionLost', server: status.server },
          'lost the NATS connection; reconnecting',
        )
      } else if (status.type === 'reconnect') {
        this.#setConnected(true)
        logger.info({ event: 'NatsConnectionEstablished', server: status.server }, 'reconnected to NATS')
      } else if (status.type === 'error') {
        this.#lastProblem = status.error.message
        logger.warn({ event: 'NatsConnectionError', err: status.error }, 'NATS connection error')
      }
    }
    this.#setConnected(false)
  }

  #setConnected(value: boolean): void {
    this.#connected = value
    this.#deps.metrics.gauge('nats_connected').set(value ? 1 : 0)
    this.#wake()
  }

  #wake(): void {
    this.#changed.resolve()
    this.#changed = Promise.withResolvers<void>()
  }

  /**
   * Resolve once connected with the stream ensured, or throw MI_ERR_NATS_UNAVAILABLE after
   * `unavailableWaitMs`. Starts connecting if start() was not called.
   */
  async ready(signal?: AbortSignal): Promise<void> {
    this.start()
    await this.#usable(signal)
  }

  /** Wait (bounded) until connected and the stream is ensured; throw MI_ERR_NATS_UNAVAILABLE otherwise. */
  async #usable(signal: AbortSignal | undefined): Promise<JetStreamClient> {
    const { unavailableWaitMs } = this.config
    const deadline = Date.now() + unavailableWaitMs
    for (;;) {
      if (this.#closing) throw new MI_ERR_NATS_CLOSED()
      signal?.throwIfAborted()
      if (this.#connected && this.#js !== null) {
        if (this.#streamReady) return this.#js
        await this.#ensureStream()
        if (this.#streamReady) return this.#js
      }
      const left = deadline - Date.now()
      if (left <= 0) break
      await Promise.race([this.#changed.promise, sleep(left, signal)])
    }
    throw new MI_ERR_NATS_UNAVAILABLE(String(this.config.servers), unavailableWaitMs, this.#lastProblem)
  }

  async #ensureStream(): Promise<void> {
    try {
      const jsm = await jetstreamManager(this.#nc!, { timeout: this.config.publishTimeoutMs })
      const result = await ensureStream(jsm, this.config)
      this.#streamReady = true
      if (result.created) {
        this.#deps.logger.info(
          { event: 'NatsStreamCreated', stream: this.config.stream },
          'created the stream',
        )
      }
      if (result.warning) this.#deps.logger.warn({ event: 'NatsStreamMismatch' }, result.warning)
    } catch (err) {
      this.#lastProblem = (err as Error).message
      this.#deps.logger.warn({ event: 'NatsStreamError', err }, 'cannot ensure the JetStream stream')
    }
  }

  /**
   * Publish a batch and resolve once JetStream acknowledged every record (stored or duplicate).
   * Publishes are pipelined, at most `maxInFlight` awaiting their PubAck; they leave in batch order
   * on one connection, so the stream stores them in log order. On the first failure no further
   * publishes start; the call waits for those in flight and rejects.
   */
  async publish(batch: readonly SubscriberRecord[], signal?: AbortSignal): Promise<BatchResult> {
    const js = await this.#usable(signal)
    const { source, maxInFlight, publishTimeoutMs, stream } = this.config
    if (this.#inDoubt !== null) await this.#resolveDoubt(js, this.#inDoubt, signal)
    const skip = this.#ackedBeforeFailure
    const doubt: InDoubt = { sinceMs: Date.now(), bySubject: new Map() }
    const acked = new Set<string>()
    const result: BatchResult = { stored: 0, duplicates: 0, skipped: 0 }
    let inFlight = 0
    let failed = 0
    let firstError: unknown = null
    let slot: PromiseWithResolvers<void> | null = null
    const started = performance.now()

    const settle = () => {
      inFlight--
      if (slot !== null) {
        slot.resolve()
        slot = null
      }
    }

    for (const record of batch) {
      const msgID = msgIdOf(source, record)
      if (skip.has(msgID)) {
        acked.add(msgID)
        result.skipped++
        continue
      }
      while (inFlight >= maxInFlight && firstError === null) {
        slot = Promise.withResolvers<void>()
        await slot.promise
      }
      if (firstError !== null || signal?.aborted) break
      inFlight++
      const subject = this.#subject(record)
      js.publish(subject, record.body, {
        msgID,
        headers: headersOf(source, record),
        timeout: publishTimeoutMs,
        expect: { streamName: stream },
      }).then(
        (ack) => {
          acked.add(msgID)
          if (ack.duplicate) result.duplicates++
          else result.stored++
          settle()
        },
        (err: unknown) => {
          failed++
          firstError ??= err
          const ids = doubt.bySubject.get(subject)
          if (ids === undefined) doubt.bySubject.set(subject, new Set([msgID]))
          else ids.add(msgID)
          settle()
        },
      )
    }
    while (inFlight > 0) {
      slot = Promise.withResolvers<void>()
      await slot.promise
    }

    const { metrics } = this.#deps
    metrics.counter('nats_published_records_total').inc(result.stored)
    metrics.counter('nats_duplicate_records_total').inc(result.duplicates)
    metrics.counter('nats_skipped_records_total').inc(result.skipped)
    const missing = batch.length - acked.size
    if (missing > 0) {
      metrics.counter('nats_publish_errors_total').inc(failed)
      this.#ackedBeforeFailure = acked
      this.#inDoubt = doubt.bySubject.size > 0 ? doubt : null
      // No responders: the stream (or JetStream) vanished, e.g. a server restarted without its
      // store. Ensure the stream again before the retry.
      if (this.config.createStream && /no responders|not enabled/i.test(String(firstError)))
        this.#streamReady = false
      const why = firstError === null ? (signal?.reason ?? 'aborted') : firstError
      throw new MI_ERR_NATS_PUBLISH_FAILED(
        missing,
        batch.length,
        stream,
        String((why as Error)?.message ?? why),
        {
          cause: why,
        },
      )
    }
    this.#ackedBeforeFailure = new Set()
    metrics
      .histogram('nats_batch_publish_duration_us')
      .record(Math.round((performance.now() - started) * 1000))
    return result
  }

  /**
   * Find out which in-doubt publishes JetStream stored, and add them to the skip list. Reads, per
   * subject, the messages stored since the failed attempt started (an ordered consumer from that
   * time, up to the subject's last sequence now), matching Nats-Msg-Id. Bounded by that subject's
   * traffic since then; subjects carry one module's stream, which one host produces. Too many
   * subjects, or a read that fails, leaves the duplicate window as the only guard (logged).
   */
  async #resolveDoubt(js: JetStreamClient, doubt: InDoubt, signal?: AbortSignal): Promise<void> {
    const { stream } = this.config
    const { logger, metrics } = this.#deps
    if (doubt.bySubject.size > kMaxDoubtSubjects) {
      logger.warn(
        { event: 'NatsDoubtUnresolved', subjects: doubt.bySubject.size },
        'too many subjects in doubt to read back; relying on the duplicate window',
      )
      this.#inDoubt = null
      return
    }
    const jsm = await jetstreamManager(this.#nc!, { timeout: this.config.publishTimeoutMs })
    let found = 0
    for (const [subject, ids] of doubt.bySubject) {
      const since = doubt.sinceMs - kDoubtClockSlackMs
      const newest = await jsm.streams.getMessage(stream, { last_by_subj: subject }).catch(() => null)
      // Nothing on this subject since the attempt began: none of its publishes was stored.
      if (newest === null || newest.time.getTime() < since) continue
      const last = newest.seq
      const consumer = await js.consumers.get(stream, {
        filter_subjects: subject,
        deliver_policy: DeliverPolicy.StartTime,
        // Slack for clock skew between this host and the cluster: reading more is only slower.
        opt_start_time: new Date(since).toISOString(),
      })
      try {
        for (let done = false; !done; ) {
          signal?.throwIfAborted()
          const batch = await consumer.fetch({ max_messages: 1000, expires: 2000 })
          let got = 0
          for await (const m of batch) {
            got++
            const id = m.headers?.get('Nats-Msg-Id')
            if (id !== undefined && ids.has(id)) {
              this.#ackedBeforeFailure.add(id)
              found++
            }
            if (m.seq >= last) {
              done = true
              break
            }
          }
          if (got === 0) done = true
        }
      } finally {
        await consumer.delete().catch(() => {})
      }
    }
    let total = 0
    for (const ids of doubt.bySubject.values()) total += ids.size
    metrics.counter('nats_doubt_resolved_stored_total').inc(found)
    logger.info(
      { event: 'NatsDoubtResolved', inDoubt: total, alreadyStored: found },
      'read back publishes whose acknowledgement was lost',
    )
    this.#inDoubt = null
  }

  /** Stop connecting, let in-flight publishes drain (bounded), close the connection. */
  async close(): Promise<void> {
    if (this.#closing) return
    this.#closing = true
    this.#stopConnecting.abort()
    this.#wake()
    await this.#connecting
    const nc = this.#nc
    if (nc === null || nc.isClosed()) return
    const timer = setTimeout(() => void nc.close(), this.config.drainTimeoutMs)
    try {
      // drain() needs a live connection; while disconnected it cannot flush anything anyway.
      if (this.#connected) await nc.drain()
      else await nc.close()
    } catch {
      await nc.close()
    } finally {
      clearTimeout(timer)
    }
    this.#deps.logger.info({ event: 'NatsConnectionClosed' }, 'closed the NATS connection')
  }
}

/** Publishes of a failed attempt with no PubAck, by subject, and when that attempt started. */
interface InDoubt {
  sinceMs: number
  bySubject: Map<string, Set<string>>
}

const kMaxDoubtSubjects = 64
const kDoubtClockSlackMs = 60_000
