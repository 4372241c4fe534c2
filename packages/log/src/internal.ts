// Test-only and sibling-package internals (STYLE §3: two entry points).

export * as format from './format.ts'
export * from './index.ts'
export type { WriterIo } from './io.ts'
export { realIo } from './io.ts'
export { kCrash, kIo } from './log.ts'
export * as meta from './meta.ts'
