import { availableParallelism } from 'node:os'
import { type IntOption, kLogOptionTable, kRetentionOptionTable } from '@module-ingest/log/options'
import { z } from 'zod'
import { parseHostPort } from './host-port.ts'

/*
 * The server configuration schema. Every field carries `.meta({ description })`, read by
 * describeConfig() to produce docs/configuration.md, and the helpers below give each kind of value
 * one error message, so errors read the same whichever source the value came from.
 *
 * Objects use `.prefault({})`: in zod 4, `.default(v)` returns v as is, while `.prefault(v)` parses
 * it, so nested defaults apply when a whole section is missing.
 */

export type FieldMeta = {
  description: string
  /** Type as shown in the docs, when the schema's own type says too little. */
  type?: string
  /** Default as shown in the docs, for computed or derived defaults. */
  defaultText?: string
}

const kMiB = 1024 * 1024

function intSchema(what: string, min: number) {
  const error = `expected ${what}`
  return z.number({ error }).int({ error }).min(min, { error }).max(Number.MAX_SAFE_INTEGER, { error })
}

export const posInt = () => intSchema('a positive integer', 1).meta({ type: 'integer ≥ 1' })
export const nonNegInt = () => intSchema('a non-negative integer', 0).meta({ type: 'integer ≥ 0' })
const minInt = (min: number) => intSchema(`an integer ≥ ${min}`, min).meta({ type: `integer ≥ ${min}` })
const str = () => z.string({ error: 'expected a string' }).min(1, { error: 'expected a non-empty string' })
const bool = () => z.boolean({ error: 'expected true or false' })
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `expected one of ${values.map((v) => `"${v}"`).join(', ')}` }).meta({
    type: values.map((v) => `\`"${v}"\``).join(' \\| '),
  })

const hostPort = () =>
  z
    .string({ error: 'expected "host:port"' })
    .transform((text, ctx) => {
      const r = parseHostPort(text)
      if (typeof r === 'string') {
        ctx.issues.push({ code: 'custom', message: r, input: text })
        return z.NEVER
      }
      return r
    })
    .meta({ type: '"host:port"' })

const d = (description: string, extra: Omit<FieldMeta, 'description'> = {}) => ({ description, ...extra })

export const defaultParsers = () => Math.max(1, Math.min(4, availableParallelism() - 1))

const tlsSchema = z
  .strictObject({
    certFile: str().meta(d('PEM certificate chain file.')),
    keyFile: str().meta(d('PEM private key file.')),
    caFile: str().optional().meta(d('PEM CA bundle used to verify client certificates.')),
    requestClientCert: bool()
      .default(false)
      .meta(d('Ask clients for a certificate (verified against caFile).')),
    requireClientCert: bool()
      .default(false)
      .meta(
        d(
          'Refuse the TLS handshake without a valid client certificate (mutual TLS only). The HELLO still needs the module secret.',
        ),
      ),
    ciphers: str()
      .optional()
      .meta(
        d(
          'OpenSSL cipher list (TLS 1.3 suites and TLS 1.2 ciphers). Unset: TLS 1.3 suites plus forward-secret (ECDHE) AEAD ciphers on TLS 1.2 only (no static RSA, no CBC). TLS 1.0/1.1 are never offered.',
        ),
      ),
  })
  .optional()
  .meta(d('Serve MIP/1 over TLS. Without it the listener is plain TCP.', { type: 'object' }))

