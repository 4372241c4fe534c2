/**
 * The read APIs' own thread and listener (telemetry.reads, src/reads.ts): a real server with the
 * kv subscriber, writes over MIP/1, reads over HTTP on the reads listener. Read-your-writes
 * through the thread, the metrics listener's 421 pointer, credential reloads followed by the
 * thread, shutdown closing its port, and `reads: false` putting the APIs back on /metrics' port.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { createConnection } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { createOperator, revokeOperator } from '@module-ingest/auth'
import { connect, createKv } from '@module-ingest/client'
import { freePort, startServerProcess } from '@module-ingest/testing'
import test from 'ava'
import { getJson, kvServe, kvSetup } from './_api-server.ts'

/** Poll until `check` holds (credential reloads are debounced file watches). */
async function eventually(check: () => Promise<boolean>, ms = 20_000): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(50))
    if (await check()) return true
  return false
}

const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createConnection({ port, host: '127.0.0.1' })
    s.once('connect', () => {
      s.destroy()
      resolve(false)
    })
    s.once('error', () => resolve(true))
  })

test('reads on their own listener: read-your-writes, 421 pointer on /metrics port, credential reload, shutdown', async (t) => {
  t.timeout(180_000, 'server start on a loaded machine')
  const cleanups: Array<() => unknown> = []
  t.teardown(async () => {
    for (const fn of cleanups.reverse()) await fn()
  })
  const s = await kvSetup((fn) => cleanups.push(fn), 'reads')
  const srv = await kvServe((fn) => cleanups.push(fn), s)
  const client = await connect({ port: srv.port, module: 'dev-1', auth: { token: s.moduleToken } })
  cleanups.push(() => client.close())

  // Read-your-writes, both forms: the ACKed write's (module, seq), then its lsn (minLsn), waited
  // for by the thread (the applied lsn is in the store file).
  const ns = createKv({ client, module: 'dev-1' })('site1')
  const w = await ns.set('door', 'open')
  const bySeq = await getJson(
    srv.api,
    `/kv/v1/get?ns=site1&key=door&module=dev-1&seq=${w.seq}&waitMs=20000`,
    s.reader,
  )
  t.is(bySeq.status, 200)
  t.like(bySeq.body, { type: 'string', value: 'open', write: { ok: true } })
  const lsn = bySeq.body.revision as number
  const w2 = await ns.set('door', 'shut')
  const byLsn = await getJson(
    srv.api,
    `/kv/v1/get?ns=site1&key=door&minLsn=${lsn + 1}&waitMs=20000`,
    s.reader,
  )
  t.is(byLsn.status, 200)
  t.like(byLsn.body, { value: 'shut' })
  t.true(byLsn.body.revision > lsn)
  t.truthy(w2.seq)
  // The fast path (exactly ns and key) through the thread, too.
  t.like((await getJson(srv.api, '/kv/v1/get?ns=site1&key=door', s.reader)).body, { value: 'shut' })

  // The metrics listener points to the reads listener instead of answering.
  const misdirected = await fetch(`${srv.metrics}/kv/v1/get?ns=site1&key=door`, {
    headers: { authorization: `Bearer ${s.reader}` },
  })
  t.is(misdirected.status, 421)
  t.is(misdirected.headers.get('location'), `${srv.api}/kv/v1/get?ns=site1&key=door`)
  t.regex(
    ((await misdirected.json()) as { error: { message: string } }).error.message,
    /telemetry\.reads\.listen/,
  )
  t.is((await fetch(`${srv.metrics}/metrics`)).status, 200, '/metrics stays where it was')
  // The thread's own metrics reach the server's registry (its requests, its event-loop delay).
  t.true(
    await eventually(async () => {
      const text = await (await fetch(`${srv.metrics}/metrics`)).text()
      return (
        /^mi_reads_request_us_count [1-9]/m.test(text) &&
        /^mi_reads_request_cpu_us_count [1-9]/m.test(text) &&
        /^mi_reads_loop_delay_us_count [1-9]/m.test(text)
      )
    }),
  )
  t.is((await fetch(`${srv.api}/metrics`)).status, 404, 'the reads listener serves only the read APIs')

  // The thread (named mi-reads) runs at telemetry.reads.nice, -5 by default, the rest at 0; a
  // server without the right to lower it says so in its log instead.
  if (process.platform === 'linux') {
    const nice = new Map(
      readdirSync(`/proc/${srv.pid}/task`).map((tid) => {
        const base = `/proc/${srv.pid}/task/${tid}`
        const stat = readFileSync(`${base}/stat`, 'utf8')
        return [
          readFileSync(`${base}/comm`, 'utf8').trim(),
          Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]),
        ]
      }),
    )
    t.is(nice.get('MainThread'), 0)
    if (process.getuid?.() === 0) t.is(nice.get('mi-reads'), -5)
    else t.true(nice.get('mi-reads') === -5 || srv.logs().some((l) => l.event === 'ReadsPriorityNotSet'))
  }

  // Credential reloads reach the thread: a new operator is admitted, a revoked one refused.
  const creds = `${s.dataDir}/credentials.yaml`
  const late = (await createOperator(creds, { name: 'late', scopes: ['read:kv.site1'] })).token
  t.true(
    await eventually(
      async () => (await getJson(srv.api, '/kv/v1/get?ns=site1&key=door', late)).status === 200,
    ),
    'an operator added after start reads through the thread',
  )
  await revokeOperator(creds, 'dash')
  t.true(
    await eventually(
      async () => (await getJson(srv.api, '/kv/v1/get?ns=site1&key=door', s.reader)).status === 401,
    ),
    'a revoked operator is refused by the thread',
  )

  // Shutdown closes the thread's listener with the rest.
  await client.close()
  srv.kill('SIGTERM')
  t.is(await srv.exited, 0)
  t.true(await refused(Number(new URL(srv.api).port)))
})

test('telemetry.reads: false serves the read APIs on the metrics listener', async (t) => {
  t.timeout(180_000, 'server start on a loaded machine')
  const cleanups: Array<() => unknown> = []
  t.teardown(async () => {
    for (const fn of cleanups.reverse()) await fn()
  })
  const s = await kvSetup((fn) => cleanups.push(fn), 'reads-off')
  const metricsPort = await freePort()
  const server = await startServerProcess({
    dataDir: s.dataDir,
    config: {
      subscribers: [{ name: 'kv', use: 'kv', streams: ['kv.*'], options: { path: s.storePath } }],
      telemetry: { metrics: { listen: `127.0.0.1:${metricsPort}` }, reads: false },
    },
  })
  cleanups.push(() => {
    server.kill('SIGKILL')
    return server.exited
  })
  const r = await getJson(`http://127.0.0.1:${metricsPort}`, '/kv/v1/status', s.reader)
  t.is(r.status, 200)
  t.false(server.logs.some((l) => l.event === 'ReadsListening'))
})
