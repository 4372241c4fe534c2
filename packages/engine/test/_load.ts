import { writeData, dataFrameSize } from '@module-ingest/protocol'
import { MipSocket } from '@module-ingest/testing'
const [port, token, conns, seconds] = process.argv.slice(2).map((x, i) => (i === 1 ? x : Number(x))) as [number, string, number, number]
const window = 256
const body = Buffer.alloc(128, 97)
const size = dataFrameSize('telemetry.load', body, false)
let acked = 0
const t0 = Date.now()
await Promise.all(Array.from({ length: conns }, async (_, c) => {
  const { sock } = await MipSocket.session(port, { module: `sensor-load-${process.pid}-${c}`, token })
  let seq = 0, ack = 0
  const end = t0 + seconds * 1000
  while (Date.now() < end) {
    const n = window - (seq - ack)
    const buf = Buffer.allocUnsafe(n * size)
    for (let i = 0; i < n; i++) { seq++; writeData(buf, i * size, BigInt(seq), 'telemetry.load', 0, body) }
    sock.write(buf)
    const f = await sock.ackFor(BigInt(ack + 1))
    acked += Number(f) - ack; ack = Number(f)
  }
  sock.close()
}))
console.log(JSON.stringify({ rate: Math.round(acked / ((Date.now() - t0) / 1000)) }))
