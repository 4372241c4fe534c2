// Memory per module in the writer (issue 11 item 3): heap and RSS growth for N distinct modules,
// and what is left once they were idle past moduleIdleMs.
//   node --expose-gc bench/module-memory.ts [modules=100000]
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { openLog } from '../src/index.ts'

const n = Number(process.argv[2] ?? 100_000)
const gc = (globalThis as { gc?: () => void }).gc
if (!gc) throw new Error('run with node --expose-gc')
const mem = () => {
  gc()
  gc()
  const m = process.memoryUsage()
  return { heap: m.heapUsed, rss: m.rss }
}
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mi-modmem-'))
try {
  const idleMs = 500
  const log = await openLog(dir, { moduleIdleMs: idleMs, checkpointIntervalMs: 3_600_000 })
  const one = new Uint8Array([1])
  const before = mem()
  for (let i = 0; i < n; i++) {
    const module = `sensor-${String(i).padStart(7, '0')}`
    log.append({
      module,
      core: '',
      seq: 1n,
      rts: Date.now() * 1000,
      records: [{ stream: 's', ts: 0, body: one }],
    })
    if (i % 1000 === 999) await log.sync()
  }
  await log.sync()
  const loaded = mem()
  const t0 = Date.now()
  while (log.stats().modulesInMemory > 0 && Date.now() - t0 < 60_000)
    await new Promise((r) => setTimeout(r, 50))
  const idle = mem()
  const per = (a: number, b: number) => ((a - b) / n).toFixed(0)
  console.log(
    JSON.stringify({
      modules: n,
      bytesPerModule: { heap: per(loaded.heap, before.heap), rss: per(loaded.rss, before.rss) },
      afterIdle: {
        modulesInMemory: log.stats().modulesInMemory,
        heapPerModule: per(idle.heap, before.heap),
        rssPerModule: per(idle.rss, before.rss),
      },
      hwmSnapshotBytes: Math.max(
        ...['hwm.0', 'hwm.1'].map((f) =>
          fs.existsSync(path.join(dir, f)) ? fs.statSync(path.join(dir, f)).size : 0,
        ),
      ),
      loadavg: os.loadavg()[0]!.toFixed(1),
    }),
  )
  await log.close()
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}
