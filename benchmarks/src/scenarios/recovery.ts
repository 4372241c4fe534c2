/**
 * Recovery after a crash: fill a fresh log with 1 GiB of records (10 GiB with `--big`, 16 MiB with
 * `--quick`) through MIP/1 BATCH frames, SIGKILL the server, and time the restart from spawn until
 * it logs `ServerListening` (the log's recovery runs before the listener opens). A cold start on an
 * empty data dir is reported beside it as the fixed cost (Node start-up, workers, credentials).
 *
 * Not part of the test suite (benchmarks/test/quick.test.ts runs the 16 MiB version).
 * Command: node benchmarks/src/run.ts recovery-1g
 *          node benchmarks/src/run.ts recovery-1g --big     (10 GiB: needs ~11 GiB free on the scratch disk)
 * Prerequisites: free disk for the log under the scratch dir (--scratch, default benchmarks/.scratch).
 */
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fillLog, kFillBodyBytes, kFillRecordsPerFrame } from '../load/fill.ts'
import { emptyRow } from '../measure.ts'
import { ProcMonitor } from '../procs.ts'
import type { Row, RunContext, Scenario } from '../scenario.ts'
import { type OursServer, startOurs } from '../targets/ours.ts'

const kGiB = 1024 ** 3

interface WriterStats {
  writer?: { log?: { bytesOnDisk?: number; durableLsn?: number; segments?: number } }
}

export const recoveryScenario: Scenario = {
  name: 'recovery-1g',
  group: 'recovery',
  description: 'write 1 GiB of log (10 GiB with --big), SIGKILL, time the restart until it listens',
  quick: true,
  full: true,
  async run(ctx: RunContext): Promise<Row[]> {
    if (!ctx.targets.has('ours')) return []
    const targetBytes = ctx.quick ? 16 * 1024 ** 2 : ctx.big ? 10 * kGiB : kGiB
    const dataDir = join(ctx.scratch, 'recovery')
    const row = emptyRow(this.name, 'ours', {
      body_bytes: kFillBodyBytes,
      connections: 4,
      window: ctx.window,
    })
    let server: OursServer | null = null
    let mon: ProcMonitor | null = null
    try {
      // Filling is not what is measured; `interval` gets there faster. Recovery reads the same format.
      server = await startOurs({ dataDir, flush: 'interval' })
      row.extra.cold_start_ms = Math.round(server.startMs)
      ctx.log(
        `  filling ${(targetBytes / 1024 ** 2).toFixed(0)} MiB (BATCH frames of ${kFillRecordsPerFrame} × 1 KiB) …`,
      )
      const { outcome: fill } = await fillLog(server, {
        bytes: targetBytes,
        window: Math.min(ctx.window, 32),
        timeoutMs: ctx.big ? 900_000 : 300_000,
      })
      row.extra.fill_mb_per_s = Math.round(fill.mbPerSec * 10) / 10
      row.errors += fill.errors + fill.timedOut
      const before = (await server.stats()) as WriterStats
      const log = before.writer?.log
      row.extra.log_mib = Math.round((log?.bytesOnDisk ?? 0) / 1024 ** 2)
      row.extra.segments = log?.segments ?? 0
      const lsnBefore = log?.durableLsn ?? 0
      ctx.log(`  wrote ${row.extra.log_mib} MiB in ${row.extra.segments} segments; SIGKILL and restart …`)
      await server.kill()
      server = null

      server = await startOurs({ dataDir, flush: 'interval', startTimeoutMs: 600_000 })
      mon = new ProcMonitor(server.pid)
      row.extra.restart_ms = Math.round(server.startMs)
      const after = (await server.stats()) as WriterStats
      const lsnAfter = after.writer?.log?.durableLsn ?? 0
      row.extra.recovered_records = lsnAfter
      // Everything acknowledged before the kill must be there after it.
      if (lsnAfter < lsnBefore) {
        row.errors++
        row.extra.lost_records = lsnBefore - lsnAfter
      }
      row.msgs_per_s = fill.msgsPerSec
      row.mb_per_s = fill.mbPerSec
    } catch (err) {
      row.errors++
      row.extra.failed = (err as Error).message.split('\n')[0]!
      ctx.log(`  failed: ${(err as Error).message}`)
    } finally {
      if (mon) {
        const u = mon.stop()
        row.rss_peak_mib = u.rssPeakMiB
      }
      await server?.kill()
      await rm(dataDir, { recursive: true, force: true })
    }
    return [row]
  },
}
