// The flush policy (option `flush`) as one strategy object. Every place where the writer behaves
// differently under 'always', 'interval' or 'none' asks this object, and nowhere else tests the
// policy's name: a new policy is a new object here.
import type { FlushPolicy } from './config.ts'
import type { WriterIo } from './io.ts'

export interface FlushStrategy {
  readonly policy: FlushPolicy
  /**
   * True ('always'): a group is reported durable (watermark, onDurable, ACK) only after the
   * fdatasync covering it returned, and a new name's catalog entry is fdatasynced before the first
   * group using it is written. The published watermark is then a lower bound of what is on disk,
   * which recovery relies on. False: a group counts as durable once written (page cache).
   */
  readonly syncsCommits: boolean
  /** A group was written without an fdatasync. */
  wrote(): void
  /**
   * Make what was written to these fds durable, when commits did not already: before a checkpoint
   * names it, before a segment is sealed, before sync() resolves.
   */
  settle(io: WriterIo, fds: readonly number[]): Promise<void>
  /**
   * Background flushing: `flush` is called periodically while something was written and not
   * synced; it returns false when it cannot run now (the writer is not open), so the write stays
   * pending. Returns the function that stops it.
   */
  start(flush: () => boolean): () => void
}

const always: FlushStrategy = {
  policy: 'always',
  syncsCommits: true,
  wrote() {},
  async settle() {},
  start: () => () => {},
}

/** 'interval' (every `intervalMs`) and 'none' (never in the background: the OS decides). */
function deferred(policy: 'interval' | 'none', intervalMs: number): FlushStrategy {
  let dirty = false
  return {
    policy,
    syncsCommits: false,
    wrote() {
      dirty = true
    },
    async settle(io, fds) {
      for (const fd of fds) await io.fdatasync(fd)
    },
    start(flush) {
      if (policy !== 'interval') return () => {}
      const t = setInterval(() => {
        if (dirty && flush()) dirty = false
      }, intervalMs)
      t.unref()
      return () => clearInterval(t)
    },
  }
}

export function flushStrategy(policy: FlushPolicy, intervalMs: number): FlushStrategy {
  return policy === 'always' ? always : deferred(policy, intervalMs)
}