const limitsSchema = z
  .strictObject({
    maxConnections: posInt()
      .default(20000)
      .meta(d('Open connections at most; more get ERROR TOO_MANY_CONNECTIONS.')),
    maxConnectionsPerIp: posInt()
      .default(1000)
      .meta(
        d(
          'Open connections at most from one address. Modules behind one NAT gateway share an address, so this is generous; it still stops one host from taking every slot.',
        ),
      ),
    maxFrameBytes: posInt()
      .default(kMiB)
      .meta(d('Largest frame payload accepted (announced in WELCOME as max_frame).')),
    handshakeTimeoutMs: posInt().default(5000).meta(d('Time from accept to HELLO before HANDSHAKE_TIMEOUT.')),
    heartbeatMs: posInt()
      .default(10000)
      .meta(d('Heartbeat announced in WELCOME; a connection silent for 3× this gets IDLE_TIMEOUT.')),
    failedHandshakesPerMinute: minInt(20)
      .default(20)
      .meta(d('Failed handshakes per minute from one address before RATE_LIMITED (MIP/1 requires ≥ 20).')),
    moduleBytesPerSec: posInt()
      .optional()
      .meta(d('Per-module read rate limit in bytes/s (backpressure). Unset: none.')),
    moduleMsgsPerSec: posInt()
      .optional()
      .meta(d('Per-module frame rate limit in frames/s (backpressure). Unset: none.')),
    ipBytesPerSec: posInt()
      .optional()
      .meta(d('Per-address read rate limit in bytes/s (backpressure). Unset: none.')),
    memoryBudgetBytes: posInt()
      .default(512 * kMiB)
      .meta(
        d(
          'Memory clients can make the server hold, across all connections: half for partly received frames (split between parser workers), half for unsent output (ACKs, PONGs to clients that do not read). Over budget, the newest connections holding partial frames, and connections staying over their share of output, get ERROR OVERLOADED. Keep it ≥ 4 × workers.parsers × maxFrameBytes. See docs/operations.md "Memory model".',
        ),
      ),
  })
  .prefault({})
  .meta(d('Connection and rate limits.'))

// The log's options come from its own table (packages/log/src/options.ts): same defaults, same
// bounds, same descriptions, so a value accepted here is accepted by the writer (issue 13 item 3).
// The engine passes `config.log` to openLog whole.
const rangeInt = (min: number, max: number) => {
  const error =
    max >= Number.MAX_SAFE_INTEGER
      ? `expected an integer ≥ ${min}`
      : `expected an integer in [${min}, ${max}]`
  return z
    .number({ error })
    .int({ error })
    .min(min, { error })
    .max(max, { error })
    .meta({ type: max >= Number.MAX_SAFE_INTEGER ? `integer ≥ ${min}` : `integer in [${min}, ${max}]` })
}
const logInt = (spec: IntOption) =>
  rangeInt(spec.min, spec.max)
    .default(spec.default as number)
    .meta(d(spec.description))
const logOptInt = (spec: IntOption) => rangeInt(spec.min, spec.max).optional().meta(d(spec.description))
const L = kLogOptionTable
const R = kRetentionOptionTable

const logSchema = z
  .strictObject({
    segmentSizeBytes: logInt(L.segmentSizeBytes),
    flush: oneOf(L.flush.values).default(L.flush.default).meta(d(L.flush.description)),
    flushIntervalMs: logInt(L.flushIntervalMs),
    groupCommitMaxDelayMs: logInt(L.groupCommitMaxDelayMs),
    groupCommitMaxBytes: logInt(L.groupCommitMaxBytes),
    compression: oneOf(L.compression.values)
      .default(L.compression.default)
      .meta(d(L.compression.description)),
    indexIntervalBytes: logInt(L.indexIntervalBytes),
    checkpointIntervalBytes: logInt(L.checkpointIntervalBytes),
    checkpointIntervalMs: logInt(L.checkpointIntervalMs),
    retryIntervalMs: logInt(L.retryIntervalMs),
    lockWaitMs: logInt(L.lockWaitMs),
    verifyIntervalMs: logInt(L.verifyIntervalMs),
    moduleIdleMs: logInt(L.moduleIdleMs),
    fileMode: logInt(L.fileMode),
    dirMode: logInt(L.dirMode),
    retention: z
      .strictObject({
        maxAgeMs: logOptInt(R.maxAgeMs),
        maxBytes: logOptInt(R.maxBytes),
        forceDeleteAfterMs: logOptInt(R.forceDeleteAfterMs),
        checkIntervalMs: logInt(R.checkIntervalMs),
      })
      .prefault({})
      .meta(d('When old segments are deleted. Segments a subscriber still needs are kept unless forced.')),
  })
  .prefault({})
  .meta(d('The durable log (packages/log).'))

