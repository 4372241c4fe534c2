/**
 * The memory model under attack (issue 11.4), against the real `module-ingest serve` process with a
 * small `limits.memoryBudgetBytes`: pre-auth sockets announcing huge frames, pre-auth sockets holding
 * part of a HELLO, authenticated sockets holding part of a large DATA frame, and authenticated
 * sockets that flood PINGs and never read. Meanwhile a well-behaved client sends. Asserted:
 *
 * (a) the server's RSS (sampled every 50 ms, and the kernel's VmHWM) grows by at most the budget
 *     plus a fixed allowance over its RSS after a warm-up (ordinary traffic first touches the fixed
 *     memory: rings, the writer's buffers, worker heaps). Memory, unlike time, is a fair assertion
 *     on a loaded box; the allowance covers V8 heaps growing with the traffic, socket objects and
 *     freed-but-kept pages (+108 to +206 MiB seen at load average 6-25; with deaf clients alone
 *     it levels off near +120 MiB whether there are 8, 16 or 32). The same test against the code
 *     before issue 11's fixes (07e4704, without the budget setting) grew +479 MiB: each oversize
 *     socket's 1 MiB was buffered, and nothing was shed.
 * (b) every record of the well-behaved client is ACKed and stored exactly once;
 * (c) every shed attacker got a coded ERROR (FRAME_TOO_LARGE, OVERLOADED, HANDSHAKE_TIMEOUT), and
 *     the deaf ones, which cannot read theirs, are counted as shed by the server.
 *
 * The longer version with latency numbers is the benchmark scenario `attack-budget`
 * (benchmarks/src/scenarios/attack.ts).
 */
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from '@module-ingest/client'
import { openReader } from '@module-ingest/log'
import { ErrorCode } from '@module-ingest/protocol'
import { adminRequest } from '@module-ingest/telemetry'
import { startAttack, startServerProcess } from '@module-ingest/testing'
import test from 'ava'

const MiB = 1024 * 1024
/** 4 × parsers × maxFrameBytes (1 MiB), for up to 2 parsers: the smallest budget docs/operations.md allows. */
const BUDGET = 8 * MiB
/** RSS the server may add over its idle RSS beyond the budget (see the header). */
const ALLOWANCE = 320 * MiB
const GOOD_RECORDS = 600
const OVERSIZE = 300
const DEAF = 8

function rssKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`${field}:\\s+(\\d+)`))
    return m ? Number(m[1]) : 0
  } catch {
    return 0
  }
}

interface ConnStats {
  connections: { connections: number; shedOutput: number; unsentBytes: number }
}

