import { z } from 'zod'

/** A JSON field path: dot-separated keys (`temp`, `env.humidity`). Array indexes are not paths. */
const fieldPath = z
  .string()
  .regex(
    /^[A-Za-z0-9_$-]+(?:\.[A-Za-z0-9_$-]+)*$/,
    'expected dot-separated keys like "temp" or "env.humidity"',
  )

/** `subscribers[].options` of the built-in `index` subscriber. */
export const indexConfigSchema = z.strictObject({
  /** The SQLite file. Relative paths resolve from the server's cwd; its directory is created. */
  path: z.string().min(1),
  /** Index every record's (stream, module, core, ts, lsn) so records are found by time. */
  records: z.boolean().default(true),
  /**
   * Numeric JSON body fields kept as time series with 1 s and 1 min rollups. A body that is not
   * JSON, or a field that is missing or not a finite number, adds no point (the record is still
   * indexed).
   */
  fields: z.array(fieldPath).max(256).default([]),
  /**
   * Also keep every raw point (needed for steps under 1 s or not a multiple of 1 s). Off by default:
   * it costs 3-4x the apply time of rollups alone (README, "Choices"); rollups are always kept.
   */
  rawPoints: z.boolean().default(false),
  /**
   * The server's log directory (`<dataDir>/log`). With it the index drops rows whose records the
   * log's retention removed; without it rows are kept until `module-ingest index rebuild`.
   */
  logDir: z.string().min(1).optional(),
  /** How often (at most) to compare against the log's oldest segment, in ms. */
  retentionCheckMs: z.number().int().min(100).default(60_000),
  /**
   * SQLite `synchronous` under WAL. 'normal' (default) survives a process crash, and a power loss
   * may lose the last transactions: the consumer group offset then replays them (idempotent).
   * 'full' fsyncs every batch.
   */
  synchronous: z.enum(['normal', 'full']).default('normal'),
})

export type IndexConfig = z.output<typeof indexConfigSchema>
export type IndexConfigInput = z.input<typeof indexConfigSchema>
