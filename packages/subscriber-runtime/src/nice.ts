import { readlinkSync } from 'node:fs'
import { getPriority, setPriority } from 'node:os'
import { isMainThread } from 'node:worker_threads'

/**
 * Set the scheduling priority (nice) of the calling worker thread only. On Linux nice values are
 * per thread and `/proc/thread-self` names this thread's id, so the server's other threads keep
 * theirs; a thread this one starts later inherits it (Node's shared thread pool too, were this
 * thread the first to use it: the server's engine uses it at startup, before any subscriber
 * starts, and its libuv-worker threads were seen at 0 beside an index worker at 11). Used for
 * each subscriber pool worker (`subscribers[].nice`, before the plugin starts) and the read APIs'
 * thread (`telemetry.reads.nice`).
 *
 * Raising a value (lower priority) needs no privilege; lowering it below the current one needs
 * CAP_SYS_NICE or a nice limit (RLIMIT_NICE), and then this throws the system's error (EACCES).
 * `onlyLower`: never raise this thread's priority above what it has, so a process started under
 * `nice 15` keeps 15 for a setting of 10 (and a setting of 0 changes nothing).
 *
 * Returns the thread's nice value after the call, or null where there is nothing to do: the main
 * thread (it runs ingest), another OS, a sandbox without /proc.
 */
export function setThreadNice(nice: number, options: { onlyLower?: boolean } = {}): number | null {
  if (isMainThread || process.platform !== 'linux') return null
  let tid: number
  try {
    tid = Number(readlinkSync('/proc/thread-self').split('/').at(-1))
  } catch {
    return null
  }
  if (!Number.isInteger(tid) || tid <= 0) return null
  const now = getPriority(tid)
  const target = options.onlyLower ? Math.max(nice, now) : nice
  if (target !== now) setPriority(tid, target)
  return getPriority(tid)
}
