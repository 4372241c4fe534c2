import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import test from 'ava'
import {
  captureLogger,
  collectEmits,
  fast,
  fixture,
  readLines,
  startOn,
  tempDir,
  waitFor,
  writeRecords,
} from './fixtures/_harness.ts'

const calls = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').length - 1 : 0)
const lsns = (n: number) => Array.from({ length: n }, (_, i) => i + 1)

test('a *_FATAL error: state failed with the code, one try per failedRecheckMs, nothing dead-lettered, others unaffected; resume() re-checks', async (t) => {
  const dir = tempDir(t)
  const last = await writeRecords(dir, 40)
  const out = join(dir, 'o.txt')
  const okOut = join(dir, 'ok.txt')
  const callsFile = join(dir, 'calls.txt')
  const fixed = join(dir, 'fixed')
  const logger = captureLogger()
  const { got, emit } = collectEmits()
  const failedCodes: string[] = []
  const rt = await startOn(
    t,
    dir,
    [
      {
        name: 'upload',
        use: fixture('_fatal-plugin.ts'),
        options: { out, fixed, calls: callsFile },
        maxAttempts: 2,
        failedRecheckMs: 400,
        ...fast,
      },
      { name: 'ok', use: fixture('_ok-plugin.ts'), options: { out: okOut }, ...fast },
    ],
    { logger, emit, metrics: { subscriberFailed: (_sub, code) => failedCodes.push(code) } },
  )
  await waitFor('failed', () => rt.stats()[0]!.state === 'failed')
  await waitFor('the healthy subscriber is unaffected', () => readLines(okOut).length >= last)
  await new Promise((r) => setTimeout(r, 1000))
  const [s, ok] = rt.stats()
  t.is(s!.state, 'failed')
  t.is(s!.failure?.code, 'MI_ERR_FIXTURE_BUCKET_FATAL')
  t.regex(s!.failure?.message ?? '', /does not exist/)
  t.is(s!.lastError?.code, 'MI_ERR_FIXTURE_BUCKET_FATAL')
  t.is(s!.deadLettered, 0)
  t.is(s!.retries, 0, 'no attempt spent')
  t.is(s!.nextLsn, 1)
  t.is(ok!.state, 'running')
  // ~1.0–1.5 s failed at one re-check per 400 ms: the first try and a few re-checks (a retry
  // storm at backoff 5–20 ms would be dozens). A loaded host may delay re-checks, never add any.
  const tries = calls(callsFile)
  t.true(tries >= 1 && tries <= 6, `tries while failed: ${tries}`)
  t.is(logger.lines.filter((l) => l.msg === 'SubscriberFailed').length, 1)
  // One metric call per try that came back (one may still be in flight).
  t.true(failedCodes.length === tries || failedCodes.length === tries - 1)
  t.true(failedCodes.every((c) => c === 'MI_ERR_FIXTURE_BUCKET_FATAL'))
  t.is(readLines(out).length, 0)

  // The operator fixes the cause and asks for a re-check now.
  writeFileSync(fixed, '')
  rt.resume('upload')
  await waitFor('delivered after resume', () => readLines(out).length >= last, 10_000)
  await waitFor('running', () => rt.stats()[0]!.state === 'running')
  t.is(rt.stats()[0]!.failure, null)
  t.true(logger.lines.some((l) => l.msg === 'SubscriberRecovered'))
  await rt.close()
  t.deepEqual(
    readLines(out).map((l) => l.lsn),
    lsns(last),
  )
  t.is(got.length, 0, 'nothing dead-lettered')
})

test('a failed subscriber keeps its offset: after a restart with the cause fixed it delivers from there', async (t) => {
  const dir = tempDir(t)
  const last = await writeRecords(dir, 30)
  const out = join(dir, 'o.txt')
  const callsFile = join(dir, 'calls.txt')
  const fixed = join(dir, 'fixed')
  const sub = {
    name: 'upload',
    use: fixture('_fatal-plugin.ts'),
    options: { out, fixed, calls: callsFile },
    failedRecheckMs: 60_000,
    ...fast,
  }
  const { got, emit } = collectEmits()
  const first = await startOn(t, dir, [sub], { emit })
  await waitFor('failed', () => first.stats()[0]!.state === 'failed')
  await first.close()
  t.is(first.stats()[0]!.nextLsn, 1, 'the failed batch is not committed')
  t.is(calls(callsFile), 1, 'one try, then waiting for the re-check')

  writeFileSync(fixed, '')
  const second = await startOn(t, dir, [sub], { emit })
  await waitFor('delivered after restart', () => readLines(out).length >= last)
  await waitFor('lag 0', () => second.stats()[0]!.lagRecords === 0)
  await second.close()
  t.deepEqual(
    readLines(out).map((l) => l.lsn),
    lsns(last),
  )
  t.is(second.stats()[0]!.state, 'closed')
  t.is(got.length, 0)
})
