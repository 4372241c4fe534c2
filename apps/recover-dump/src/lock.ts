import fs from 'node:fs'
import path from 'node:path'

// The writer keeps its pid in <log>/writer.pid while it runs (packages/log meta.ts kLockFile; written
// by openLog, removed by close). A pid file whose process is gone is stale (the writer crashed).
const kLockFile = 'writer.pid'

export interface LockState {
  pid: number | null
  /** A process with that pid exists. */
  live: boolean
}

export function writerLock(dir: string): LockState {
  let pid: number
  try {
    pid = Number(fs.readFileSync(path.join(dir, kLockFile), 'utf8').trim())
  } catch {
    return { pid: null, live: false }
  }
  if (!Number.isInteger(pid) || pid <= 0) return { pid: null, live: false }
  return { pid, live: pidAlive(pid) }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: the process exists but belongs to another user (a server running as a service
    // account); that is still a live writer.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
