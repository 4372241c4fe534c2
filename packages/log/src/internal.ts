// Test-only and sibling-package internals (STYLE §3: two entry points).

export { kCrash, kIo } from './crash-hook.ts'
export * as format from './format.ts'
export * from './index.ts'
export type { WriterIo } from './io.ts'
export { realIo } from './io.ts'
export * as meta from './meta.ts'

import { kCrash as kC, kIo as kI } from './crash-hook.ts'
import type { WriterIo as Io } from './io.ts'
import type { Log } from './log.ts'

/**
 * Test hook: stop the writer like SIGKILL would (no flush, no checkpoint; written bytes stay).
 * Resolves when the syscalls it had issued have completed (openLog of the directory waits for it).
 */
export function crash(log: Log): Promise<void> {
  return (log as unknown as { [kC](): Promise<void> })[kC]()
}

/** Test hook: route the writer's data-path I/O through `io` (fault injection). */
export function setIo(log: Log, io: Io): void {
  ;(log as unknown as { [kI]: Io })[kI] = io
}

/** Test-only: the power-loss file layer (fault-fs.ts) and the seam it plugs into (fsio.ts). */
export { FaultFs, type FaultOp } from './fault-fs.ts'
export { type FileLayer, setFileLayer } from './fsio.ts'
