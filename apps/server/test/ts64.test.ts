/**
 * PROTOCOL.md: a record's ts is any u64. A real server over TCP ACKs DATA and BATCH (plain and
 * zstd) with ts 0, 2^53, 2^63 and 2^64-1, and every reader returns them exactly: the log reader, a
 * subscriber (SubscriberRecord.ts), `tail --format json` and the disk archive (`archive read`).
 * Before: the parser NACKed ts ≥ 2^53 with BAD_PAYLOAD.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openReader, type StoredRecord } from '@module-ingest/log'
import { encodeBatchFrame, encodeData } from '@module-ingest/protocol'
import { MipSocket, startServerProcess } from '@module-ingest/testing'
import test from 'ava'

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url))
const kTs = [0n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n] as const
const kStream = 'telemetry.ts64'

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
  })
}

async function readLog(dataDir: string): Promise<StoredRecord[]> {
  const reader = await openReader(join(dataDir, 'log'))
  const cursor = reader.cursor({ streams: [kStream] })
  const out: StoredRecord[] = []
  for (let got = await cursor.read(); got.length > 0; got = await cursor.read()) out.push(...got)
  await reader.close()
  return out.filter((r) => r.stream === kStream)
}

/** ts 0 is stamped with the receive time; every other value is stored as sent. */
const want = (sent: bigint, rts: number): number | bigint =>
  sent === 0n ? rts : sent <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(sent) : sent

test('u64 ts over TCP: DATA and BATCH (plain, zstd) are ACKed and read back exactly everywhere', async (t) => {
  const cwd = await mkdtemp(join(tmpdir(), 'mi-ts64-'))
  t.teardown(() => rm(cwd, { recursive: true, force: true }))
  const dataDir = join(cwd, 'data')
  const echo = {
    name: 'ts-echo',
    use: fileURLToPath(new URL('./fixtures/ts-echo-plugin.ts', import.meta.url)),
    streams: [kStream],
  }
  // The disk subscriber too: the archive is checked as well.
  const disk = { name: 'disk', use: 'disk', streams: [kStream] }
  const server = await startServerProcess({ dataDir, set: { subscribers: JSON.stringify([disk, echo]) } })
  t.teardown(() => server.kill('SIGKILL'))
  const { sock } = await MipSocket.session(server.port, { module: 'ts64', token: await server.devToken() })
  let seq = 0n
  const sent: { body: string; ts: bigint }[] = []
  for (const ts of kTs) {
    const body = `data:${ts}`
    sock.write(encodeData(++seq, { stream: kStream, ts, body }))
    sent.push({ body, ts })
  }
  for (const compress of [false, true]) {
    const records = kTs.map((ts) => ({ stream: kStream, ts, body: `batch:${compress}:${ts}` }))
    sock.write(encodeBatchFrame(++seq, records, { compress }))
    sent.push(...records.map((r) => ({ body: r.body, ts: r.ts })))
  }
  // An ACK, never a NACK (MipSocket.expect fails on any other frame).
  t.is(await sock.ackFor(seq), seq)
  sock.close()

  const stored = await readLog(dataDir)
  t.deepEqual(
    stored.map((r) => [Buffer.from(r.body).toString(), r.ts]),
    sent.map((s, i) => [s.body, want(s.ts, stored[i]!.rts)]),
    'log reader',
  )

  const tail = await run(['tail', '--stream', kStream, '--format', 'json', '--data-dir', dataDir])
  t.is(tail.code, 0, tail.stderr)
  // JSON: ts is a number up to 2^53-1 and a decimal string above it (recordToJson).
  const jsonTs = (s: { ts: bigint }, i: number) => {
    const w = want(s.ts, stored[i]!.rts)
    return typeof w === 'bigint' ? w.toString() : w
  }
  const lines = tail.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { body: string; ts: number | string })
  t.deepEqual(
    lines.map((l) => [l.body, l.ts]),
    sent.map((s, i) => [s.body, jsonTs(s, i)]),
    'tail --format json',
  )

  // The subscriber saw each ts exactly, with the type SubscriberRecord promises.
  let echoed: { body: string; type: string; ts: string }[] = []
  for (let i = 0; i < 200 && echoed.length < sent.length; i++) {
    const r = await run(['tail', '--stream', 'ts.echo', '--format', 'json', '--data-dir', dataDir])
    echoed = r.stdout.trim()
      ? r.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(JSON.parse(l).body))
      : []
    if (echoed.length < sent.length) await new Promise((res) => setTimeout(res, 100))
  }
  t.deepEqual(
    echoed,
    sent.map((s, i) => {
      const w = want(s.ts, stored[i]!.rts)
      return { body: s.body, type: typeof w, ts: String(w) }
    }),
    'subscriber',
  )

  server.kill('SIGTERM')
  t.is(await server.exited, 0)
  // The disk subscriber commits on shutdown; its archive keeps the u64 exact too.
  const archived = await run(['archive', 'read', '--stream', kStream, '--data-dir', dataDir])
  t.is(archived.code, 0, archived.stderr)
  t.deepEqual(
    archived.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).ts),
    sent.map(jsonTs),
    'archive read',
  )
})
