import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { SubscriberRecord } from '@module-ingest/subscriber-sdk'
import type { PartialRecord } from '@module-ingest/subscriber-sdk/testkit'
import type { ExecutionContext } from 'ava'
import { type ReadArchiveOptions, readArchive } from '../src/index.ts'

export function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'mi-disk-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** 2026-11-22T09:00:00Z in µs, plus `minutes`. */
export const at = (minutes: number) => Date.UTC(2026, 10, 22, 9, 0, 0) * 1000 + minutes * 60_000_000

export function records(from: number, to: number, f: (lsn: number) => Partial<PartialRecord> = () => ({})) {
  const out: PartialRecord[] = []
  for (let lsn = from; lsn <= to; lsn++) {
    out.push({
      lsn,
      stream: lsn % 2 ? 'telemetry.temp' : 'telemetry.hum',
      module: `m${lsn % 3}`,
      core: lsn % 5 ? '' : 'c1',
      seq: BigInt(lsn * 10),
      ts: at(0) + lsn,
      rts: at(0) + lsn * 2,
      body: `body-${lsn}`,
      ...f(lsn),
    })
  }
  return out
}

export async function readAll(options: ReadArchiveOptions): Promise<SubscriberRecord[]> {
  const out: SubscriberRecord[] = []
  for await (const r of readArchive(options)) out.push(r)
  return out
}

export const text = (r: SubscriberRecord) => new TextDecoder().decode(r.body)