const ringSchema = z
  .strictObject({
    inboundBytes: posInt()
      .default(4 * kMiB)
      .meta(d('Main thread → parser ring, per parser.')),
    toWriterBytes: posInt()
      .default(8 * kMiB)
      .meta(d('Parser → writer ring, per parser.')),
    outboundBytes: posInt().default(kMiB).meta(d('Parser → main thread ring (outbound frames), per parser.')),
  })
  .prefault({})
  .meta(d('Shared-memory ring sizes between threads.'))

export const subscriberSchema = z.strictObject({
  name: str()
    .regex(/^[A-Za-z0-9._-]+$/, { error: 'expected a name of [A-Za-z0-9._-]' })
    .meta(d('Unique name; also the consumer group name.')),
  use: str().meta(
    d('Built-in name ("disk", "nats", "s3", "ai", "index"), an npm package name, or a path to a module.'),
  ),
  enabled: bool().default(true).meta(d('Set false to keep the entry but not run it.')),
  streams: z
    .array(str(), { error: 'expected a list of stream patterns' })
    .min(1, { error: 'expected at least one stream pattern' })
    .default(['*'])
    .meta(d('Stream patterns to deliver (`*` matches any run of characters).')),
  options: z
    .record(z.string(), z.unknown(), { error: 'expected an object' })
    .default({})
    .meta(d("Passed to the plugin; validated by the plugin's own schema.", { type: 'object' })),
  batch: z
    .strictObject({
      // No defaults here: the subscriber runtime fills what is unset, first from the plugin's
      // declared limits (defineSubscriber({ batch })), then from its own DEFAULTS. A default
      // filled here would hide the plugin's (kv's 20,000 records per delivery never applied).
      maxRecords: posInt()
        .optional()
        .meta(d('Records per batch at most.', { defaultText: "the plugin's, else 1000" })),
      maxBytes: posInt()
        .optional()
        .meta(d('Bytes of record bodies per batch at most.', { defaultText: "the plugin's, else 1 MiB" })),
      maxWaitMs: nonNegInt()
        .optional()
        .meta(d('Longest a partial batch waits for more records.', { defaultText: "the plugin's, else 50" })),
    })
    .optional()
    .meta(
      d("Batching. Each field: the entry's, else the plugin's declared default, else the runtime's.", {
        type: 'object',
      }),
    ),
  concurrency: posInt().default(1).meta(d('Batches in flight at once.')),
  maxAttempts: posInt().default(5).meta(d('Attempts per batch before it goes to the dead-letter log.')),
  timeoutMs: posInt().default(30000).meta(d('Time allowed for one attempt.')),
  nice: nonNegInt()
    .max(19, { error: 'expected an integer from 0 to 19' })
    .meta({ type: 'integer 0..19' })
    .optional()
    .meta(
      d(
        "Linux scheduling priority (nice) of the subscriber's worker threads, set in each before the plugin starts; the ingest and reads threads stay at theirs, so on a saturated host they get the CPU first and this subscriber the rest (it catches up when the load drops). Raising it needs no privilege. Default: the plugin's own (`s3`: 10; the others 0, `index` because it must keep up: see its README).",
        { defaultText: "the plugin's" },
      ),
    ),
  rateLimit: z
    .strictObject({
      bytesPerSec: nonNegInt()
        .optional()
        .meta(
          d(
            'Bytes per second delivered at most (as `batch.maxBytes` counts them: bodies plus a few bytes per record); 0 turns off a limit the plugin declares. Set it above the rate the subscribed streams are written at, or the lag grows.',
            { defaultText: "the plugin's" },
          ),
        ),
      burstBytes: posInt()
        .optional()
        .meta(d('Bytes that may go at once after an idle spell.', { defaultText: 'batch.maxBytes' })),
      when: oneOf(['ingesting', 'always'] as const)
        .optional()
        .meta(
          d(
            "`ingesting`: only while records are arriving (the log's end moved within the last second), so a backlog on an idle host is caught up at full speed; `always`.",
            { defaultText: 'ingesting' },
          ),
        ),
    })
    .optional()
    .meta(
      d(
        "Catch-up rate limit: a token bucket on the bytes this subscriber is delivered, so that catching up a backlog leaves the cores to live ingest on a small host (its batches wait; the subscriber's runtime reads no further meanwhile). Fields override the plugin's declared default one by one (`s3` declares 100 MB/s while ingesting: its README \"Catch-up and ingest\"). Default: the plugin's, else none.",
        { type: 'object', defaultText: "the plugin's" },
      ),
    ),
  failedRecheckMs: posInt()
    .default(60000)
    .meta(
      d(
        'While the subscriber is `failed` (its plugin threw a `*_FATAL` code): how often the held batch is tried again.',
      ),
    ),
})

