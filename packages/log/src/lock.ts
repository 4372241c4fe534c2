// The directory lock: `writer.pid` names the one process allowed to change the log, the writer
// (openLog) or a repair tool (acquireRepairLock). This file is the single definition of "held by a
// live process" for the writer, the raw repair tools and recover-dump.
//
// Taking it is atomic: the pid is written to a private file, fsynced, then link()ed to writer.pid,
// which fails with EEXIST while anyone holds it, so two starters can never both win and a reader
// of writer.pid never sees it empty. A pid file whose process is gone is stale (a crash) and is
// broken by renaming it away, then checking that what was renamed really was the stale one.

import path from 'node:path'
import { MI_ERR_LOG_LOCKED } from './errors.ts'
import { afs, fs } from './fsio.ts'
import { fileModeIn, fsyncDir, kLockFile } from './meta.ts'

export type LockHolder = 'writer' | 'repair'

/** Directories whose lock this process holds. Our own pid in a file not listed here is stale. */
const held = new Map<string, LockHolder>()
let tmpCounter = 0

/** State letter and start time (clock ticks since boot) of a process, from /proc (Linux). */
function procStat(pid: number): { state: string; start: string } | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    // "pid (comm) S ppid …": comm may hold spaces and parens, so split after the last ')'.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return { state: f[0]!, start: f[19]! }
  } catch {
    return undefined
  }
}

/**
 * A process with this pid exists and is not a zombie. EPERM means it exists but belongs to another
 * user (a server under a service account): still alive. A SIGKILLed writer that its parent has not
 * reaped yet is a zombie holding nothing: dead. With `start` (the holder's start time recorded in
 * writer.pid), a pid reused by an unrelated process after a crash is dead too.
 */
export function pidAlive(pid: number, start?: string): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  const st = procStat(pid)
  if (!st) return true // no /proc: trust kill(0)
  if (st.state === 'Z' || st.state === 'X' || st.state === 'x') return false
  return start === undefined || start === st.start
}

interface PidFile {
  pid: number
  start?: string
}

/** writer.pid: "<pid>\n<start time>\n" (the second line since the zombie/pid-reuse checks; optional). */
function readPid(file: string): PidFile | undefined {
  try {
    const [first, second] = fs.readFileSync(file, 'utf8').split('\n')
    const pid = Number(first!.trim())
    if (!Number.isInteger(pid) || pid <= 0) return undefined
    const start = second?.trim()
    return start ? { pid, start } : { pid }
  } catch {
    return undefined
  }
}

function live(dir: string, p: PidFile): boolean {
  // crash() (the test hook) leaves our own pid behind: only a lock this process still holds counts.
  return p.pid === process.pid ? held.has(dir) : pidAlive(p.pid, p.start)
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
  const p = readPid(path.join(abs, kLockFile))
  return p === undefined ? { pid: null, live: false } : { pid: p.pid, live: live(abs, p) }
}

export interface AcquireOptions {
  /**
   * How long to wait for a live holder to go away before MI_ERR_LOG_LOCKED (default 0: at once).
   * A server restarted right after SIGKILL finds the dying process still in the table for a moment.
   */
  waitMs?: number
}

/** Take the lock or throw MI_ERR_LOG_LOCKED naming the live holder. */
export async function acquireLock(dir: string, holder: LockHolder, opts: AcquireOptions = {}): Promise<void> {
  const abs = path.resolve(dir)
  if (held.has(abs)) throw new MI_ERR_LOG_LOCKED(abs, process.pid)
  const lockFile = path.join(abs, kLockFile)
  const tmp = `${lockFile}.tmp-${process.pid}-${++tmpCounter}`
  const deadline = Date.now() + (opts.waitMs ?? 0)
  const fd = fs.openSync(tmp, 'w', fileModeIn(abs))
  try {
    fs.writeSync(fd, `${process.pid}\n${procStat(process.pid)?.start ?? ''}\n`)
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
      const p = readPid(lockFile)
      if (p !== undefined && live(abs, p)) {
        if (p.pid === process.pid || Date.now() >= deadline) throw new MI_ERR_LOG_LOCKED(abs, p.pid)
        await new Promise((r) => setTimeout(r, 25))
        continue
      }
      // Others breaking the same stale lock at the same time: give up after a few rounds.
      if (attempt >= 5 && Date.now() >= deadline) throw new MI_ERR_LOG_LOCKED(abs, p?.pid ?? 0)
      breakStale(abs, lockFile, p?.pid)
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
  if (got !== undefined && got.pid !== stalePid && live(dir, got)) {
    // Between our read and our rename another process took the lock: give it back.
    try {
      fs.linkSync(aside, lockFile)
    } catch {}
    fs.rmSync(aside, { force: true })
    throw new MI_ERR_LOG_LOCKED(dir, got.pid)
  }
  fs.rmSync(aside, { force: true })
}

/** Remove writer.pid if it is ours and forget the lock. */
export async function releaseLock(dir: string): Promise<void> {
  const abs = path.resolve(dir)
  if (!held.has(abs)) return
  const lockFile = path.join(abs, kLockFile)
  if (readPid(lockFile)?.pid === process.pid) await afs.rm(lockFile, { force: true })
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
