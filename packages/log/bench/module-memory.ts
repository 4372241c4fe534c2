// Cost per module in the writer (issue 11 item 3), for N distinct modules:
//  - memory: heap and RSS growth while they are live, and what is left once they were idle past
//    moduleIdleMs;
//  - catalog: bytes of the catalog file with them, and after retention deleted the segments that
//    used them (catalog compaction);
//  - checkpoints: bytes written per checkpoint (checkpoint.N + hwm.N, counted by a file layer) and
//    the time from the first file operation to the last rename, while `active` modules (a different
//    set each round: churn) change per checkpoint, with the N modules' marks on disk.
//   node --expose-gc bench/module-memory.ts [modules=100000] [active=1000]
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { openLog, setFileLayer } from '../src/internal.ts'

const n = Number(process.argv[2] ?? 100_000)
const active = Number(process.argv[3] ?? 1000)
const gc = (globalThis as { gc?: () => void }).gc
if (!gc) throw new Error('run with node --expose-gc')
const mem = () => {
  gc()
  gc()
  const m = process.memoryUsage()
  return { heap: m.heapUsed, rss: m.rss }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

// Bytes written to checkpoint/hwm files, and each file's first-open → rename time.
const fdFile = new Map<number, string>()
const cp = { files: 0, bytes: 0, ms: 0, open: new Map<string, number>() }
const isCp = (p: string) => /\/(checkpoint\.\d|hwm\.\d)/.test(p)
const count = (fd: number, len: number) => {
  if (isCp(fdFile.get(fd) ?? '')) cp.bytes += len
}
setFileLayer({
  open: ((p: string, flags: string, mode: number, cb: (e: Error | null, fd?: number) => void) =>
    fs.open(p, flags, mode, (e, fd) => {
      if (!e) fdFile.set(fd!, p)
      if (!e && isCp(p) && !cp.open.has(p)) cp.open.set(p, performance.now())
      cb(e, fd)
    })) as unknown as typeof fs.open,
  openSync: ((p: string, flags: string, mode?: number) => {
    const fd = fs.openSync(p, flags, mode)
    fdFile.set(fd, p)
    if (isCp(p) && !cp.open.has(p)) cp.open.set(p, performance.now())
    return fd
  }) as typeof fs.openSync,
  write: ((
    fd: number,
    b: Uint8Array,
    o: number,
    l: number,
    p: number,
    cb: (e: Error | null, n?: number) => void,
  ) =>
    fs.write(fd, b, o, l, p, (e, w) => {
      if (!e) count(fd, w)
      cb(e, w)
    })) as unknown as typeof fs.write,
  writeSync: ((fd: number, b: Uint8Array, o?: number, l?: number, p?: number) => {
    const w = fs.writeSync(fd, b, o, l, p)
    count(fd, w)
    return w
  }) as typeof fs.writeSync,
  rename: ((a: string, b: string, cb: (e: Error | null) => void) =>
    fs.rename(a, b, (e) => {
      const t = cp.open.get(a)
      if (t !== undefined) {
        cp.open.delete(a)
        cp.files++
        cp.ms += performance.now() - t
      }
      cb(e)
    })) as unknown as typeof fs.rename,
})

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mi-modmem-'))
try {
  const idleMs = 500
  const segmentSizeBytes = 1 << 20
  const opts = { moduleIdleMs: idleMs, checkpointIntervalMs: 200, segmentSizeBytes }
  let log = await openLog(dir, { ...opts, checkpointIntervalMs: 3_600_000 })
  const one = new Uint8Array([1])
  const name = (i: number) => `sensor-${String(i % n).padStart(7, '0')}`
  const put = (i: number, seq: bigint) =>
    log.append({
      module: name(i),
      core: '',
      seq,
      rts: Date.now() * 1000,
      records: [{ stream: 's', ts: 0, body: one }],
    })
  const before = mem()
  for (let i = 0; i < n; i++) {
    put(i, 1n)
    if (i % 1000 === 999) await log.sync()
  }
  await log.sync()
  const loaded = mem()
  const t0 = Date.now()
  while (log.stats().modulesInMemory > 0 && Date.now() - t0 < 60_000) await sleep(50)
  const idle = mem()
  const catalogFull = fs.statSync(path.join(dir, 'catalog')).size
  await log.close()

  // Checkpoints with the N marks on disk while `active` modules change per round (churn).
  log = await openLog(dir, opts)
  await sleep(500)
  const rounds = 20
  const c0 = { files: cp.files, bytes: cp.bytes, ms: cp.ms }
  let seq = 2n
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < active; j++) put(r * active + j, seq)
    seq++
    await log.sync()
    await sleep(300) // > checkpointIntervalMs: one checkpoint per round
  }
  const cps = { files: cp.files - c0.files, bytes: cp.bytes - c0.bytes, ms: cp.ms - c0.ms }
  await log.close()

  // Retention deletes the segments the N modules wrote (a few live modules keep writing).
  log = await openLog(dir, { ...opts, retention: { maxBytes: 2 * segmentSizeBytes, checkIntervalMs: 50 } })
  const big = new Uint8Array(4096)
  // 8× the retention size: every segment the N modules wrote is gone (so are their names).
  for (let k = 0; k < 2048; k++) {
    for (let j = 0; j < 4; j++)
      log.append({
        module: `live-${j}`,
        core: '',
        seq: BigInt(k + 1),
        rts: Date.now() * 1000,
        records: [{ stream: 's', ts: 0, body: big }],
      })
    await log.sync()
  }
  await sleep(500)
  const catalogAfter = fs.statSync(path.join(dir, 'catalog')).size
  const gone = mem()
  const per = (a: number, b: number) => Number(((a - b) / n).toFixed(1))
  console.log(
    JSON.stringify({
      modules: n,
      bytesPerModule: { heap: per(loaded.heap, before.heap), rss: per(loaded.rss, before.rss) },
      afterIdle: { heapPerModule: per(idle.heap, before.heap), rssPerModule: per(idle.rss, before.rss) },
      catalog: {
        bytesPerModule: per(catalogFull, 0),
        afterRetentionBytes: catalogAfter,
        namesInMemory: log.stats().catalog?.names,
        heapPerModuleAfterRetention: per(gone.heap, before.heap),
      },
      checkpoints: {
        activePerRound: active,
        count: cps.files,
        bytesPerRound: Math.round(cps.bytes / rounds),
        bytesPerChangedModule: Number((cps.bytes / rounds / active).toFixed(1)),
        msPerFile: Number((cps.ms / Math.max(1, cps.files)).toFixed(2)),
      },
      hwmFileBytes: Math.max(
        ...['hwm.0', 'hwm.1'].map((f) =>
          fs.existsSync(path.join(dir, f)) ? fs.statSync(path.join(dir, f)).size : 0,
        ),
      ),
      loadavg: os.loadavg()[0]!.toFixed(1),
    }),
  )
  await log.close()
} finally {
  setFileLayer(undefined)
  fs.rmSync(dir, { recursive: true, force: true })
}