test('under a memory attack RSS stays within budget + allowance and a good client loses nothing', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'mi-attack-'))
  const server = await startServerProcess({
    dataDir,
    set: {
      subscribers: '[]',
      'limits.memoryBudgetBytes': BUDGET,
      'limits.handshakeTimeoutMs': 3000,
      // The throttle would refuse most attackers at accept (a separate defence, throttle.test.ts):
      // here every attacking socket must get in and hold its memory.
      'limits.failedHandshakesPerMinute': 1_000_000,
    },
  })
  t.teardown(async () => {
    server.kill('SIGKILL')
    await server.exited
    await rm(dataDir, { recursive: true, force: true })
  })
  const token = await server.devToken()
  const stats = async () =>
    (await adminRequest(join(dataDir, 'admin.sock'), 'stats', {}, { timeoutMs: 20_000 })) as ConnStats
  await stats() // the admin socket is up: the server is fully started

  const good = await connect({ port: server.port, module: 'good-1', auth: { token } })
  t.teardown(() => good.close({ timeoutMs: 1000 }).catch(() => {}))
  // Warm-up: ordinary traffic first touches the fixed memory (rings, the writer's buffers, worker
  // heaps), which the idle RSS does not include yet and load does not grow further.
  const warm = Buffer.alloc(60_000, 0x61)
  for (let i = 0; i < 400; i += 16)
    await Promise.all(Array.from({ length: 16 }, () => good.send('telemetry.warm', warm)))
  const idleKiB = rssKiB(server.pid, 'VmRSS')
  let peakKiB = idleKiB
  const sampler = setInterval(() => {
    peakKiB = Math.max(peakKiB, rssKiB(server.pid, 'VmRSS'))
  }, 50)
  t.teardown(() => clearInterval(sampler))

  // Pre-auth and authenticated attackers come from different addresses than the good client.
  const preAuth = startAttack({
    port: server.port,
    token,
    oversize: OVERSIZE,
    oversizeSendBytes: MiB - 1, // all but the last byte: a decoder buffering it would touch it all
    helloPartial: 150,
    localAddresses: ['127.0.0.2', '127.0.0.3'],
  })
  const authed = startAttack({
    port: server.port,
    token,
    partialData: 24,
    deaf: DEAF,
    // More than loopback's kernel buffers absorb (a 4 MiB send buffer at most, and a receive buffer
    // that does not grow while nobody reads): each deaf socket reaches its 1 MiB unsent cap.
    deafBytes: 10 * MiB,
    localAddresses: ['127.0.0.4', '127.0.0.5'],
  })
  t.teardown(() => Promise.all([preAuth.stop(), authed.stop()]))

  // The good client sends throughout, 50 records at a time.
  const bodies: string[] = []
  const sending = (async () => {
    for (let i = 0; i < GOOD_RECORDS; i += 50) {
      const batch = Array.from({ length: 50 }, (_, k) => `good:${i + k}`)
      bodies.push(...batch)
      await Promise.all(batch.map((b) => good.send('telemetry.good', b)))
      await new Promise((r) => setTimeout(r, 100))
    }
  })()
  await Promise.all([preAuth.ready, authed.ready])

  // Deaf sockets are closed by the server either for their unsent output (over their share of the
  // output budget: shedOutput) or, once it has stopped reading them, by the idle timeout; which
  // comes first depends on timing (on a quiet machine often the idle timeout). The shedding itself is
  // pinned by output-budget.test.ts; here: give the shedding a bounded chance, then unsent output
  // must be back within its half of the budget (one socket under its share may stay: the budget is
  // global, not per socket).
  const shedWindow = Date.now() + 8_000
  const deadline = Date.now() + 30_000
  let s = await stats()
  while (
    ((s.connections.shedOutput === 0 && Date.now() < shedWindow) || s.connections.unsentBytes > BUDGET / 2) &&
    Date.now() < deadline
  ) {
    await new Promise((r) => setTimeout(r, 250))
    s = await stats()
  }
  await sending
  // Pre-auth sockets holding part of a HELLO end at the handshake timeout at the latest.
  await new Promise((r) => setTimeout(r, 3500))
  peakKiB = Math.max(peakKiB, rssKiB(server.pid, 'VmRSS'), rssKiB(server.pid, 'VmHWM'))
  clearInterval(sampler)
  await preAuth.stop()
  await authed.stop()
  const outcomes = { ...preAuth.outcomes(), ...pick(authed.outcomes()) }
  t.log(
    `RSS idle ${(idleKiB / 1024).toFixed(0)} MiB, peak ${(peakKiB / 1024).toFixed(0)} MiB ` +
      `(+${((peakKiB - idleKiB) / 1024).toFixed(0)} MiB; bound +${(BUDGET + ALLOWANCE) / MiB} MiB); ` +
      `outcomes ${JSON.stringify(outcomes)}; server ${JSON.stringify(s.connections)}`,
  )

  // (a) memory
  t.true(
    (peakKiB - idleKiB) * 1024 <= BUDGET + ALLOWANCE,
    `RSS grew ${((peakKiB - idleKiB) / 1024).toFixed(0)} MiB under attack`,
  )
  // (c) coded errors
  t.deepEqual(outcomes.oversize, { [ErrorCode.FRAME_TOO_LARGE]: OVERSIZE }, 'oversize pre-auth frames')
  t.deepEqual(
    Object.keys(outcomes.helloPartial).filter(
      (k) => k !== String(ErrorCode.HANDSHAKE_TIMEOUT) && k !== String(ErrorCode.OVERLOADED),
    ),
    [],
    'partial HELLOs end with HANDSHAKE_TIMEOUT or OVERLOADED',
  )
  const partial = outcomes.partialData
  t.true((partial[ErrorCode.OVERLOADED] ?? 0) >= 12, `partial DATA holders shed: ${JSON.stringify(partial)}`)
  // IDLE_TIMEOUT: the unshed holders send nothing more, and a slow box can reach 3 × heartbeat.
  t.deepEqual(
    Object.keys(partial).filter(
      (k) => k !== String(ErrorCode.OVERLOADED) && k !== String(ErrorCode.IDLE_TIMEOUT) && k !== 'open',
    ),
    [],
    'partial DATA holders: OVERLOADED or still served',
  )
  t.true(s.connections.unsentBytes <= BUDGET / 2, 'unsent output back within its budget')

  // (b) the good client: all ACKed (awaited above), stored exactly once.
  t.is(good.stats.acked, GOOD_RECORDS + 400)
  await good.close()
  server.kill('SIGTERM')
  t.is(await server.exited, 0)
  const reader = await openReader(join(dataDir, 'log'))
  const cursor = reader.cursor({ fromLsn: 1 })
  const seen = new Map<string, number>()
  for (;;) {
    const batch = await cursor.read({ maxRecords: 10_000 })
    if (batch.length === 0) break
    for (const r of batch) {
      const b = Buffer.from(r.body).toString()
      if (r.module !== 'good-1' || !b.startsWith('good:')) continue
      seen.set(b, (seen.get(b) ?? 0) + 1)
    }
  }
  await reader.close()
  t.deepEqual(
    bodies.filter((b) => seen.get(b) !== 1),
    [],
    'every good record stored exactly once',
  )
  t.is(seen.size, GOOD_RECORDS)
})

function pick<T extends Record<string, unknown>>(o: T): Pick<T, 'partialData' | 'deaf'> {
  return { partialData: o.partialData, deaf: o.deaf } as Pick<T, 'partialData' | 'deaf'>
}
