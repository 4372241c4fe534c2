/**
 * Disk full: the server answers OVERLOADED, keeps every acknowledged record, and resumes when space
 * returns. A real, small tmpfs plays the disk (mounting needs root, which CI has).
 */
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openReader } from '@module-ingest/log'
import { decodeNackOrError, ErrorCode, encodeData, FrameType } from '@module-ingest/protocol'
import { decide, MipSocket } from '@module-ingest/testing'
import test from 'ava'
import { startTestServer } from './fixtures/_server.ts'

const mountPoint = await mkdtemp(join(tmpdir(), 'mi-full-'))
const mount = (size: string, remount = false) =>
  execFileSync('mount', [
    '-t',
    'tmpfs',
    '-o',
    `${remount ? 'remount,' : ''}size=${size}`,
    'tmpfs',
    mountPoint,
  ])
let reason = ''
try {
  mount('3m')
} catch (err) {
  reason = `cannot mount a tmpfs (needs root): ${(err as Error).message.split('\n')[0]}`
}
const gated = decide('tmpfs mount', reason).gate(test)

test.after.always(async () => {
  if (!reason) execFileSync('umount', ['-l', mountPoint])
  await rm(mountPoint, { recursive: true, force: true })
})

gated('disk full → OVERLOADED, nothing acknowledged lost; space back → sessions resume', async (t) => {
  const s = await startTestServer({ 'log.segmentSizeBytes': 1 << 20 }, mountPoint)
  t.teardown(() => s.server.close())
  const body = Buffer.alloc(1024, 120)
  const { sock } = await MipSocket.session(s.port, { module: 'sensor-full', token: s.token })
  let acked = 0n
  let seq = 0n
  let overloaded = false
  while (!overloaded && seq < 20_000n) {
    for (let i = 0; i < 64; i++) sock.write(encodeData(++seq, { stream: 'telemetry.full', ts: 0, body }))
    for (;;) {
      const f = await sock.next(15_000)
      if (f.type === FrameType.ACK) {
        acked = f.seq
        if (acked === seq) break
      } else if (f.type === FrameType.ERROR) {
        t.is(decodeNackOrError(f.payload).code, ErrorCode.OVERLOADED)
        overloaded = true
        break
      }
    }
  }
  t.true(overloaded, 'the server said OVERLOADED before 20 MiB went into a 3 MiB disk')
  t.log(`acknowledged up to seq ${acked} before the disk filled`)

  // While the log cannot write, new connections are refused with OVERLOADED.
  const refused = await MipSocket.connect(s.port)
  t.is(await refused.expectError(), ErrorCode.OVERLOADED)

  mount('64m', true)
  let resumed: { sock: MipSocket; hwm: bigint } | null = null
  for (let i = 0; i < 100 && !resumed; i++) {
    resumed = await MipSocket.session(s.port, { module: 'sensor-full', token: s.token }).catch(() => null)
    if (!resumed) await new Promise((r) => setTimeout(r, 200))
  }
  t.truthy(resumed, 'a session opens again once space is back')
  const { hwm } = resumed!
  t.true(hwm >= acked, `HELLO_OK ${hwm} covers every ACK (${acked})`)
  resumed!.sock.write(encodeData(hwm + 1n, { stream: 'telemetry.full', ts: 0, body }))
  t.is(await resumed!.sock.ackFor(hwm + 1n), hwm + 1n)
  resumed!.sock.close()
  await s.server.close()

  const reader = await openReader(join(mountPoint, 'log'))
  const cursor = reader.cursor({ fromLsn: 1 })
  const seqs = new Set<bigint>()
  for (let b = await cursor.read({ maxRecords: 10_000 }); b.length > 0; b = await cursor.read({})) {
    for (const r of b) seqs.add(r.seq)
  }
  await reader.close()
  for (let q = 1n; q <= acked; q++) if (!seqs.has(q)) t.fail(`acknowledged seq ${q} is missing`)
  t.true(seqs.has(hwm + 1n))
})
