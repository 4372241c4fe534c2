/**
 * The slice of `@module-ingest/log`'s reader API this package consumes (ARCHITECTURE.md,
 * "Contracts between packages"). Declared structurally so the engine can hand in a reader it
 * already has open, and tests can run against the real log.
 */
export interface StoredRecord {
  lsn: number
  stream: string
  module: string
  core: string
  seq: bigint
  ts: number
  rts: number
  body: Uint8Array
}

export interface LogCursor {
  read(opts: { maxRecords: number; maxBytes: number }): Promise<StoredRecord[]>
  waitForData(opts: { signal?: AbortSignal; timeoutMs?: number }): Promise<unknown>
  close?(): unknown
}

export interface LogGroups {
  get(name: string): number | undefined | Promise<number | undefined>
  commit(name: string, nextLsn: number): unknown
  list?(): unknown
}

export interface LogReader {
  cursor(opts: { fromLsn?: number; fromTimeUs?: number; streams?: string[] }): LogCursor
  durableLsn(): number
  groups: LogGroups
  close?(): unknown
}