const telemetrySchema = z
  .strictObject({
    logLevel: oneOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const)
      .default('info')
      .meta(d('Minimum level logged.')),
    logFile: str().optional().meta(d('Also write JSON log lines to this file. Unset: stdout only.')),
    metrics: z
      .union(
        [
          z.strictObject({
            listen: hostPort().prefault('127.0.0.1:7412').meta(d('Address of the /metrics HTTP server.')),
          }),
          z.literal(false),
        ],
        {
          error: 'expected { listen } or false',
        },
      )
      .prefault({})
      .meta(d('Prometheus /metrics and /healthz over HTTP; `false` disables.', { type: 'object \\| false' })),
    reads: z
      .union(
        [
          z.strictObject({
            listen: hostPort()
              .prefault('127.0.0.1:7413')
              .meta(d('Address of the read APIs (kv `/kv/v1/*`, index `/index/v1/*`).')),
            nice: minInt(-20)
              .max(19, { error: 'expected an integer from -20 to 19' })
              .meta({ type: 'integer -20..19' })
              .default(-5)
              .meta(
                d(
                  "Linux scheduling priority (nice) of the reads thread alone: below the ingest threads' 0, so on a saturated host a read gets a core before bulk work does (one thread: at most one core). Lowering it needs CAP_SYS_NICE or a nice limit (systemd `LimitNICE=`); without, a warning is logged and the thread runs at the process's priority.",
                ),
              ),
          }),
          z.literal(false),
        ],
        { error: 'expected { listen } or false' },
      )
      .prefault({})
      .meta(
        d(
          'The kv and index read APIs on their own HTTP listener, served by one thread of their own (read-only SQLite connections) so a read never waits behind ingest sockets on the main thread. Opened only when a `kv` or `index` subscriber is enabled; the metrics listener then answers their paths with 421 naming this address. `false` serves them on the metrics listener, on the main thread (one port, slower under load). See docs/operations.md "Read APIs".',
          { type: 'object \\| false' },
        ),
      ),
    dashboard: bool()
      .default(true)
      .meta(
        d(
          'Serve the live dashboard at /dashboard on the metrics listener. Off loopback it needs an operator token with a read or admin scope.',
        ),
      ),
    adminSocket: str()
      .optional()
      .meta(
        d('Unix socket for `module-ingest stats` and `logs`.', { defaultText: '`<dataDir>/admin.sock`' }),
      ),
    memoryLogLines: nonNegInt()
      .default(1000)
      .meta(d('Log lines kept in memory for `module-ingest logs`; 0 disables.')),
  })
  .prefault({})
  .meta(d('Logging, metrics and the admin socket.'))

