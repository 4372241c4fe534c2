/**
 * Recovery time after SIGKILL: how long openLog takes on a big log whose writer was killed
 * mid-append. Not part of the test suite.
 *
 *   cd packages/log && node bench/recovery.bench.ts                 # 1 GiB log
 *   MI_BENCH_GIB=10 node bench/recovery.bench.ts                    # 10 GiB (takes minutes)
 *   MI_BENCH_DIR=/path/on/the/real/disk node bench/recovery.bench.ts
 *
 * A child process fills the log (1 KiB bodies, batches of 64, flush 'always' with default
 * segment and checkpoint sizes) to the target size, keeps appending, and is SIGKILLed. The parent
 * then times openLog (recovery) three times: right after the kill (cold-ish), and after a clean
 * close for comparison, and reports how many bytes recovery scanned.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { openLog } from '../src/index.ts'

if (process.argv[2] === '--child') {
  const [dir, target] = process.argv.slice(3)
  const log = await openLog(dir!)
  const body = new Uint8Array(1024).map((_, i) => i * 13)
  let seq = log.moduleHwm('bench')
  let said = false
  const tick = (): void => {
    for (let k = 0; k < 16; k++) {
      const rts = Date.now() * 1000
      log.append({
        module: 'bench',
        core: '',
        seq: ++seq,
        rts,
        records: Array.from({ length: 64 }, (_, i) => ({ stream: `s${i % 4}`, ts: rts, body })),
      })
    }
    if (!said && log.stats().bytesOnDisk >= Number(target)) {
      said = true
      process.stdout.write('FULL\n')
    }
    void log.sync().then(tick)
  }
  tick()
} else {
  const gib = Number(process.env.MI_BENCH_GIB ?? 1)
  const root = process.env.MI_BENCH_DIR ?? os.tmpdir()
  const dir = fs.mkdtempSync(path.join(root, 'mi-log-recovery-'))
  const target = gib * 1024 ** 3
  const t0 = performance.now()
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', dir, String(target)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  await new Promise<void>((resolve) =>
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('FULL')) resolve()
    }),
  )
  const fillS = (performance.now() - t0) / 1000
  await new Promise((r) => setTimeout(r, 200))
  child.kill('SIGKILL')
  await new Promise((r) => child.on('exit', r))
  const a = performance.now()
  const log = await openLog(dir)
  const afterKillMs = performance.now() - a
  const st = log.stats()
  await log.close()
  const b = performance.now()
  const log2 = await openLog(dir)
  const afterCloseMs = performance.now() - b
  await log2.close()
  console.log(
    JSON.stringify({
      case: `recovery after SIGKILL, ${gib} GiB log`,
      log_bytes: st.bytesOnDisk,
      segments: st.segments,
      fill_s: +fillS.toFixed(1),
      open_after_kill_ms: +afterKillMs.toFixed(1),
      scanned_bytes: st.recovery.scannedBytes,
      truncated: st.recovery.truncated,
      checkpoint: st.recovery.checkpoint,
      open_after_clean_close_ms: +afterCloseMs.toFixed(1),
    }),
  )
  fs.rmSync(dir, { recursive: true, force: true })
}
