import { setImmediate } from 'node:timers/promises'
import {
  AbortMultipartUploadCommand,
  HeadBucketCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import type { SubscriberContext, SubscriberRecord } from '@module-ingest/subscriber-sdk'
import { classifyS3Error, describeS3Error, StepError } from './classify.ts'
import { createS3Client } from './client.ts'
import { extensionOf, type S3SubscriberConfig } from './config.ts'
import { encodeObject, estimateBytes } from './encode.ts'
import { MI_ERR_S3_BUCKET_FATAL, MI_ERR_S3_UPLOAD_FAILED } from './errors.ts'
import { type CompiledKey, compileKey, type LsnRange } from './key.ts'
import { Outage } from './outage.ts'
import { groupRecords, type PlannedObject, planGroup } from './plan.ts'

export type UploaderDeps = Pick<SubscriberContext, 'logger' | 'metrics'>

export interface UploadResult {
  objects: number
  records: number
  /** Records an earlier, unacknowledged upload had already stored. */
  skipped: number
  bytes: number
}

/**
 * The engine behind the `s3` subscriber: one S3 client, the listing cache that makes retries
 * idempotent, uploads and failure classification; the failed and offline states and the pacing
 * while the store is out are outage.ts. Not exported from the package root.
 *
 *   upload(batch) ─► failed & recheck not due? ─► wait (bounded) ─► MI_ERR_S3_BUCKET_FATAL   (outage.ts)
 *        ├─► offline and no probe answered? ─► HeadBucket; still down ─► as unavailable below (outage.ts)
 *        ├─► plan: group by key prefix, LIST each prefix not seen yet, skip stored records
 *        ├─► encode + compress + PUT (multipart past partSizeBytes), ≤ uploadConcurrency at once
 *        └─► resolve once every object is acknowledged ─► the runtime commits the offset
 *            on failure: unavailable ─► backoff (capped, jittered), probing the store ─► MI_ERR_S3_UNAVAILABLE
 *                                       (retryAfterMs 0: the runtime retries at once)   (outage.ts)
 *                        config      ─► state failed, one log line, MI_ERR_S3_BUCKET_FATAL (outage.ts)
 *                        rejected    ─► MI_ERR_S3_UPLOAD_FAILED (counts as an attempt)
 */
export class S3Uploader {
  readonly config: S3SubscriberConfig
  readonly client: S3Client
  readonly keys: CompiledKey
  #deps: UploaderDeps
  /** group prefix → ranges of objects known to exist there (LRU by Map order). */
  #listed = new Map<string, LsnRange[]>()
  #outage: Outage
  #closed = new AbortController()
  #sweepTimer: NodeJS.Timeout | undefined

  constructor(config: S3SubscriberConfig, deps: UploaderDeps, client?: S3Client) {
    this.config = config
    this.#deps = deps
    this.client = client ?? createS3Client(config)
    this.keys = compileKey(config.key, {
      prefix: config.prefix,
      source: config.source,
      ext: extensionOf(config),
      timeField: config.timeField,
    })
    this.#outage = new Outage(config, deps, (signal) =>
      this.client.send(new HeadBucketCommand({ Bucket: config.bucket }), { abortSignal: signal }),
    )
  }

  /**
   * Background checks that never block init (the store may be offline at boot): is the bucket
   * usable, and are there multipart uploads of ours left over from a crash?
   */
  start(): void {
    void this.#outage.checkBucket(this.#closed.signal)
    void this.sweepStaleUploads()
    this.#sweepTimer = setInterval(
      () => void this.sweepStaleUploads(),
      Math.max(60_000, this.config.staleUploadMs / 2),
    )
    this.#sweepTimer.unref()
  }

  /** Abort our own multipart uploads older than staleUploadMs. Best effort: errors are logged. */
  async sweepStaleUploads(): Promise<number> {
    const { bucket, staleUploadMs } = this.config
    const before = Date.now() - staleUploadMs
    let aborted = 0
    try {
      let KeyMarker: string | undefined
      let UploadIdMarker: string | undefined
      for (;;) {
        const page = await this.client.send(
          new ListMultipartUploadsCommand({
            Bucket: bucket,
            Prefix: this.keys.root,
            KeyMarker,
            UploadIdMarker,
          }),
          { abortSignal: this.#closed.signal },
        )
        for (const u of page.Uploads ?? []) {
          if (u.Key === undefined || u.UploadId === undefined || !this.keys.own.test(u.Key)) continue
          if (u.Initiated !== undefined && u.Initiated.getTime() > before) continue
          await this.client.send(
            new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }),
          )
          aborted++
          this.#deps.logger.info(
            { event: 'S3StaleUploadAborted', bucket, key: u.Key, uploadId: u.UploadId },
            'aborted a stale multipart upload',
          )
        }
        if (!page.IsTruncated) break
        KeyMarker = page.NextKeyMarker
        UploadIdMarker = page.NextUploadIdMarker
      }
    } catch (err) {
      if (!this.#closed.signal.aborted) {
        this.#deps.logger.warn(
          { event: 'S3StaleUploadSweepError', bucket, err: describeS3Error(err) },
          'could not list multipart uploads (a bucket lifecycle rule AbortIncompleteMultipartUpload is the backstop)',
        )
      }
    }
    if (aborted > 0) this.#deps.metrics.counter('s3_stale_uploads_aborted_total').inc(aborted)
    return aborted
  }

  // --- one batch ---------------------------------------------------------------------------------

  async upload(batch: readonly SubscriberRecord[], signal: AbortSignal): Promise<UploadResult> {
    const { metrics } = this.#deps
    const deadline = Date.now() + this.config.handleBudgetMs
    await this.#outage.waitIfFailed(signal)
    const pending = this.#backlog(batch)
    await this.#outage.checkReachable(deadline, signal)
    // A stalled upload (half-open uplink: no error, no progress) must end as "unavailable" before
    // the runtime's timeoutMs ends it as a failed attempt that, repeated, would dead-letter.
    const budget = AbortSignal.timeout(Math.max(1, deadline - Date.now()))
    try {
      const result = await this.#uploadBatch(batch, AbortSignal.any([signal, budget]), pending)
      this.#outage.recovered()
      return result
    } catch (err) {
      if (signal.aborted && !(err instanceof StepError)) throw err
      const overBudget = budget.aborted && !signal.aborted
      const step =
        err instanceof StepError && !overBudget
          ? err
          : new StepError(
              err instanceof StepError ? err.key : '(batch)',
              overBudget ? budgetError(this.config.handleBudgetMs) : err,
            )
      const kind = overBudget ? 'unavailable' : classifyS3Error(step.cause)
      metrics.counter('s3_retries_total').inc()
      if (kind === 'config') {
        this.#outage.fail(step)
        throw new MI_ERR_S3_BUCKET_FATAL(
          this.config.bucket,
          step.key,
          step.message,
          this.config.failedRecheckMs,
          {
            cause: step.cause,
          },
        )
      }
      if (kind === 'unavailable') return this.#outage.unavailable(step, deadline, signal)
      metrics.counter('s3_upload_errors_total').inc()
      throw new MI_ERR_S3_UPLOAD_FAILED(this.config.bucket, step.key, step.message, { cause: step.cause })
    }
  }

  async #uploadBatch(
    batch: readonly SubscriberRecord[],
    signal: AbortSignal,
    pending: { records: number; bytes: number },
  ): Promise<UploadResult> {
    const { config } = this
    const sizeOf = (r: SubscriberRecord) => estimateBytes(r, config.format, config.body)
    const groups = groupRecords(batch, (r) => this.keys.groupOf(r))
    const objects: PlannedObject[] = []
    let skipped = 0
    for (const [group, records] of groups) {
      const existing = config.reconcile === 'list' ? await this.#existing(group, signal) : []
      const plan = planGroup(group, records, existing, config, sizeOf)
      objects.push(...plan.objects)
      skipped += plan.skipped
    }
    if (skipped > 0) {
      this.#deps.metrics.counter('s3_skipped_records_total').inc(skipped)
      this.#deps.logger.info(
        {
          event: 'S3RecordsAlreadyStored',
          records: skipped,
          firstLsn: batch[0]?.lsn,
          lastLsn: batch.at(-1)?.lsn,
        },
        'records already stored by an earlier, unacknowledged upload: not uploaded again',
      )
    }
    this.#setBacklog(pending.records - skipped, pending.bytes)
    const result: UploadResult = { objects: 0, records: 0, skipped, bytes: 0 }
    // Bounded parallelism over objects; the first failure stops new uploads, in-flight ones finish
    // (each is atomic: acknowledged or not there).
    let next = 0
    let firstError: unknown = null
    const worker = async () => {
      while (firstError === null && next < objects.length && !signal.aborted) {
        const o = objects[next++]!
        try {
          const bytes = await this.#put(o, signal)
          result.objects++
          result.records += o.records.length
          result.bytes += bytes
          pending.records -= o.records.length
          for (const r of o.records) pending.bytes -= r.body.byteLength
          this.#setBacklog(pending.records - skipped, pending.bytes)
        } catch (err) {
          firstError ??= err
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(config.uploadConcurrency, objects.length) }, worker))
    if (firstError !== null) throw firstError
    signal.throwIfAborted()
    this.#setBacklog(0, 0)
    return result
  }

  /** Ranges of the objects in `group`, from one LIST the first time the group is used. */
  async #existing(group: string, signal: AbortSignal): Promise<LsnRange[]> {
    const cached = this.#listed.get(group)
    if (cached !== undefined) {
      this.#listed.delete(group)
      this.#listed.set(group, cached)
      return cached
    }
    const ranges: LsnRange[] = []
    let ContinuationToken: string | undefined
    try {
      do {
        const page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.config.bucket, Prefix: group, ContinuationToken }),
          { abortSignal: signal },
        )
        this.#deps.metrics.counter('s3_list_requests_total').inc()
        for (const o of page.Contents ?? []) {
          const range = o.Key === undefined ? undefined : this.keys.rangeOf(group, o.Key)
          if (range !== undefined) ranges.push(range)
        }
        ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined
      } while (ContinuationToken !== undefined)
    } catch (err) {
      throw new StepError(group, err)
    }
    this.#listed.set(group, ranges)
    while (this.#listed.size > this.config.reconcileCacheSize) {
      this.#listed.delete(this.#listed.keys().next().value!)
    }
    return ranges
  }

  /** Encode, compress and upload one object; resolves with its stored size once acknowledged. */
  async #put(o: PlannedObject, signal: AbortSignal): Promise<number> {
    const { config } = this
    const key = this.keys.keyOf(o.group, o.firstLsn, o.lastLsn)
    // Encoding and compressing is synchronous (encode.ts: on this thread, at its nice value, never
    // on the thread pool). Each object first waits for a turn of the event loop, so the PUTs of the
    // objects before it get their sockets written in between: catch-up overlaps the store's work
    // with encoding, and this thread never runs more than one object's encoding at a stretch.
    await setImmediate()
    signal.throwIfAborted()
    const body = encodeObject(o.records, config)
    const started = performance.now()
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: config.bucket,
        Key: key,
        Body: body,
        ContentType: config.format === 'ndjson' ? 'application/x-ndjson' : 'application/vnd.msgpack',
        Metadata: {
          'mi-first-lsn': String(o.firstLsn),
          'mi-last-lsn': String(o.lastLsn),
          'mi-records': String(o.records.length),
          'mi-source': config.source,
          'mi-format': `${config.format}+${config.compression}`,
        },
      },
      partSize: config.partSizeBytes,
      queueSize: config.uploadConcurrency,
      // A failed multipart upload is aborted at once: no orphaned parts from our side.
      leavePartsOnError: false,
    })
    const onAbort = () => void upload.abort().catch(() => {})
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      await upload.done()
    } catch (err) {
      this.#abandon(key, (upload as unknown as { uploadId?: string }).uploadId)
      throw new StepError(key, err)
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
    const { metrics } = this.#deps
    metrics.histogram('s3_upload_duration_us').record(Math.round((performance.now() - started) * 1000))
    metrics.counter('s3_objects_uploaded_total').inc()
    metrics.counter('s3_uploaded_bytes_total').inc(body.length)
    metrics.counter('s3_uploaded_records_total').inc(o.records.length)
    metrics.gauge('s3_last_success_time_seconds').set(Date.now() / 1000)
    // Remember our own object: a retry of this batch (or an overlapping one) skips its records.
    if (config.reconcile === 'list') this.#listed.get(o.group)?.push({ first: o.firstLsn, last: o.lastLsn })
    return body.length
  }

  /**
   * lib-storage aborts a failed multipart upload itself, except when our abort raced its
   * CreateMultipartUpload answer: abort it here too (best effort, in the background; a store that
   * is down leaves it to the stale-upload sweep). Harmless when it is already gone.
   */
  #abandon(key: string, uploadId: string | undefined): void {
    if (uploadId === undefined) return
    this.client
      .send(new AbortMultipartUploadCommand({ Bucket: this.config.bucket, Key: key, UploadId: uploadId }), {
        abortSignal: AbortSignal.timeout(this.config.connectTimeoutMs),
      })
      .catch(() => {})
  }

  // --- backlog gauges ----------------------------------------------------------------------------
  // What was handed to us and is not in the store yet. It shrinks with each acknowledged object, so
  // it belongs to the pipeline, not to outage.ts (where it only happens to grow).

  #backlog(batch: readonly SubscriberRecord[]): { records: number; bytes: number } {
    let bytes = 0
    for (const r of batch) bytes += r.body.byteLength
    const pending = { records: batch.length, bytes }
    this.#setBacklog(pending.records, pending.bytes)
    const oldest = batch[0]?.rts
    if (oldest !== undefined) {
      this.#deps.metrics.gauge('s3_backlog_age_seconds').set(Math.max(0, Date.now() / 1000 - oldest / 1e6))
    }
    return pending
  }

  #setBacklog(records: number, bytes: number): void {
    this.#deps.metrics.gauge('s3_backlog_records').set(Math.max(0, records))
    this.#deps.metrics.gauge('s3_backlog_bytes').set(Math.max(0, bytes))
  }

  close(): void {
    this.#closed.abort()
    clearInterval(this.#sweepTimer)
    this.client.destroy()
  }
}

function budgetError(ms: number): Error {
  return Object.assign(new Error(`no answer within handleBudgetMs (${ms} ms)`), { code: 'ETIMEDOUT' })
}