export const configSchema = z.strictObject({
  listen: hostPort()
    .prefault('127.0.0.1:7411')
    .meta(d('Address of the MIP/1 listener. Port 0 picks a free port.')),
  dataDir: str()
    .default('./data')
    .meta(d('Directory for the log, metadata and derived files. Resolved against the working directory.')),
  tls: tlsSchema,
  credentialsFile: str()
    .optional()
    .meta(d('Module credentials (packages/auth).', { defaultText: '`<dataDir>/credentials.yaml`' })),
  workers: z
    .strictObject({
      parsers: posInt()
        .default(defaultParsers)
        .meta(d('Parser worker threads.', { defaultText: '`max(1, min(4, cores - 1))`' })),
      parserHeapMb: minInt(16)
        .default(512)
        .meta(
          d(
            'Cap on each parser worker\'s V8 heap (resourceLimits.maxOldGenerationSizeMb). A parser that reaches it dies and the server exits 1 with MI_ERR_ENGINE_WORKER_MEMORY naming the worker: a bug or an attack that grows a heap cannot take the whole host. Partly received frames are Buffers outside this heap (limits.memoryBudgetBytes bounds them). See docs/operations.md "Memory model".',
          ),
        ),
      writerHeapMb: minInt(16)
        .default(512)
        .meta(
          d(
            "Cap on the writer worker's V8 heap (resourceLimits.maxOldGenerationSizeMb); reaching it exits the server with MI_ERR_ENGINE_WORKER_MEMORY. Everything acknowledged is already on disk.",
          ),
        ),
    })
    .prefault({})
    .meta(d('Thread counts.')),
  limits: limitsSchema,
  log: logSchema,
  ring: ringSchema,
  subscribers: z
    .array(subscriberSchema, { error: 'expected a list of subscribers' })
    .optional()
    .meta(
      d('Where committed records go. Names must be unique.', {
        type: 'array',
        defaultText: 'one subscriber `{ name: "disk", use: "disk", options: { dir: "<dataDir>/archive" } }`',
      }),
    ),
  subscriberRuntime: z
    .strictObject({
      thread: bool()
        .default(true)
        .meta(
          d(
            "Run the subscriber runtime (the dispatchers: log reads, batching, offset commits) on a thread of its own instead of the main thread, which then only serves sockets: a catch-up no longer takes the main thread's turns from ingest's acks. `false`: on the main thread (how it ran before; for comparisons).",
          ),
        ),
      nice: nonNegInt()
        .max(19, { error: 'expected an integer from 0 to 19' })
        .meta({ type: 'integer 0..19' })
        .default(10)
        .meta(
          d(
            "Linux scheduling priority (nice) of the runtime's thread (with `thread: true`): above ingest's 0, so on a saturated host ingest's threads get the CPU first. The subscribers' worker threads start from this thread and inherit its priority, so it is lowered to the lowest `subscribers[].nice` (or plugin default) in use: a subscriber that must keep up (`index`: 0) keeps its priority. Raising it needs no privilege.",
          ),
        ),
    })
    .prefault({})
    .meta(d('Where the subscriber runtime runs.')),
  telemetry: telemetrySchema,
  shutdown: z
    .strictObject({
      gracefulTimeoutMs: posInt()
        .default(10000)
        .meta(d('On SIGTERM, time allowed to drain before closing hard.')),
    })
    .prefault({})
    .meta(d('Shutdown.')),
})

type Parsed = z.output<typeof configSchema>
export type SubscriberConfig = z.output<typeof subscriberSchema>
export type TlsConfig = NonNullable<Parsed['tls']>
export type LimitsConfig = Parsed['limits']
export type LogConfig = Parsed['log']
export type RingConfig = Parsed['ring']
export type TelemetryConfig = Omit<Parsed['telemetry'], 'adminSocket'> & { adminSocket: string }

/** The validated configuration: derived defaults filled in, every path absolute. */
export type ServerConfig = Omit<Parsed, 'credentialsFile' | 'subscribers' | 'telemetry'> & {
  credentialsFile: string
  subscribers: SubscriberConfig[]
  telemetry: TelemetryConfig
}
/** What a config file, the environment or flags may contain. */
export type ServerConfigInput = z.input<typeof configSchema>
