/**
 * Printing float32 model outputs: the widened double's shortest text (String(x), what the result
 * JSON used before) against f32Text (the shortest float32 text), in ns of CPU per value, over
 * distinct values (a repeated value would hit V8's number-string cache and flatter String(x)); then
 * the whole result record (resultWriter: 4 float32 outputs, lsn, ts, provenance) per record.
 *
 *   node packages/subscriber-ai/bench/f32-text.bench.ts
 */
import { f32Text } from '../src/f32-text.ts'
import { resultWriter } from '../src/result-json.ts'

const N = 1 << 20
const values = new Float32Array(N)
// Like the shipped model's outputs: a score in the hundreds, codes around ±3.
const fill = () => {
  for (let i = 0; i < N; i++) values[i] = i % 4 === 0 ? Math.random() * 1000 : (Math.random() - 0.5) * 6
}
const cpuNs = (c: NodeJS.CpuUsage) => (c.user + c.system) * 1000

function perValue(name: string, print: (x: number) => string): void {
  fill()
  let chars = 0
  const c0 = process.cpuUsage()
  for (let i = 0; i < N; i++) chars += print(values[i]!).length
  console.log(
    `${name.padEnd(10)} ${(cpuNs(process.cpuUsage(c0)) / N).toFixed(0)} ns/value, ${(chars / N).toFixed(1)} chars`,
  )
}

function perRecord(): void {
  const n = 512
  const rounds = 1000
  fill()
  const recs = Array.from({ length: n }, (_, i) => ({
    lsn: i,
    module: `pump-${i >> 6}`,
    core: '',
    stream: 'bench',
    ts: 0,
  }))
  let bytes = 0
  const c0 = process.cpuUsage()
  for (let k = 0; k < rounds; k++) {
    const at = (k * n * 4) % (N - n * 4)
    const score = { dims: [n, 1], data: values.subarray(at, at + n) }
    const code = { dims: [n, 3], data: values.subarray(at + n, at + n * 4) }
    const write = resultWriter(['score', 'code'], [score, code], n)
    for (let i = 0; i < n; i++) {
      const r = recs[i]!
      r.lsn = k * n + i
      r.ts = 1_760_000_000_000_000 + r.lsn * 997
      bytes += Buffer.byteLength(write(r as never, i, undefined))
    }
  }
  const records = rounds * n
  console.log(
    `resultWriter ${(cpuNs(process.cpuUsage(c0)) / records).toFixed(0)} ns/record, ${(bytes / records).toFixed(0)} B`,
  )
}

for (let round = 0; round < 3; round++) {
  perValue('String(x)', (x) => `${x}`)
  perValue('f32Text', f32Text)
  perRecord()
}
