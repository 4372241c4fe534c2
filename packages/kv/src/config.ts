import { z } from 'zod'

/** `subscribers[].options` of the built-in `kv` subscriber. */
export const kvConfigSchema = z.strictObject({
  /** The SQLite store file. Relative paths resolve from the server's cwd; its directory is created. */
  path: z.string().min(1),
  /** Most bytes of one stored value (its text/JSON form). A larger result rejects the transaction. */
  maxValueBytes: z
    .number()
    .int()
    .min(1)
    .max(64 * 1024 * 1024)
    .default(1024 * 1024),
  /** Writes kept per key for the history endpoint; 0 keeps none (less to write per set). */
  historyPerKey: z.number().int().min(0).max(10_000).default(10),
  /** Outcome rows kept (a transaction, or a producer's run of single writes; oldest pruned). */
  outcomesKept: z.number().int().min(1000).default(100_000),
  /** Log-clock ms between sweeps that delete expired keys (reads hide them at once anyway). */
  sweepIntervalMs: z.number().int().min(0).default(1000),
  /**
   * SQLite `synchronous` under WAL. 'full' (default) fsyncs each applied delivery before the
   * runtime commits the group offset, so a power loss cannot leave the store behind the offset.
   * 'normal' is faster and safe against process crashes only.
   */
  synchronous: z.enum(['normal', 'full']).default('full'),
})

export type KvConfigInput = z.input<typeof kvConfigSchema>
export type KvConfig = z.output<typeof kvConfigSchema>
