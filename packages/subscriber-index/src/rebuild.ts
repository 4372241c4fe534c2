/**
 * `module-ingest index rebuild`: a fresh index from the log. Built beside the live file
 * (`<path>.rebuild`) and renamed over it, so a crash mid-rebuild leaves the old index intact.
 * The server must be stopped: its subscriber holds the old file open and would keep writing to it.
 */
import { existsSync, renameSync, rmSync } from 'node:fs'
import { resolve } from 'node:path'
import { openReader, readWriterLock } from '@module-ingest/log'
import { matchPattern } from '@module-ingest/protocol'
import { type IndexConfigInput, indexConfigSchema } from './config.ts'
import { MI_ERR_INDEX_REBUILD } from './errors.ts'
import { IndexWriter } from './writer.ts'

export interface RebuildOptions {
  logDir: string
  /** The index subscriber's options (path, fields, ...). */
  config: IndexConfigInput
  /** The subscriber's stream globs (`*` matches any run); default every stream. */
  streams?: string[]
  /** Records per transaction. Default 5000. */
  batchRecords?: number
  /** Rebuild even though a live server holds the log (its subscriber keeps the old file). */
  force?: boolean
  onProgress?: (appliedLsn: number) => void
}

export interface RebuildResult {
  path: string
  records: number
  points: number
  appliedLsn: number
}

/** Remove an SQLite file with its WAL and shared-memory files. */
export function removeDatabaseFiles(path: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${path}${suffix}`, { force: true })
}

export async function rebuildIndex(options: RebuildOptions): Promise<RebuildResult> {
  const config = indexConfigSchema.parse(options.config)
  const logDir = resolve(options.logDir)
  if (!existsSync(logDir)) throw new MI_ERR_INDEX_REBUILD(`no log at ${logDir}`)
  const lock = readWriterLock(logDir)
  if (lock.live && options.force !== true)
    throw new MI_ERR_INDEX_REBUILD(`a server (pid ${lock.pid}) is running on ${logDir}: stop it first`)
  const path = resolve(config.path)
  const streams = options.streams && !options.streams.includes('*') ? options.streams : undefined
  const tmp = `${path}.rebuild`
  removeDatabaseFiles(tmp)
  const writer = new IndexWriter(tmp, { ...config, synchronous: 'normal' })
  const reader = await openReader(logDir)
  const out: RebuildResult = { path, records: 0, points: 0, appliedLsn: 0 }
  try {
    const cursor = reader.cursor({ fromLsn: 1 })
    const max = options.batchRecords ?? 5000
    for (;;) {
      const read = await cursor.read({ maxRecords: max, maxBytes: 16 * 1024 * 1024 })
      if (read.length === 0) break
      const batch = streams ? read.filter((r) => streams.some((p) => matchPattern(p, r.stream))) : read
      const r = writer.apply(batch)
      out.records += r.applied
      out.points += r.points
      out.appliedLsn = read.at(-1)!.lsn
      options.onProgress?.(out.appliedLsn)
    }
    cursor.close()
    writer.db.exec('PRAGMA wal_checkpoint(TRUNCATE)')
  } finally {
    writer.close()
    await reader.close()
  }
  // The old file's WAL must go before the rename, or SQLite would replay it into the new file.
  removeDatabaseFiles(path)
  renameSync(tmp, path)
  removeDatabaseFiles(tmp)
  return out
}
