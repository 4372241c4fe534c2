/**
 * What it measures: the ceiling of each piece of the upload path, alone, for 1 KiB JSON records
 * (the benchmarks/ scenario's bodies): encode (NDJSON base64 / text, msgpack), compression (zstd
 * levels, one buffer), and a bare @aws-sdk PutObject loop of same-size objects against fauxqs in a
 * child process and against a node:http sink (child process) that discards bodies, to separate
 * the store's cost from the client's. MB/s are of record bodies (encode) or of object bytes (PUT).
 *
 * Run: node bench/pieces.bench.ts     (MI_BENCH_OBJECT_MIB=8 MI_BENCH_OBJECTS=24)
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { constants, zstdCompressSync } from 'node:zlib'
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import type { SubscriberRecord } from '@module-ingest/subscriber-sdk'
import { recordToJson } from '@module-ingest/subscriber-sdk'
import { encodeObject, encodeRecords } from '../src/encode.ts'

const kObjectMiB = Number(process.env.MI_BENCH_OBJECT_MIB ?? 8)
const kObjects = Number(process.env.MI_BENCH_OBJECTS ?? 24)

if (process.argv[2] === 'sink') {
  // Reads and discards the body, answers 200 with an ETag: the cheapest possible "store".
  const server = createServer((req, res) => {
    req.on('data', () => {})
    req.on('end', () => res.writeHead(200, { ETag: '"0"' }).end())
  })
  server.listen(0, '127.0.0.1', () =>
    process.stdout.write(`READY ${(server.address() as { port: number }).port}\n`),
  )
} else if (process.argv[2] === 'fauxqs') {
  const { startFauxqs } = await import('fauxqs')
  const s = await startFauxqs({ port: 0, logger: false, s3StorageDir: process.argv[3]! })
  s.createBucket('bench')
  process.stdout.write(`READY ${s.port}\n`)
} else {
  await main()
}

function records(n: number): SubscriberRecord[] {
  const out: SubscriberRecord[] = []
  const now = Date.now() * 1000
  for (let lsn = 1; lsn <= n; lsn++) {
    let text = `{"temp":${(20 + Math.sin(lsn / 100) * 5).toFixed(3)},"vibration":${(Math.cos(lsn / 50) * 2).toFixed(4)},"current":${(3 + Math.sin(lsn / 7)).toFixed(3)},"pad":"`
    while (text.length < 1022) text += (lsn * 7919 + text.length).toString(36)
    text = `${text.slice(0, 1022)}"}`
    out.push({
      lsn,
      stream: 'bench',
      module: `m-${lsn % 8}`,
      core: '',
      seq: BigInt(lsn),
      ts: now,
      rts: now,
      body: Buffer.from(text),
    })
  }
  return out
}

function timed<T>(f: () => T): { s: number; cpu: number; v: T } {
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  const v = f()
  const c = process.cpuUsage(c0)
  return { s: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6, v }
}

async function child(args: string[]): Promise<{ port: number; kill: () => void; pid: number }> {
  const p = spawn(process.execPath, [new URL(import.meta.url).pathname, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const port = await new Promise<number>((resolve) => {
    p.stdout!.on('data', (d: Buffer) => {
      const m = /READY (\d+)/.exec(d.toString())
      if (m) resolve(Number(m[1]))
    })
  })
  return { port, pid: p.pid!, kill: () => p.kill() }
}

function childCpu(pid: number): number {
  // utime + stime of the child, seconds (Linux /proc).
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(f[11]) + Number(f[12])) / 100
}

async function putLoop(
  name: string,
  port: number,
  pid: number,
  body: Buffer,
  concurrency: number,
  checksum: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED',
) {
  const client = new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    requestChecksumCalculation: checksum,
    responseChecksumValidation: checksum,
  })
  await client.send(new PutObjectCommand({ Bucket: 'bench', Key: 'warm', Body: body }))
  const c0 = process.cpuUsage()
  const s0 = childCpu(pid)
  const t0 = performance.now()
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < kObjects) {
        const i = next++
        await client.send(new PutObjectCommand({ Bucket: 'bench', Key: `o/${i}`, Body: body }))
      }
    }),
  )
  const s = (performance.now() - t0) / 1000
  const c = process.cpuUsage(c0)
  const mb = (kObjects * body.length) / 1e6
  console.log(
    JSON.stringify({
      row: `put ${name} c=${concurrency} ${checksum}`,
      mb_per_s: +(mb / s).toFixed(1),
      client_cpu_s_per_100mb: +((((c.user + c.system) / 1e6) * 100) / mb).toFixed(2),
      server_cpu_s_per_100mb: +(((childCpu(pid) - s0) * 100) / mb).toFixed(2),
      load: loadavg()[0]!.toFixed(2),
    }),
  )
  client.destroy()
}

async function main() {
  const n = Math.round((kObjectMiB * 2 ** 20) / 1024)
  const recs = records(n)
  const bodyMb = (n * 1024) / 1e6
  const enc: Record<string, Buffer> = {}
  for (const [name, f, b] of [
    ['ndjson-base64', 'ndjson', 'base64'],
    ['ndjson-text', 'ndjson', 'text'],
    ['msgpack', 'msgpack', 'base64'],
  ] as const) {
    encodeRecords(recs.slice(0, 2000), f, b)
    const best = Math.min(...[0, 1, 2].map(() => timed(() => (enc[name] = encodeRecords(recs, f, b))).cpu))
    console.log(
      JSON.stringify({
        row: `encode ${name}`,
        body_mb_per_cpu_s: +(bodyMb / best).toFixed(1),
        out_mb: +(enc[name]!.length / 1e6).toFixed(1),
        load: loadavg()[0]!.toFixed(2),
      }),
    )
  }
  {
    // The encoder before issue 16's catch-up work, for comparison.
    const old = () => {
      let out = ''
      for (const r of recs) out += `${JSON.stringify(recordToJson(r, 'base64'))}\n`
      return Buffer.from(out, 'utf8')
    }
    const best = Math.min(...[0, 1, 2].map(() => timed(old).cpu))
    console.log(
      JSON.stringify({
        row: 'encode ndjson-base64 (recordToJson + JSON.stringify)',
        body_mb_per_cpu_s: +(bodyMb / best).toFixed(1),
        load: loadavg()[0]!.toFixed(2),
      }),
    )
  }
  for (const [name, format, body] of [
    ['ndjson-base64', 'ndjson', 'base64'],
    ['ndjson-text', 'ndjson', 'text'],
    ['msgpack', 'msgpack', 'base64'],
  ] as const) {
    for (const level of [1, 2, 3]) {
      // Best of three (CPU and wall apart): other work on a shared machine only adds to either.
      let cpu = Number.POSITIVE_INFINITY
      let s = Number.POSITIVE_INFINITY
      let out: Buffer = Buffer.alloc(0)
      for (let k = 0; k < 3; k++) {
        const c0 = process.cpuUsage()
        const t0 = performance.now()
        out = encodeObject(recs, { format, body, compression: 'zstd', compressionLevel: level })
        s = Math.min(s, (performance.now() - t0) / 1000)
        const c = process.cpuUsage(c0)
        cpu = Math.min(cpu, (c.user + c.system) / 1e6)
      }
      console.log(
        JSON.stringify({
          row: `encodeObject ${name} zstd-${level}`,
          body_mb_per_s: +(bodyMb / s).toFixed(1),
          body_mb_per_cpu_s: +(bodyMb / cpu).toFixed(1),
          out_mb: +(out.length / 1e6).toFixed(2),
          load: loadavg()[0]!.toFixed(2),
        }),
      )
    }
  }
  if (process.env.MI_BENCH_PUT === '0') return
  for (const name of ['ndjson-base64', 'ndjson-text', 'msgpack']) {
    for (const level of [1, 3]) {
      let out = Buffer.alloc(0)
      const best = Math.min(
        ...[0, 1].map(
          () =>
            timed(
              () =>
                (out = zstdCompressSync(enc[name]!, {
                  params: { [constants.ZSTD_c_compressionLevel]: level },
                })),
            ).cpu,
        ),
      )
      console.log(
        JSON.stringify({
          row: `zstd-${level} ${name}`,
          body_mb_per_cpu_s: +(bodyMb / best).toFixed(1),
          in_mb_per_cpu_s: +(enc[name]!.length / 1e6 / best).toFixed(1),
          out_mb: +(out.length / 1e6).toFixed(2),
          load: loadavg()[0]!.toFixed(2),
        }),
      )
    }
  }
  const body = zstdCompressSync(enc['ndjson-base64']!, { params: { [constants.ZSTD_c_compressionLevel]: 3 } })
  const raw = enc['ndjson-text']!
  const sink = await child(['sink'])
  const dir = await mkdtemp(join(tmpdir(), 'mi-s3-pieces-'))
  const fq = await child(['fauxqs', dir])
  try {
    for (const [what, b] of [
      ['zst-object', body],
      ['raw-object', raw],
    ] as const) {
      for (const c of [1, 4]) {
        await putLoop(
          `sink ${what} ${(b.length / 2 ** 20).toFixed(1)}MiB`,
          sink.port,
          sink.pid,
          b,
          c,
          'WHEN_SUPPORTED',
        )
        await putLoop(
          `fauxqs ${what} ${(b.length / 2 ** 20).toFixed(1)}MiB`,
          fq.port,
          fq.pid,
          b,
          c,
          'WHEN_SUPPORTED',
        )
      }
      await putLoop(`sink ${what}`, sink.port, sink.pid, b, 1, 'WHEN_REQUIRED')
      await putLoop(`fauxqs ${what}`, fq.port, fq.pid, b, 1, 'WHEN_REQUIRED')
    }
  } finally {
    sink.kill()
    fq.kill()
    await rm(dir, { recursive: true, force: true })
  }
}
