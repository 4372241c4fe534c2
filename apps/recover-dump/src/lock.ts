import { readWriterLock, type WriterLockState } from '@module-ingest/log'

// The writer (or a repair) keeps its pid in <log>/writer.pid while it runs. What counts as live
// (EPERM included: a server under a service account) is defined once, by @module-ingest/log.
export type LockState = WriterLockState

export function writerLock(dir: string): LockState {
  return readWriterLock(dir)
}
