import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ExecutionContext } from 'ava'
import type { RecordSource } from '../src/index.ts'

export function tempDir(t: ExecutionContext, prefix = 'mi-index-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** 2026-11-22T09:00:00Z in µs, plus `seconds`. */
export const at = (seconds: number) =>
  Date.UTC(2026, 10, 22, 9, 0, 0) * 1000 + Math.round(seconds * 1_000_000)

export const all = () => true

/** Brute-force reference aggregation of (ts, lsn, value) points into step buckets. */
export function bruteRange(
  points: Array<{ ts: number; lsn: number; v: number }>,
  fromUs: number,
  toUs: number,
  stepUs: number,
  agg: string,
): Array<[number, number]> {
  const from = fromUs - (((fromUs % stepUs) + stepUs) % stepUs)
  const b = new Map<number, Array<{ ts: number; lsn: number; v: number }>>()
  for (const p of points) {
    const t = p.ts - (((p.ts % stepUs) + stepUs) % stepUs)
    if (p.ts < from || t >= toUs) continue
    const list = b.get(t) ?? []
    list.push(p)
    b.set(t, list)
  }
  const out: Array<[number, number]> = []
  for (const t of [...b.keys()].sort((x, y) => x - y)) {
    const l = b.get(t)!
    const vs = l.map((p) => p.v)
    const sum = vs.reduce((a, c) => a + c, 0)
    const last = l.reduce((a, c) => (c.ts > a.ts || (c.ts === a.ts && c.lsn > a.lsn) ? c : a))
    const value = {
      avg: sum / vs.length,
      min: Math.min(...vs),
      max: Math.max(...vs),
      sum,
      count: vs.length,
      last: last.v,
    }[agg]!
    out.push([t, value])
  }
  return out
}

/** A `RecordSource` over records the test delivered (the harness has no log): testkit defaults filled in. */
export function memorySource(
  recs: Array<{
    lsn: number
    ts: number | bigint
    stream?: string
    module?: string
    core?: string
    body?: string
  }>,
  minLsn = 1,
): RecordSource {
  const full = recs.map((r) => ({
    lsn: r.lsn,
    ts: r.ts,
    stream: r.stream ?? 'test',
    module: r.module ?? 'test-module',
    core: r.core ?? '',
    seq: 0n,
    rts: 0,
    body: new TextEncoder().encode(r.body ?? ''),
  }))
  return {
    async read(first, last, visit) {
      for (const r of full) if (r.lsn >= Math.max(first, minLsn) && r.lsn <= last) visit(r)
    },
  }
}
