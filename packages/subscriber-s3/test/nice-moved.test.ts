// The uploader thread's priority is the runtime's per-entry `nice` (s3 declares 10); the old
// `options.workerNice` is refused with a message naming where it went (one source per setting).
import test from 'ava'
import { s3ConfigSchema } from '../src/config.ts'
import sub from '../src/index.ts'

test('s3 runs at nice 10 by default; options.workerNice is refused, naming the entry`s nice', (t) => {
  t.is(sub.nice, 10)
  t.deepEqual(sub.rateLimit, { bytesPerSec: 100_000_000 }, 'and a catch-up rate limit while ingesting')
  const r = s3ConfigSchema.safeParse({ bucket: 'bkt', workerNice: 5 })
  t.false(r.success)
  t.regex(r.error?.issues[0]?.message ?? '', /workerNice moved to the subscriber entry: set `nice`/)
  t.true(s3ConfigSchema.safeParse({ bucket: 'bkt' }).success)
})
