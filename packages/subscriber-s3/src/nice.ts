import { readlinkSync } from 'node:fs'
import { getPriority, setPriority } from 'node:os'
import { isMainThread } from 'node:worker_threads'

/**
 * Lower the scheduling priority of this worker thread only (Linux: nice values are per thread,
 * and `/proc/thread-self` names this thread's id). Catch-up encodes and compresses as fast as it
 * can; on a small edge host the ingest threads must win the CPU when both want it, and then the
 * uploader takes whatever is left. Raising a nice value needs no privilege. Elsewhere (the main
 * thread, other systems, a sandbox without /proc) it does nothing and says so.
 */
export function niceThisWorker(nice: number): boolean {
  if (nice === 0 || isMainThread || process.platform !== 'linux') return false
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').at(-1))
    if (!Number.isInteger(tid) || tid <= 0) return false
    // Only ever lower the priority: a process already started under `nice` keeps its own value.
    setPriority(tid, Math.max(nice, getPriority(tid)))
    return true
  } catch {
    return false
  }
}
