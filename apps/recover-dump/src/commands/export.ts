import fs from 'node:fs'
import path from 'node:path'
import { Progress } from '@module-ingest/telemetry/progress'
import { Command } from 'commander'
import { type DirFlags, dirOptions, formatBytes, resolveLogDir } from '../common.ts'
import { MI_ERR_RECOVER_USAGE } from '../errors.ts'
import { type ExportFormat, encodeRecord, kExportFormats, kMsgpackMagic } from '../export-format.ts'
import { type FilterFlags, selection } from '../filters.ts'
import { reportGaps, scanRecords } from '../records.ts'
import { filterOptions } from './dump.ts'

const kFlushBytes = 1024 * 1024

export function exportCommand(): Command {
  return filterOptions(dirOptions(new Command('export')))
    .description('write committed records to a file for replay (NDJSON or length-prefixed msgpack)')
    .requiredOption('-o, --out <file>', 'output file (written as <file>.partial, renamed when complete)')
    .option('--format <format>', `${kExportFormats.join('|')}`, 'ndjson')
    .action(async (o: DirFlags & FilterFlags & { out: string; format: string }) => {
      if (!(kExportFormats as readonly string[]).includes(o.format))
        throw new MI_ERR_RECOVER_USAGE(`--format expects ${kExportFormats.join(' or ')}, got "${o.format}"`)
      const format = o.format as ExportFormat
      const dir = resolveLogDir(o)
      const sel = selection(o)
      const scan = await scanRecords(dir, sel)
      const out = path.resolve(o.out)
      const partial = `${out}.partial`
      // Progress in LSNs: the filters' hit rate is unknown up front, the LSN range is not.
      const start = scan.position()
      const end = sel.to && 'lsn' in sel.to ? Math.min(sel.to.lsn, scan.endLsn) : scan.endLsn
      const bar = new Progress({ label: 'export', total: Math.max(0, end - start + 1), unit: 'records' })
      const fd = fs.openSync(partial, 'w')
      let records = 0
      let bytes = 0
      try {
        const chunks: Buffer[] = []
        let pending = 0
        const flush = () => {
          const buf = Buffer.concat(chunks)
          fs.writeSync(fd, buf)
          bytes += buf.length
          chunks.length = 0
          pending = 0
        }
        if (format === 'msgpack') chunks.push(kMsgpackMagic)
        for await (const r of scan.records) {
          const b = encodeRecord(r, format)
          chunks.push(b)
          pending += b.length
          records++
          if (pending >= kFlushBytes) flush()
          bar.update(Math.max(0, r.lsn - start + 1))
        }
        flush()
        fs.fsyncSync(fd)
      } catch (err) {
        fs.closeSync(fd)
        fs.rmSync(partial, { force: true })
        throw err
      }
      fs.closeSync(fd)
      fs.renameSync(partial, out)
      bar.update(Math.max(0, end - start + 1))
      bar.stop()
      const skipped = scan.gaps.reduce((a, g) => a + (g.records ?? 0), 0) // a cursor's gaps always count
      process.stdout.write(
        `exported ${records} records (${formatBytes(bytes)}, ${format}) to ${out}` +
          `${skipped > 0 ? `; skipped ${skipped} unreadable records in ${scan.gaps.length} damaged range(s) (listed on stderr)` : ''}\n`,
      )
      process.exitCode = reportGaps(scan)
    })
}
