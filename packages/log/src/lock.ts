// The directory lock: `writer.pid` names the one process allowed to change the log, the writer
// (openLog) or a repair tool (acquireRepairLock). This file is the single definition of "held by a
// live process" for the writer, the raw repair tools and recover-dump.
//
// Taking it is atomic: the pid is written to a private file, fsynced, then link()ed to writer.pid,
// which fails with EEXIST while anyone holds it, so two starters can never both win and a reader
// of writer.pid never sees it empty. A pid file whose process is gone is stale (a crash) and is
// broken by renaming it away, then checking that what was renamed really was the stale one.
import fs from 'node:fs'
import path from 'node:path'
import { MI_ERR_LOG_LOCKED } from './errors.ts'
import { fsyncDir, kLockFile } from './meta.ts'

export type LockHolder = 'writer' | 'repair'

/** Directories whose lock this process holds. Our own pid in a file not listed here is stale. */
const held = new Map<string, LockHolder>()
let tmpCounter = 0

/**
 * A process with this pid exists. EPERM means it exists but belongs to another user (a server
 * running under a service account): still alive.
 */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim())
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

function live(dir: string, pid: number): boolean {
  // crash() (the test hook) leaves our own pid behind: only a lock this process still holds counts.
  return pid === process.pid ? held.has(dir) : pidAlive(pid)
}

export interface WriterLockState {
  /** The pid in writer.pid (null: no lock file, or an unreadable one). */
  pid: number | null
  /** That process holds the directory (it exists; for our own pid: we hold the lock). */
  live: boolean
}

/** Who holds `dir` (read-only: safe beside a running writer). */
export function readWriterLock(dir: string): WriterLockState {
  const abs = path.resolve(dir)
  const pid = readPid(path.join(abs, kLockFile))
  return pid === undefined ? { pid: null, live: false } : { pid, live: live(abs, pid) }
}

/** Take the lock or throw MI_ERR_LOG_LOCKED naming the live holder. */
export async function acquireLock(dir: string, holder: LockHolder): Promise<void> {
  const abs = path.resolve(dir)
  if (held.has(abs)) throw new MI_ERR_LOG_LOCKED(abs, process.pid)
  const lockFile = path.join(abs, kLockFile)
  const tmp = `${lockFile}.tmp-${process.pid}-${++tmpCounter}`
  const fd = fs.openSync(tmp, 'w')
  try {
    fs.writeSync(fd, String(process.pid))
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        fs.linkSync(tmp, lockFile)
        break
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      }
      const pid = readPid(lockFile)
      if (pid !== undefined && live(abs, pid)) throw new MI_ERR_LOG_LOCKED(abs, pid)
      // Others breaking the same stale lock at the same time: give up after a few rounds.
      if (attempt === 5) throw new MI_ERR_LOG_LOCKED(abs, pid ?? 0)
      breakStale(abs, lockFile, pid)
    }
  } finally {
    fs.rmSync(tmp, { force: true })
  }
  held.set(abs, holder)
  await fsyncDir(abs)
}

function breakStale(dir: string, lockFile: string, stalePid: number | undefined): void {
  const aside = `${lockFile}.stale-${process.pid}-${++tmpCounter}`
  try {
    fs.renameSync(lockFile, aside)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return // someone else broke it: retry
    throw err
  }
  const got = readPid(aside)
  if (got !== stalePid && got !== undefined && live(dir, got)) {
    // Between our read and our rename another process took the lock: give it back.
    try {
      fs.linkSync(aside, lockFile)
    } catch {}
    fs.rmSync(aside, { force: true })
    throw new MI_ERR_LOG_LOCKED(dir, got)
  }
  fs.rmSync(aside, { force: true })
}

/** Remove writer.pid if it is ours and forget the lock. */
export async function releaseLock(dir: string): Promise<void> {
  const abs = path.resolve(dir)
  if (!held.has(abs)) return
  const lockFile = path.join(abs, kLockFile)
  if (readPid(lockFile) === process.pid) await fs.promises.rm(lockFile, { force: true })
  held.delete(abs)
}

/** Forget the lock without touching the file (what a SIGKILL does: the pid file turns stale). */
export function forgetLock(dir: string): void {
  held.delete(path.resolve(dir))
}

/**
 * For the raw tools that change files: refuse while another process (or this one's writer) holds
 * the directory. No lock at all is allowed (a stopped server); a repair lock we hold is ours.
 */
export function assertNoWriter(dir: string): void {
  const abs = path.resolve(dir)
  if (held.get(abs) === 'repair') return
  const { pid, live: isLive } = readWriterLock(abs)
  if (pid !== null && isLive) throw new MI_ERR_LOG_LOCKED(abs, pid)
}

export interface RepairLock {
  readonly dir: string
  /** Remove writer.pid; a server may start again. */
  release(): Promise<void>
}

/**
 * Hold the log directory for a repair: writes writer.pid atomically with our pid, so that openLog
 * (a server started meanwhile) fails with MI_ERR_LOG_LOCKED until `release()`. Throws
 * MI_ERR_LOG_LOCKED if a live writer (or another repair) holds it. The raw tools
 * (truncateSegmentTail, quarantineSegment, rebuildIndex) run under it.
 */
export async function acquireRepairLock(dir: string): Promise<RepairLock> {
  const abs = path.resolve(dir)
  await acquireLock(abs, 'repair')
  let released = false
  return {
    dir: abs,
    async release() {
      if (released) return
      released = true
      await releaseLock(abs)
    },
  }
}
