import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeOp, type KvOp } from '@module-ingest/kv-protocol'
import type { ExecutionContext } from 'ava'
import type { KvRecord } from '../src/store.ts'

export function tempDir(t: ExecutionContext, prefix = 'mi-kv-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** 2026-11-22T09:00:00Z in ms. */
export const T0 = Date.UTC(2026, 10, 22, 9, 0, 0)

/** Builds log records the way the server would: dense lsns, one seq per MIP/1 frame. */
export class LogSim {
  lsn = 0
  seq = 0n
  records: KvRecord[] = []
  /** One frame (DATA for one op, BATCH for several) at server time `atMs`. */
  frame(ns: string, ops: KvOp[], atMs = T0, module = 'dev-1'): KvRecord[] {
    this.seq++
    const out = ops.map((op) => ({
      lsn: ++this.lsn,
      stream: `kv.${ns}`,
      module,
      core: '',
      seq: this.seq,
      rts: atMs * 1000,
      body: encodeOp(op, ops.length),
    }))
    this.records.push(...out)
    return out
  }
  /** A raw record (bad input). */
  raw(stream: string, body: Uint8Array, atMs = T0, module = 'dev-1'): KvRecord[] {
    this.seq++
    const r = { lsn: ++this.lsn, stream, module, core: '', seq: this.seq, rts: atMs * 1000, body }
    this.records.push(r)
    return [r]
  }
}
