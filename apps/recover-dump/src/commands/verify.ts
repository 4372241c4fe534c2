import { listSegments, openReader, verifyLog } from '@module-ingest/log'
import { Command } from 'commander'
import { type DirFlags, dirOptions, formatBytes, kExit, printJson, resolveLogDir } from '../common.ts'
import { writerLock } from '../lock.ts'
import { Progress } from '../progress.ts'

/**
 * What a finding means:
 * - corrupt      a bad group inside durable data (a sealed segment, or the active one before the
 *                durable end): acknowledged records are damaged
 * - torn-tail    a bad group at the end of the last segment past the durable end: a crash
 *                mid-write; recovery (server start or `repair`) truncates it
 * - lsn-gap      a segment does not start where the previous one ended
 * - quarantined  corrupt, and already in quarantine.json (readers stop there); fails only --strict
 * - in-flight    the tail a live writer is writing right now: not a problem, not counted
 */
export type FindingKind = 'corrupt' | 'torn-tail' | 'lsn-gap' | 'quarantined' | 'in-flight'

export interface Finding {
  kind: FindingKind
  segment: string
  offset: number
  reason: string
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
    if (prev && !prev.corruption && prev.lastLsn !== undefined && s.base !== prev.lastLsn + 1) {
      findings.push({
        kind: 'lsn-gap',
        segment: s.segment,
        offset: 0,
        reason: `segment starts at lsn ${s.base}, previous one ends at ${prev.lastLsn}`,
      })
    }
    const c = s.corruption
    if (!c) continue
    let kind: FindingKind
    if (s === last) {
      // Durable data ends at (wm.segBase, wm.endOffset): a bad group before that was acknowledged.
      const durableEnd = wm.segBase === s.base ? wm.endOffset : wm.segBase > s.base ? s.sizeBytes : 0
      if (c.offset < durableEnd) kind = 'corrupt'
      else kind = writing ? 'in-flight' : 'torn-tail'
    } else kind = 'corrupt'
    if (kind === 'corrupt' && quarantine.some((q) => q.segment === c.segment && q.offset <= c.offset))
      kind = 'quarantined'
    findings.push({ kind, segment: c.segment, offset: c.offset, reason: c.reason })
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
  corrupt: 'durable data damaged; `repair` quarantines it',
  'torn-tail': 'crash mid-write; `repair` (or the next server start) truncates it',
  'lsn-gap': 'records missing between segments',
  quarantined: 'known: already quarantined',
  'in-flight': 'being written by the live writer',
}

export function verifyCommand(): Command {
  return dirOptions(new Command('verify'))
    .description('CRC-check every group of every segment; exit 3 when the log is damaged')
    .option('--json', 'print the report as JSON')
    .option('--strict', 'also fail on corruption that is already quarantined')
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
            `  ${isError(f, strict) ? 'error' : 'note '} ${f.kind}: segment ${f.segment} offset ${f.offset}: ${f.reason} (${kHint[f.kind]})`,
          )
        }
        for (const w of r.warnings) lines.push(`  warn  ${w} (\`repair\` rebuilds it)`)
        // The summary goes to stdout so that scripts can capture it; the bar lives on stderr.
        process.stdout.write(`${lines.join('\n')}\n`)
      }
      process.exitCode = ok ? kExit.ok : kExit.corrupt
    })
}
