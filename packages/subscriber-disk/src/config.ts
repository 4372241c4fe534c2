import { z } from 'zod'

/** `subscribers[].options` of the built-in `disk` subscriber. */
export const diskConfigSchema = z.strictObject({
  /** Archive root; one directory per stream below it. Relative paths resolve from the server's cwd. */
  dir: z.string().min(1),
  /** One file per UTC hour or day of server receive time. */
  rotate: z.enum(['hour', 'day']).default('hour'),
  compression: z.enum(['zstd', 'none']).default('zstd'),
  /** zstd level: 1 is fast and still shrinks telemetry well; higher trades CPU for size. */
  zstdLevel: z.number().int().min(-7).max(19).default(1),
  /**
   * 'batch': fdatasync before a batch is acknowledged (survives power loss).
   * 'rotate': fsync only when a file is rotated or closed (survives a process crash; a power
   * loss can drop what the OS had not yet written, although its offsets were committed).
   */
  fsync: z.enum(['rotate', 'batch']).default('batch'),
  /** Files kept open at once (streams × periods being written). */
  maxOpenFiles: z.number().int().min(1).max(65_536).default(256),
  /** Permission bits of archive files (subject to the umask). Default 0o600 (384): the owner only. */
  fileMode: z.number().int().min(0).max(0o777).default(0o600),
  /** Permission bits of the archive root (set at every open) and stream directories. Default 0o700 (448). */
  dirMode: z.number().int().min(0).max(0o777).default(0o700),
})

export type DiskConfig = z.output<typeof diskConfigSchema>
