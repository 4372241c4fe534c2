import { hostname } from 'node:os'
import { z } from 'zod'
import { subjectProblem, templateProblem } from './subject.ts'

// JetStream stream names: no whitespace, `.`, `*`, `>` or path separators (they name files).
const kStreamName = /^[^\s.*>/\\]+$/

const ms = (fallback: number) => z.number().int().positive().default(fallback)

/**
 * Options of the built-in `nats` subscriber (the `config` of its `subscribers[]` entry).
 * Durations are milliseconds and say so in their names.
 */
export const natsConfigSchema = z
  .strictObject({
    /** One URL or several (a cluster's seeds). */
    servers: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).default('nats://127.0.0.1:4222'),
    /** Connection name shown by the server (`nats server report connections`). */
    name: z.string().min(1).optional(),
    user: z.string().min(1).optional(),
    pass: z.string().optional(),
    token: z.string().min(1).optional(),
    /** An nkey seed (`SU…`), inline or from a file. */
    nkeySeed: z.string().min(1).optional(),
    nkeySeedFile: z.string().min(1).optional(),
    /** A `.creds` file (JWT + nkey seed), as `nsc` writes it. */
    credsFile: z.string().min(1).optional(),
    tls: z
      .strictObject({
        caFile: z.string().min(1).optional(),
        certFile: z.string().min(1).optional(),
        keyFile: z.string().min(1).optional(),
      })
      .optional(),

    /** JetStream stream that must store the records (checked on every publish). */
    stream: z
      .string()
      .regex(kStreamName, 'must be a JetStream stream name (no spaces, ".", "*", ">", "/")')
      .default('MI_TELEMETRY'),
    /** First subject token(s); may contain dots (`acme.edge`). */
    subjectPrefix: z
      .string()
      .default('mi')
      .superRefine((v, ctx) => {
        const problem = subjectProblem(v)
        if (problem) ctx.addIssue({ code: 'custom', message: `subject prefix ${problem}` })
      }),
    /** Subject template; placeholders {prefix} {stream} {module} {core} {source}. */
    subject: z
      .string()
      .default('{prefix}.{stream}.{module}')
      .superRefine((v, ctx) => {
        const problem = templateProblem(v)
        if (problem) ctx.addIssue({ code: 'custom', message: problem })
      }),
    /** Identifies this ingest host in Nats-Msg-Id and MI-Source. Default: the host name. */
    source: z
      .string()
      .min(1)
      .regex(/^[^\s:]+$/, 'must not contain whitespace or ":"')
      .optional(),

    /** Create the stream (subjects `<prefix>.>`, file storage) when it does not exist. */
    createStream: z.boolean().default(true),
    /** `duplicate_window` for a stream we create: how long JetStream remembers Nats-Msg-Ids. */
    duplicateWindowMs: z.number().int().min(100).default(120_000),
    /** `num_replicas` for a stream we create (1 for a single server, 3 for a cluster). */
    replicas: z.number().int().min(1).max(5).default(1),

    /** Publishes awaiting their PubAck at once, per subscriber instance. */
    maxInFlight: z.number().int().min(1).max(65_536).default(1024),
    /** How long one publish waits for its PubAck. */
    publishTimeoutMs: ms(5000),
    /** How long handle() waits for a missing connection before failing the batch. */
    unavailableWaitMs: ms(2000),
    /** Timeout of one connection attempt. */
    connectTimeoutMs: ms(5000),
    /** Base delay between reconnection attempts (the client adds jitter); it retries forever. */
    reconnectTimeWaitMs: ms(1000),
    /** How long close() lets in-flight publishes drain before closing hard. */
    drainTimeoutMs: ms(10_000),
  })
  .superRefine((c, ctx) => {
    const methods = [
      c.user !== undefined,
      c.token !== undefined,
      c.nkeySeed !== undefined || c.nkeySeedFile !== undefined,
      c.credsFile !== undefined,
    ]
    if (methods.filter(Boolean).length > 1) {
      ctx.addIssue({ code: 'custom', message: 'choose one of user/pass, token, nkeySeed(File) or credsFile' })
    }
    if (c.nkeySeed !== undefined && c.nkeySeedFile !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['nkeySeedFile'],
        message: 'nkeySeed and nkeySeedFile exclude each other',
      })
    }
    if (c.pass !== undefined && c.user === undefined) {
      ctx.addIssue({ code: 'custom', path: ['pass'], message: 'pass needs user' })
    }
    if (
      c.createStream &&
      !c.subject.startsWith('{prefix}.') &&
      !c.subject.startsWith(`${c.subjectPrefix}.`)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['subject'],
        message: 'with createStream the subject must start with {prefix}. (the stream captures <prefix>.>)',
      })
    }
  })
  .transform((c) => ({ ...c, source: c.source ?? hostname().replace(/[\s:]/g, '_') }))

/** Options as written in the server config. */
export type NatsSubscriberOptions = z.input<typeof natsConfigSchema>
/** Options after validation and defaults. */
export type NatsSubscriberConfig = z.output<typeof natsConfigSchema>

/** Validate and default options outside the subscriber runtime (tests, benches, tools). */
export function parseNatsConfig(options: NatsSubscriberOptions = {}): NatsSubscriberConfig {
  return natsConfigSchema.parse(options)
}
