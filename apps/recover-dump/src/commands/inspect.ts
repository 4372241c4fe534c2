import { listSegments, openReader, readSegment, type SegmentInfo } from '@module-ingest/log'
import { Command } from 'commander'
import { type DirFlags, dirOptions, formatBytes, isoUs, printJson, resolveLogDir, table } from '../common.ts'
import { writerLock } from '../lock.ts'

interface SegmentRow {
  segment: string
  baseLsn: number
  lastLsn: number | undefined
  records: number | undefined
  sizeBytes: number
  state: 'sealed' | 'active'
  index: SegmentInfo['index']
  firstRtsUs: number | undefined
  lastRtsUs: number | undefined
  /** Where a raw read of the segment stopped early, and why. */
  damage?: { offset: number; reason: string }
}

interface Count {
  name: string
  records: number
  bodyBytes: number
}

function bump(map: Map<string, Count>, name: string, bytes: number): void {
  const c = map.get(name) ?? { name, records: 0, bodyBytes: 0 }
  c.records++
  c.bodyBytes += bytes
  map.set(name, c)
}

export async function inspectLog(dir: string, quick: boolean) {
  const lock = writerLock(dir)
  const reader = await openReader(dir)
  try {
    const wm = reader.watermark()
    const segs = await listSegments(dir)
    const streams = new Map<string, Count>()
    const modules = new Map<string, Count>()
    const rows: SegmentRow[] = []
    for (const s of segs) {
      const row: SegmentRow = {
        segment: s.name,
        baseLsn: s.base,
        lastLsn: s.lastLsn,
        records: s.lastLsn === undefined ? undefined : s.lastLsn - s.base + 1,
        sizeBytes: s.sizeBytes,
        state: s.sealed ? 'sealed' : 'active',
        index: s.index,
        firstRtsUs: undefined,
        lastRtsUs: s.maxRtsUs,
      }
      if (!quick) {
        // A live writer may have written groups that are not durable yet: count only what readers
        // could see. With no writer, count what recovery would keep (every valid group).
        const cap = lock.live ? wm.durableLsn : Number.POSITIVE_INFINITY
        let n = 0
        let last: number | undefined
        let minRts: number | undefined
        let maxRts: number | undefined
        const it = readSegment(dir, s.base)
        for (;;) {
          const step = await it.next()
          if (step.done) {
            if (step.value.reason !== undefined && !(lock.live && !s.sealed))
              row.damage = { offset: step.value.endOffset, reason: step.value.reason }
            break
          }
          for (const r of step.value.records) {
            if (r.lsn > cap) continue
            n++
            last = r.lsn
            if (minRts === undefined || r.rts < minRts) minRts = r.rts
            if (maxRts === undefined || r.rts > maxRts) maxRts = r.rts
            bump(streams, r.stream, r.body.length)
            bump(modules, r.module, r.body.length)
          }
        }
        Object.assign(row, { records: n, lastLsn: last, firstRtsUs: minRts, lastRtsUs: maxRts })
      } else if (!s.sealed && wm.segBase === s.base) {
        row.records = Math.max(0, wm.durableLsn - s.base + 1)
        row.lastLsn = row.records > 0 ? wm.durableLsn : undefined
      }
      rows.push(row)
    }
    const byRecords = (a: Count, b: Count) => b.records - a.records || a.name.localeCompare(b.name)
    return {
      dir,
      writer: lock,
      durable: { lsn: wm.durableLsn, segmentBase: wm.segBase, endOffset: wm.endOffset },
      totals: {
        segments: rows.length,
        sizeBytes: rows.reduce((a, r) => a + r.sizeBytes, 0),
        records:
          quick && rows.some((r) => r.records === undefined)
            ? undefined
            : rows.reduce((a, r) => a + (r.records ?? 0), 0),
        firstLsn: rows[0]?.baseLsn,
        lastLsn: rows.findLast((r) => r.lastLsn !== undefined)?.lastLsn,
      },
      segments: rows,
      streams: quick ? undefined : [...streams.values()].sort(byRecords),
      modules: quick ? undefined : [...modules.values()].sort(byRecords),
      groups: reader.groups.list(),
      quarantine: [...reader.quarantine],
    }
  } finally {
    await reader.close()
  }
}

type Report = Awaited<ReturnType<typeof inspectLog>>

const dash = (v: number | string | undefined): string | number => (v === undefined || v === '' ? '-' : v)

function printHuman(r: Report): void {
  const out: string[] = []
  out.push(`log        ${r.dir}`)
  out.push(
    `writer     ${r.writer.pid === null ? 'none' : `pid ${r.writer.pid} (${r.writer.live ? 'running' : 'not running: stale writer.pid'})`}`,
  )
  out.push(
    `durable    lsn ${r.durable.lsn} (segment base ${r.durable.segmentBase}, offset ${r.durable.endOffset})`,
  )
  out.push(
    `total      ${r.totals.segments} segments, ${formatBytes(r.totals.sizeBytes)}, ${r.totals.records ?? '?'} records, lsn ${dash(r.totals.firstLsn)}..${dash(r.totals.lastLsn)}`,
  )
  out.push('', 'SEGMENTS')
  out.push(
    table(
      ['segment', 'base', 'last', 'records', 'size', 'state', 'index', 'first rts', 'last rts', 'damage'],
      r.segments.map((s) => [
        s.segment,
        s.baseLsn,
        dash(s.lastLsn),
        dash(s.records),
        formatBytes(s.sizeBytes),
        s.state,
        s.index,
        dash(isoUs(s.firstRtsUs)),
        dash(isoUs(s.lastRtsUs)),
        s.damage ? `offset ${s.damage.offset}: ${s.damage.reason}` : '',
      ]),
    ),
  )
  for (const [title, list] of [
    ['STREAMS', r.streams],
    ['MODULES', r.modules],
  ] as const) {
    if (!list) continue
    out.push('', title)
    out.push(
      list.length === 0
        ? '(none)'
        : table(
            ['name', 'records', 'body bytes'],
            list.map((c) => [c.name, c.records, c.bodyBytes]),
          ),
    )
  }
  out.push('', 'CONSUMER GROUPS')
  out.push(
    r.groups.length === 0
      ? '(none)'
      : table(
          ['group', 'next lsn', 'lag'],
          r.groups.map((g) => [g.name, g.nextLsn, g.lag]),
        ),
  )
  if (r.quarantine.length > 0) {
    out.push('', 'QUARANTINE')
    out.push(
      table(
        ['segment', 'offset', 'reason', 'detected'],
        r.quarantine.map((q) => [q.segment, q.offset, q.reason, new Date(q.detectedAtMs).toISOString()]),
      ),
    )
  }
  process.stdout.write(`${out.join('\n')}\n`)
}

export function inspectCommand(): Command {
  return dirOptions(new Command('inspect'))
    .description('summarise the log: segments, streams, modules, consumer groups, durable watermark')
    .option('--json', 'print one JSON document instead of tables')
    .option('--quick', 'skip the record scan: segment facts from indexes only (no streams/modules)')
    .action(async (o: DirFlags & { json?: boolean; quick?: boolean }) => {
      const report = await inspectLog(resolveLogDir(o), o.quick === true)
      if (o.json) printJson(report)
      else printHuman(report)
    })
}
