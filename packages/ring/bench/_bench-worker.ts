// Consumer side of ring.bench.ts (not a benchmark on its own). Both modes do the same per-record
// work: walk 8-byte-header records, make one Uint8Array view per record, touch its first byte.
import { parentPort, workerData } from 'node:worker_threads'
import { RingConsumer } from '../src/index.ts'

interface BenchWorkerData {
  mode: 'ring' | 'port' | 'port-per-record'
  sab?: SharedArrayBuffer
}

const { mode, sab } = workerData as BenchWorkerData
const port = parentPort!

let records = 0
let bytes = 0
let check = 0

if (mode === 'ring') {
  const c = new RingConsumer(sab!)
  const visit = (data: Uint8Array, _kind: number, tag: number) => {
    records++
    bytes += data.length
    check = (check + tag + (data.length > 0 ? data[0]! : 0)) | 0
  }
  for (;;) {
    if (c.read(visit) > 0) {
      c.release()
      continue
    }
    if (c.wait(1000) === 'closed') break
  }
  port.postMessage({ records, bytes, check })
} else if (mode === 'port-per-record') {
  // One message per record: what the ring replaces when records must go out one at a time.
  port.on('message', (msg: { tag: number; data: Uint8Array } | 'end') => {
    if (msg === 'end') {
      port.postMessage({ records, bytes, check })
      return
    }
    const { data, tag } = msg
    records++
    bytes += data.length
    check = (check + tag + (data.length > 0 ? data[0]! : 0)) | 0
  })
} else {
  // MessagePort baseline: 64 KiB ArrayBuffers of records, transferred in, transferred back for reuse.
  port.on('message', (msg: { buf: ArrayBuffer; used: number } | 'end') => {
    if (msg === 'end') {
      port.postMessage({ records, bytes, check })
      return
    }
    const { buf, used } = msg
    const u32 = new Uint32Array(buf)
    let off = 0
    while (off < used) {
      const len = u32[off >>> 2]! & 0xffffff
      const tag = u32[(off >>> 2) + 1]!
      const data = new Uint8Array(buf, off + 8, len)
      records++
      bytes += data.length
      check = (check + tag + (data.length > 0 ? data[0]! : 0)) | 0
      off += (8 + len + 7) & ~7
    }
    port.postMessage({ buf }, [buf])
  })
}
