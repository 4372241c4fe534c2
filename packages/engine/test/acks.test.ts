/**
 * Cumulative ACKs when settled frames (NACKs, duplicates) queue behind accepted ones (issue 11.10):
 * the ACK must cover the highest settled seq, whatever order the settlements were queued in.
 */
import { decodeNackOrError, ErrorCode, encodeData, FrameType } from '@module-ingest/protocol'
import { MipSocket } from '@module-ingest/testing'
import anyTest, { type TestFn } from 'ava'
import { startTestServer, type TestServer } from './fixtures/_server.ts'

const test = anyTest as TestFn<TestServer>

test.before(async (t) => {
  t.context = await startTestServer()
})
test.after.always(async (t) => {
  await t.context.stop()
})

const record = (body: string) => ({ stream: 'telemetry.acks', ts: 0, body })
const tenFrames = () => Array.from({ length: 10 }, (_, i) => encodeData(BigInt(i + 1), record(`v${i + 1}`)))

test('10 DATA then a seq-0 DATA: NACK BAD_SEQ for it, and an ACK for 1..10', async (t) => {
  const { sock } = await MipSocket.session(t.context.port, { module: 'sensor-ack0', token: t.context.token })
  // One write: the NACK is settled while 1..10 still wait for durability.
  sock.write(Buffer.concat([...tenFrames(), encodeData(0n, record('zero'))]))
  let acked = 0n
  let nacked = false
  while (acked < 10n) {
    const f = await sock.next()
    if (f.type === FrameType.NACK) {
      t.is(decodeNackOrError(f.payload).code, ErrorCode.BAD_SEQ)
      nacked = true
    } else {
      t.is(f.type, FrameType.ACK)
      t.true(f.seq > acked, 'ACKs only increase')
      acked = f.seq
    }
  }
  t.is(acked, 10n)
  t.true(nacked)
  sock.close()
})

test('10 DATA then a duplicate of seq 3: the ACK reaches 10', async (t) => {
  const { sock } = await MipSocket.session(t.context.port, {
    module: 'sensor-ackdup',
    token: t.context.token,
  })
  sock.write(Buffer.concat([...tenFrames(), encodeData(3n, record('three again'))]))
  t.is(await sock.ackFor(10n), 10n)
  sock.close()
})
