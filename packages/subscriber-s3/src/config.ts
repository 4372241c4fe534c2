import { hostname } from 'node:os'
import { kBodyFormats } from '@module-ingest/subscriber-sdk'
import { z } from 'zod'
import { DEFAULT_KEY_TEMPLATE, keyTemplateProblem } from './key.ts'

const ms = (fallback: number) => z.number().int().positive().default(fallback)
const kChecksum = z.enum(['WHEN_SUPPORTED', 'WHEN_REQUIRED'])

/**
 * Options of the built-in `s3` subscriber (the `options` of its `subscribers[]` entry).
 * Durations are milliseconds and sizes bytes, and say so in their names.
 *
 * The batch window (how many records, bytes and how much time one upload round covers) is the
 * entry's runtime `batch` setting, not an option here: see the README ("Windows and objects").
 */
export const s3ConfigSchema = z
  .strictObject({
    bucket: z.string().min(3),
    /** SigV4 signing region. GCS: `auto`; MinIO: whatever it was started with (default us-east-1). */
    region: z.string().min(1).default('us-east-1'),
    /** Custom endpoint for S3-compatible stores: `https://storage.googleapis.com`, `http://127.0.0.1:9000`. */
    endpoint: z.url().optional(),
    /** Path-style URLs (`endpoint/bucket/key`): MinIO and most self-hosted stores need it. */
    forcePathStyle: z.boolean().default(false),
    /** Explicit keys (GCS HMAC keys, MinIO users). Default: the SDK's provider chain (env, profile, SSO, IMDS…). */
    credentials: z
      .strictObject({
        accessKeyId: z.string().min(1),
        secretAccessKey: z.string().min(1),
        sessionToken: z.string().min(1).optional(),
      })
      .optional(),
    /** A profile of ~/.aws/config and ~/.aws/credentials for the default chain. */
    profile: z.string().min(1).optional(),
    /** The SDK's flexible checksums. Stores that reject CRC trailers (some GCS, older MinIO/Ceph) need WHEN_REQUIRED. */
    requestChecksumCalculation: kChecksum.default('WHEN_SUPPORTED'),
    responseChecksumValidation: kChecksum.default('WHEN_SUPPORTED'),

    /** `{prefix}` in the key template. */
    prefix: z
      .string()
      .regex(/^[^\s]*$/, 'must not contain whitespace')
      .default('module-ingest'),
    /** Object key template; see the README for placeholders and rules. */
    key: z
      .string()
      .default(DEFAULT_KEY_TEMPLATE)
      .superRefine((v, ctx) => {
        const problem = keyTemplateProblem(v)
        if (problem) ctx.addIssue({ code: 'custom', message: problem })
      }),
    /** `{source}`: names this ingest host in keys. Must be unique per host writing to the bucket. Default: the host name. */
    source: z
      .string()
      .min(1)
      .regex(/^[A-Za-z0-9._-]+$/, 'must match /^[A-Za-z0-9._-]+$/')
      .optional(),
    /** Which record timestamp fills the time placeholders: server receive time (default) or the producer's. */
    timeField: z.enum(['rts', 'ts']).default('rts'),

    format: z.enum(['ndjson', 'msgpack']).default('ndjson'),
    /** NDJSON bodies, as `module-ingest tail` prints them (`auto`: text when printable UTF-8, else base64). */
    body: z.enum(kBodyFormats).default('base64'),
    compression: z.enum(['zstd', 'gzip', 'none']).default('zstd'),
    /** zstd 1…19 (default 3) or gzip 1…9 (default 6). */
    compressionLevel: z.number().int().min(1).max(19).optional(),

    /** One object holds at most this many records… */
    maxObjectRecords: z.number().int().positive().default(1_000_000),
    /**
     * …and about this many bytes before compression. A catch-up window (batch.maxBytes) larger
     * than this becomes several objects, and their PUTs overlap the encoding of the next one.
     * An object is compressed in one call on the worker thread, which does nothing else meanwhile.
     */
    maxObjectBytes: z
      .number()
      .int()
      .min(1024)
      .default(16 * 1024 * 1024),
    /** Objects whose compressed size passes this go up as multipart uploads of this part size (S3 minimum 5 MiB). */
    partSizeBytes: z
      .number()
      .int()
      .min(5 * 1024 * 1024)
      .default(8 * 1024 * 1024),
    /**
     * Moved: the worker thread's priority is the entry's `nice` (subscribers[].nice, default 10 for
     * s3), a runtime setting every subscriber has. Refused with that pointer, not mapped, so the
     * setting has one source.
     */
    workerNice: z
      .never({
        error:
          'options.workerNice moved to the subscriber entry: set `nice` (0–19, default 10) beside `options`',
      })
      .optional(),
    /** Objects (and parts of one multipart upload) in flight at once. */
    uploadConcurrency: z.number().int().min(1).max(64).default(4),

    /**
     * 'list' (default): before writing into a key prefix the first time, list it and skip records
     * already stored by an earlier, unacknowledged upload (crash, timeout): no lsn lands in two
     * objects. 'off': trust the runtime's boundaries; a crash can leave an lsn in two objects.
     */
    reconcile: z.enum(['list', 'off']).default('list'),
    /** Listed key prefixes remembered per worker thread (each costs one LIST when first used). */
    reconcileCacheSize: z.number().int().min(16).default(4096),

    /** One HTTP request's limits; the SDK retries a failed request `sdkMaxAttempts` times in all. */
    connectTimeoutMs: ms(5_000),
    requestTimeoutMs: ms(20_000),
    sdkMaxAttempts: z.number().int().min(1).max(10).default(2),
    /**
     * Offline backoff: after a failed round handle() waits `initialMs * 2^(n-1)` (capped at `maxMs`,
     * full jitter) before reporting MI_ERR_S3_UNAVAILABLE. Keep `maxMs` below the entry's timeoutMs.
     */
    offlineBackoff: z
      .strictObject({ initialMs: ms(500), maxMs: ms(15_000) })
      .default({ initialMs: 500, maxMs: 15_000 }),
    /**
     * While the store is unreachable, a HeadBucket this often (50–100 % jitter) during the offline
     * backoff: the batch is retried as soon as one answers, not at the end of the backoff.
     */
    offlineProbeMs: ms(1_000),
    /** While failed (AccessDenied, NoSuchBucket…), one request every this often tests whether the config was fixed. */
    failedRecheckMs: ms(60_000),
    /** How long one handle() call may wait inside (backoff or failed state); keep it below the entry's timeoutMs. */
    maxHandleWaitMs: ms(15_000),
    /**
     * The most one handle() call takes, uploads and waits included: past it the uploads are aborted
     * and the batch reported MI_ERR_S3_UNAVAILABLE. Must stay below the entry's timeoutMs (default
     * 30000), or a stalled uplink becomes failed attempts and, in the end, dead letters.
     */
    handleBudgetMs: ms(25_000),
    /** Abort this source's multipart uploads older than this (crash leftovers); swept at start and periodically. */
    staleUploadMs: ms(3_600_000),
  })
  .superRefine((c, ctx) => {
    if (c.credentials !== undefined && c.profile !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['profile'],
        message: 'credentials and profile exclude each other',
      })
    }
    if (c.compressionLevel !== undefined && c.compression === 'gzip' && c.compressionLevel > 9) {
      ctx.addIssue({ code: 'custom', path: ['compressionLevel'], message: 'gzip levels are 1…9' })
    }
    if (c.offlineBackoff.initialMs > c.offlineBackoff.maxMs) {
      ctx.addIssue({ code: 'custom', path: ['offlineBackoff'], message: 'initialMs must not exceed maxMs' })
    }
  })
  .transform((c) => ({ ...c, source: c.source ?? hostname().replace(/[^A-Za-z0-9._-]/g, '_') }))

/** Options as written in the server config. */
export type S3SubscriberOptions = z.input<typeof s3ConfigSchema>
/** Options after validation and defaults. */
export type S3SubscriberConfig = z.output<typeof s3ConfigSchema>

/** Validate and default options outside the subscriber runtime (tests, benches, tools). */
export function parseS3Config(options: S3SubscriberOptions): S3SubscriberConfig {
  return s3ConfigSchema.parse(options)
}

/** The file extension `{ext}` stands for: `ndjson.zst`, `msgpack.gz`, `ndjson`… */
export function extensionOf(c: Pick<S3SubscriberConfig, 'format' | 'compression'>): string {
  const comp = c.compression === 'zstd' ? '.zst' : c.compression === 'gzip' ? '.gz' : ''
  return `${c.format}${comp}`
}
