import { listSegments, openReader, verifyLog } from '@module-ingest/log'
import { Progress } from '@module-ingest/telemetry/progress'
import { Command } from 'commander'
import { type DirFlags, dirOptions, formatBytes, kExit, printJson, resolveLogDir } from '../common.ts'
import { writerLock } from '../lock.ts'

/**
 * What a finding means (dump and export agree: they serve every intact record, skip exactly these
 * ranges, and exit 3 when one of them is an error here):
 * - corrupt      a bad group inside durable data (a sealed segment, or the active one before the
 *                durable end): acknowledged records are damaged; readers skip it with a gap
 * - torn-tail    a bad group at the end of the last segment past the durable end: a crash
 *                mid-write; recovery (server start or `repair`) truncates it. Readers never see it
 * - lsn-gap      a segment does not start where the previous one ended
 * - quarantined  corrupt, and recorded as a known loss by `repair`: a note; fails only --strict
 * - restored     quarantine.json lists an offset whose group is intact again (the file was
 *                restored): readers serve it; `repair` drops the entry
 * - in-flight    the tail a live writer is writing right now: not a problem, not counted
 */
export type FindingKind = 'corrupt' | 'torn-tail' | 'lsn-gap' | 'quarantined' | 'restored' | 'in-flight'

export interface Finding {
  kind: FindingKind
  segment: string
  offset: number
  reason: string
  /** Lsns lost (corrupt/quarantined; toLsn undefined: up to the next segment). */
  fromLsn?: number
  toLsn?: number
}

export async function verify(dir: string, onProgress?: (bytes: number) => void) {
  const lock = writerLock(dir)
  // Our own pid there is `repair --yes` holding the lock: nobody is writing.
  const writing = lock.live && lock.pid !== process.pid
  const reader = await openReader(dir)
  const wm = reader.watermark()
  const quarantine = [...reader.quarantine]
  await reader.close()
  const segs = await listSegments(dir)
  let before = 0
  let current = ''
  const sizes = new Map(segs.map((s) => [s.name, s.sizeBytes]))
  const rep = await verifyLog(dir, {
    onProgress: (p) => {
      if (p.segment !== current) {
        if (current) before += sizes.get(current) ?? 0
        current = p.segment
      }
      onProgress?.(before + p.scannedBytes)
    },
  })
  const findings: Finding[] = []
  const warnings: string[] = []
  const last = rep.segments.at(-1)
  for (const [i, s] of rep.segments.entries()) {
    const prev = rep.segments[i - 1]
    if (prev && prev.damage.length === 0 && prev.lastLsn !== undefined && s.base !== prev.lastLsn + 1) {
      findings.push({
        kind: 'lsn-gap',
        segment: s.segment,
        offset: 0,
        reason: `segment starts at lsn ${s.base}, previous one ends at ${prev.lastLsn}`,
      })
    }
    const next = rep.segments[i + 1]
    for (const c of s.damage) {
      let kind: FindingKind
      if (s === last) {
        // Durable data ends at (wm.segBase, wm.endOffset): a bad group before that was acknowledged.
        const durableEnd = wm.segBase === s.base ? wm.endOffset : wm.segBase > s.base ? s.sizeBytes : 0
        if (c.offset < durableEnd) kind = 'corrupt'
        else kind = writing ? 'in-flight' : 'torn-tail'
      } else kind = 'corrupt'
      if (kind === 'corrupt' && quarantine.some((q) => q.segment === c.segment && q.offset === c.offset))
        kind = 'quarantined'
      const toLsn = c.toLsn ?? (next ? next.base - 1 : s === last ? wm.durableLsn : undefined)
      const f: Finding = { kind, segment: c.segment, offset: c.offset, reason: c.reason }
      if (kind === 'corrupt' || kind === 'quarantined') {
        f.fromLsn = c.fromLsn
        if (toLsn !== undefined) f.toLsn = toLsn
      }
      findings.push(f)
    }
  }
  for (const q of quarantine) {
    const s = rep.segments.find((x) => x.segment === q.segment)
    if (s && !s.damage.some((d) => d.offset === q.offset))
      findings.push({
        kind: 'restored',
        segment: q.segment,
        offset: q.offset,
        reason: `quarantined for: ${q.reason}`,
      })
  }
  for (const s of segs) if (s.sealed && s.index !== 'sealed') warnings.push(`${s.name}: sealed index missing`)
  return {
    dir,
    writer: lock,
    segments: rep.segments.length,
    records: rep.segments.reduce((a, s) => a + s.records, 0),
    bytes: rep.segments.reduce((a, s) => a + s.sizeBytes, 0),
    findings,
    warnings,
    perSegment: rep.segments.map((s) => ({
      segment: s.segment,
      baseLsn: s.base,
      lastLsn: s.lastLsn,
      groups: s.groups,
      records: s.records,
      sizeBytes: s.sizeBytes,
      validBytes: s.validBytes,
    })),
  }
}

export const isError = (f: Finding, strict: boolean): boolean =>
  f.kind === 'corrupt' ||
  f.kind === 'torn-tail' ||
  f.kind === 'lsn-gap' ||
  (strict && f.kind === 'quarantined')

const kHint: Record<FindingKind, string> = {
  corrupt: 'durable data damaged; readers skip it; `repair` records it as a known loss',
  'torn-tail': 'crash mid-write; `repair` (or the next server start) truncates it',
  'lsn-gap': 'records missing between segments',
  quarantined: 'known loss, recorded by `repair`',
  restored: 'intact again; `repair` drops the quarantine entry',
  'in-flight': 'being written by the live writer',
}

export function verifyCommand(): Command {
  return dirOptions(new Command('verify'))
    .description('CRC-check every group of every segment; exit 3 when the log is damaged')
    .option('--json', 'print the report as JSON')
    .option('--strict', 'also fail on damage that `repair` recorded as a known loss')
    .action(async (o: DirFlags & { json?: boolean; strict?: boolean }) => {
      const dir = resolveLogDir(o)
      const total = (await listSegments(dir)).reduce((a, s) => a + s.sizeBytes, 0)
      const bar = new Progress({ label: 'verify', total, unit: 'bytes' })
      const started = Date.now()
      const r = await verify(dir, (b) => bar.update(b))
      bar.stop()
      const strict = o.strict === true
      const errors = r.findings.filter((f) => isError(f, strict))
      const ok = errors.length === 0
      if (o.json) printJson({ ok, ...r })
      else {
        const lines = [
          `${ok ? 'OK' : 'DAMAGED'}: ${r.segments} segments, ${r.records} records, ${formatBytes(r.bytes)} checked in ${((Date.now() - started) / 1000).toFixed(1)}s`,
        ]
        for (const f of r.findings) {
          lines.push(
            `  ${isError(f, strict) ? 'error' : 'note '} ${f.kind}: segment ${f.segment} offset ${f.offset}: ${f.reason}` +
              `${f.fromLsn !== undefined ? `, lsns ${f.fromLsn}..${f.toLsn ?? '?'} lost` : ''} (${kHint[f.kind]})`,
          )
        }
        for (const w of r.warnings) lines.push(`  warn  ${w} (\`repair\` rebuilds it)`)
        // The summary goes to stdout so that scripts can capture it; the bar lives on stderr.
        process.stdout.write(`${lines.join('\n')}\n`)
      }
      process.exitCode = ok ? kExit.ok : kExit.corrupt
    })
}
