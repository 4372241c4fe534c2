/**
 * The index subscriber through a crash: SIGKILL the server while it indexes, restart, and the
 * resumed index's rollups equal a rebuild from the log, row for row.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { setTimeout as sleep } from 'node:timers/promises'
import test from 'ava'
import { get, ingest, kFields, logRecords, serveApi, setup, waitApplied } from './_api-server.ts'
import { runCli } from './_run.ts'

function rollups(path: string): unknown {
  const db = new DatabaseSync(path, { readOnly: true })
  try {
    const q = (sql: string) => db.prepare(sql).all()
    // Rollup chunks: the minute totals and the per-second cells, byte for byte.
    return {
      rollup:
        q(`SELECT n1.name AS stream, n2.name AS module, s.field, r.minute, r.count, r.min, r.max, r.sum, r.last,
               r.last_ts, r.last_lsn, r.max_lsn, hex(r.cells) AS cells
             FROM rollup r JOIN series s ON s.id = r.series JOIN names n1 ON n1.id = s.stream JOIN names n2 ON n2.id = s.module
             ORDER BY 1, 2, 3, 4`),
      // Runs depend on batch boundaries (live batches are not the rebuild's): compare what they cover.
      records: q('SELECT sum(count) AS n, max(last_lsn) AS max FROM record_runs'),
    }
  } finally {
    db.close()
  }
}

test('SIGKILL mid-apply, restart: the index resumes and its rollups equal a rebuild from the log', async (t) => {
  t.timeout(300_000, 'a loaded machine: server start, ingest and indexing are slow')
  // Two worker threads write the index at once (module-sharded lanes): per-module applied lsns.
  const s = await setup((fn) => t.teardown(fn), 'crash', { concurrency: 2 })
  const clients: Array<{ close(): Promise<void> }> = []
  const sending = ingest(s, ['kiln-1', 'kiln-2', 'kiln-3'], 2000, 600, clients)
  // Kill while records are still arriving and being indexed.
  for (let i = 0; i < 300; i++) {
    const r = await get(s, '/index/v1/status').catch(() => undefined)
    if (r?.status === 200 && r.body.appliedLsn > 500) break
    await sleep(20)
  }
  s.server.kill('SIGKILL')
  await s.server.exited
  // The clients would reconnect to the dead port forever: end them, then their sends settle.
  await Promise.all(clients.map((c) => c.close().catch(() => {})))
  await sending.catch(() => {})
  const restarted = await serveApi(
    (fn) => t.teardown(fn),
    s.dataDir,
    {
      subscribers: [
        {
          name: 'idx',
          use: 'index',
          options: { path: s.indexPath, fields: kFields },
          batch: { maxRecords: 200, maxWaitMs: 20 },
          concurrency: 2,
        },
      ],
    },
    { apiPort: Number(new URL(s.api).port) },
  )
  const s2 = { ...s, server: restarted }
  const recs = await logRecords(s.dataDir)
  t.true(recs.length > 0)
  await waitApplied(s2, recs.at(-1)!.lsn)
  restarted.kill('SIGTERM')
  await restarted.exited
  const live = rollups(s.indexPath)

  // Rebuild from the log into the same path (the server is stopped) and compare.
  const config = join(s.dataDir, 'rebuild.json')
  writeFileSync(
    config,
    JSON.stringify({
      dataDir: s.dataDir,
      subscribers: [{ name: 'idx', use: 'index', options: { path: s.indexPath, fields: kFields } }],
    }),
  )
  const r = await runCli(['index', 'rebuild', '--config', config], { timeoutMs: 90_000 })
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, new RegExp(`through lsn ${recs.at(-1)!.lsn}`))
  t.deepEqual(rollups(s.indexPath), live)
  t.deepEqual((live as { records: unknown }).records, [{ n: recs.length, max: recs.at(-1)!.lsn }])
})
