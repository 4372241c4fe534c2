/**
 * What touching fresh memory costs on this host, against reusing a buffer: a batch of `size` bytes
 * copied into a new ArrayBuffer on one thread and moved to another that drops it (as the
 * subscriber runtime moves each batch into a pool worker), per GiB copied; then the same copy into
 * one buffer kept for the whole run. On a VM whose page faults are expensive the difference is
 * what a catch-up's fresh buffers cost beyond the copy itself (packages/subscriber-s3 README,
 * "Catch-up and ingest"). Prints one line per size.
 *
 * Command: node benchmarks/src/host-memory.ts [MiB ...]   (default 64 16 8)
 */
import { isMainThread, parentPort, Worker } from 'node:worker_threads'

const kGiB = 2 ** 30

function usage(from: NodeJS.CpuUsage): string {
  const u = process.cpuUsage(from)
  return `user ${(u.user / 1000).toFixed(0)} ms, sys ${(u.system / 1000).toFixed(0)} ms`
}

async function fresh(mib: number): Promise<string> {
  const sink = new Worker(new URL(import.meta.url), { argv: ['--sink'] })
  const src = Buffer.alloc(mib << 20, 7)
  const n = Math.round(kGiB / (mib << 20))
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  for (let i = 0; i < n; i++) {
    const ab = Buffer.allocUnsafeSlow(mib << 20).buffer as ArrayBuffer
    new Uint8Array(ab).set(src)
    sink.postMessage(ab, [ab])
    // At most four in flight, as a dispatcher with a few batches out.
    if (i % 4 === 3) await new Promise((r) => sink.once('message', r))
  }
  const ms = performance.now() - t0
  await sink.terminate()
  return `${mib} MiB batches, fresh buffers: ${ms.toFixed(0)} ms per GiB (process ${usage(c0)})`
}

function reused(mib: number): string {
  const src = Buffer.alloc(mib << 20, 7)
  const keep = new Uint8Array(mib << 20)
  keep.set(src) // its pages are in before the clock starts
  const n = Math.round(kGiB / (mib << 20))
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  for (let i = 0; i < n; i++) keep.set(src)
  return `${mib} MiB batches, one reused buffer: ${(performance.now() - t0).toFixed(0)} ms per GiB (process ${usage(c0)})`
}

if (!isMainThread) {
  let k = 0
  parentPort!.on('message', () => {
    if (++k % 4 === 0) parentPort!.postMessage('ok')
  })
} else {
  const sizes = process.argv
    .slice(2)
    .map(Number)
    .filter((x) => x > 0)
  for (const mib of sizes.length > 0 ? sizes : [64, 16, 8]) {
    console.log(await fresh(mib))
    console.log(reused(mib))
  }
}
